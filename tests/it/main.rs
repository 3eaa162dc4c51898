//! One integration-test binary (ripgrep's layout): `mod` per area, shared helpers in `util`.

// Test code may unwrap: a panic is a failed test with its line number.
#![allow(clippy::unwrap_used)]

mod analyze;
mod apps;
mod certs;
mod cli;
mod egress;
mod envoy;
mod envoy_files;
mod golden_xds;
mod h2util;
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
mod protocols;
mod protocols_mesh;
mod resilience;
mod routing;
mod samples;
mod sandbox;
mod tls;
mod tlsclient;
mod tracing;
mod traffic;
mod tui;
mod util;
