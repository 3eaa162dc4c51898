//! Answers as Go's net/http writes them for a handler that calls `Write` once: the handler's
//! own headers (sorted), then `Date`, `Content-Length` and the sniffed `Content-Type`, in that
//! order. A body too big for the response buffer (2 KiB on HTTP/1.1, 4 KiB on HTTP/2) goes
//! out chunked, without `Content-Length`.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Response, StatusCode, Version};
use http_body_util::BodyExt;
use hyper::body::{Frame, SizeHint};
use time::OffsetDateTime;
use time::macros::format_description;

use crate::apps::serve::Body;

/// `http.DetectContentType` of every text body fake-service writes.
pub const TEXT: &str = "text/plain; charset=utf-8";

/// `Write(body)` after `WriteHeader(status)`, with `headers` set by the handler.
pub fn go(
    status: StatusCode,
    mut headers: Vec<(&'static str, String)>,
    body: Bytes,
    version: Version,
) -> Response<Body> {
    let no_body = status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED;
    let body = if no_body { Bytes::new() } else { body };
    headers.sort_by(|a, b| a.0.cmp(b.0));
    let sniff = !body.is_empty() && !headers.iter().any(|(n, _)| *n == "Content-Type");
    let buffered = if version == Version::HTTP_2 {
        4096
    } else {
        2048
    };
    let mut builder = Response::builder().status(status);
    for (name, value) in &headers {
        builder = builder.header(*name, value);
    }
    builder = builder.header("Date", http_date(OffsetDateTime::now_utc()));
    let whole = body.len() <= buffered;
    if whole && !no_body {
        builder = builder.header("Content-Length", body.len());
    }
    if sniff {
        builder = builder.header("Content-Type", TEXT);
    }
    let body: Body = if whole {
        crate::apps::serve::full(body)
    } else {
        Unsized(Some(body)).boxed()
    };
    builder
        .body(body)
        .unwrap_or_else(|_| Response::new(crate::apps::serve::full(Bytes::new())))
}

/// `http.NotFound`: `404 page not found`.
pub fn not_found(extra: Vec<(&'static str, String)>, version: Version) -> Response<Body> {
    let mut headers = extra;
    headers.push(("Content-Type", TEXT.to_owned()));
    headers.push(("X-Content-Type-Options", "nosniff".to_owned()));
    go(
        StatusCode::NOT_FOUND,
        headers,
        Bytes::from_static(b"404 page not found\n"),
        version,
    )
}

/// `Date: Thu, 03 Sep 2020 14:47:55 GMT`.
pub fn http_date(at: OffsetDateTime) -> String {
    at.format(format_description!(
        "[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT"
    ))
    .unwrap_or_default()
}

/// One chunk with no length announced, so hyper frames it as Go does a flushed write.
struct Unsized(Option<Bytes>);

impl hyper::body::Body for Unsized {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, io::Error>>> {
        Poll::Ready(self.0.take().map(|data| Ok(Frame::data(data))))
    }

    fn is_end_stream(&self) -> bool {
        self.0.is_none()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    fn names(r: &Response<Body>) -> Vec<&str> {
        r.headers().keys().map(|k| k.as_str()).collect()
    }

    #[test]
    fn headers_come_in_gos_order() {
        let r = go(
            StatusCode::OK,
            vec![("Access-Control-Allow-Origin", "*".into())],
            Bytes::from_static(b"{}\n"),
            Version::HTTP_11,
        );
        assert_eq!(
            names(&r),
            [
                "access-control-allow-origin",
                "date",
                "content-length",
                "content-type"
            ]
        );
        assert_eq!(r.headers()["content-type"], TEXT);
        assert_eq!(r.headers()["content-length"], "3");
    }

    #[test]
    fn big_bodies_are_chunked_and_empty_ones_unsniffed() {
        let big = Bytes::from(vec![b'a'; 2049]);
        let r = go(StatusCode::OK, vec![], big.clone(), Version::HTTP_11);
        assert!(!r.headers().contains_key("content-length"));
        let r = go(StatusCode::OK, vec![], big, Version::HTTP_2);
        assert_eq!(r.headers()["content-length"], "2049");
        let r = go(
            StatusCode::BAD_REQUEST,
            vec![],
            Bytes::new(),
            Version::HTTP_11,
        );
        assert_eq!(names(&r), ["date", "content-length"]);
        let r = not_found(vec![], Version::HTTP_11);
        assert_eq!(
            names(&r),
            [
                "content-type",
                "x-content-type-options",
                "date",
                "content-length"
            ]
        );
    }

    #[test]
    fn dates_are_imf_fixdate() {
        assert_eq!(
            http_date(datetime!(2020-09-03 14:47:55 UTC)),
            "Thu, 03 Sep 2020 14:47:55 GMT"
        );
    }
}
