//! The sample apps the labs call (httpbin, and later catalog, webapp, tcp-echo, fake-service).
//! Each app is a request handler plus a `serve` loop, so the sandbox can run it in a pod later.
//! May import only `net`.

pub mod httpbin;
