//! httpbin, as the labs' `citizenstig/httpbin` image answers: the classic Python httpbin's
//! endpoints and JSON shapes (title-cased headers, sorted pretty JSON), except that no request
//! header is ever hidden, so the headers a proxy adds are always visible. [`Flavor::Go`] turns
//! it into `mccutchen/go-httpbin` for the request-inspection endpoints.
//!
//! [`serve`] runs it on a listener; [`handle`] is the request → response function underneath,
//! usable without sockets.

mod endpoints;
mod goshape;
mod multipart;
mod params;
mod pyjson;
mod reply;
mod request;
mod router;
mod routes;
mod server;

pub use router::{MAX_REQUEST_BODY, handle, handle_flavor};
pub use server::{serve, serve_flavor, serve_logged};

/// Which httpbin to be: the answers' JSON shapes differ between implementations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Classic Python httpbin (`citizenstig/httpbin`, `kennethreitz/httpbin`).
    #[default]
    Classic,
    /// `mccutchen/go-httpbin`: for the request-inspection endpoints, Go's shapes (header and
    /// argument values as lists, `method` in `/get`, Go's JSON); other endpoints answer as
    /// classic httpbin does.
    Go,
}

/// The response body type of every httpbin answer.
pub type Body = http_body_util::combinators::BoxBody<bytes::Bytes, std::io::Error>;

#[cfg(test)]
mod tests;
