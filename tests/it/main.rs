//! One integration-test binary (ripgrep's layout): `mod` per area, shared helpers in `util`.

// Test code may unwrap: a panic is a failed test with its line number.
#![allow(clippy::unwrap_used)]

mod apps;
mod certs;
mod cli;
mod egress;
mod envoy;
mod golden_xds;
mod http_filters;
mod httpbin;
mod kubectl;
mod lab4;
mod lab4_l4;
mod lab4_ops;
mod lab4_tls;
mod labs;
mod mesh_filters;
mod metrics;
mod mtls;
mod resilience;
mod routing;
mod sandbox;
mod tls;
mod tlsclient;
mod tracing;
mod traffic;
mod util;
