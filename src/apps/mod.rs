//! The sample apps the labs call: httpbin (classic and go-httpbin flavours), the book's catalog
//! and webapp, tcp-echo, fake-service, grpcbin (gRPC over h2c), Istio's own samples (bookinfo,
//! helloworld, tcp-echo-server, fortio), and a do-nothing client. Each app is a request handler plus a `serve`
//! loop; [`registry`] maps a container image to the app and starts it in a pod.
//! May import only `net`.

pub mod bookinfo;
pub mod catalog;
pub mod fake_service;
pub mod files;
pub mod fortio;
pub mod grpc;
pub mod grpcbin;
pub mod helloworld;
pub mod httpbin;
pub mod jsontext;
pub mod registry;
pub mod serve;
pub mod tcp_echo;
pub mod tcp_echo_server;
pub mod webapp;

/// A container's stdout: one call per line, without the trailing newline.
pub type Log = std::sync::Arc<dyn Fn(&str) + Send + Sync>;
