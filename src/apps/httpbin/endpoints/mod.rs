//! One file per family of httpbin endpoints; each function turns an [`Inbound`] request into a
//! response and does no I/O beyond sleeping.
//!
//! [`Inbound`]: super::request::Inbound

pub mod cookies;
pub mod dynamic;
pub mod index;
pub mod inspect;
pub mod redirect;
pub mod response_headers;
pub mod status;
