//! User-facing resources (Kubernetes, Istio, Gateway API): types, multi-document YAML decoding
//! with source locations, and validation. Imports nothing of ours.

pub mod base64;
pub mod diag;
pub mod duration;
pub mod kinds;
pub mod schema;
mod suggest;
pub mod tree;
