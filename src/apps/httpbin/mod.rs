//! httpbin, as the labs' `citizenstig/httpbin` image answers: the classic Python httpbin's
//! endpoints and JSON shapes (title-cased headers, sorted pretty JSON), except that no request
//! header is ever hidden, so the headers a proxy adds are always visible.
//!
//! [`serve`] runs it on a listener; [`handle`] is the request → response function underneath,
//! usable without sockets.

mod endpoints;
mod multipart;
mod params;
mod pyjson;
mod reply;
mod request;
mod router;
mod routes;
mod server;

pub use router::{MAX_REQUEST_BODY, handle};
pub use server::serve;

/// The response body type of every httpbin answer.
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

#[cfg(test)]
mod tests;
