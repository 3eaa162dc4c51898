//! HTTP: the connection manager, routing, the router filter and what they share.

pub mod body;
pub mod filters;
pub mod grpc_status;
pub mod hash_policy;
pub mod hcm;
pub mod headers;
pub mod local_reply;
pub mod matcher;
pub mod mirror;
pub mod retry;
pub mod route;
pub mod router;
pub mod sniff;
pub mod stream_idle;
pub mod upgrade;
pub mod upstream_h2;
