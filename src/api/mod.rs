//! User-facing resources (Kubernetes, Istio, Gateway API): types, multi-document YAML decoding
//! with source locations, and validation. Imports nothing of ours.
//!
//! - [`kinds`]: every kind the sandbox knows, and kubectl-like name resolution.
//! - [`decode()`]: manifest text → [`Decoded`] resources, or every [`Diagnostic`] found.
//! - [`Resource`]: typed objects for the kinds mesh acts on ([`k8s`], [`istio`]),
//!   [`Unstructured`] for the rest; `to_value`/`from_value` for storage.
//! - [`schema`]: the embedded CRD and Kubernetes schemas and their strict validator.

pub mod base64;
pub mod decode;
pub mod diag;
pub mod duration;
pub mod istio;
pub mod k8s;
pub mod kinds;
pub mod meta;
mod names;
mod resource;
pub mod schema;
pub mod suggest;
pub mod tree;

#[cfg(test)]
mod tests;

pub use decode::{Decoded, decode};
pub use diag::{Diagnostic, Diagnostics};
pub use duration::parse_duration;
pub use kinds::{KindInfo, UnknownKind};
pub use meta::{LabelSelector, ObjectMeta, TypeMeta};
pub use resource::{Resource, ResourceKey, Unstructured};
