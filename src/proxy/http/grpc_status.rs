//! The `grpc-status` of a streamed gRPC response, which arrives in its trailers (Istio's
//! `grpc_response_status` label reads it there; trailers-only answers carry it in the headers).

use std::pin::Pin;
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::body::{Body, BoxError};

/// Passes a body through, noting the `grpc-status` trailer.
pub struct TrailerStatus {
    inner: Body,
    seen: Arc<OnceLock<String>>,
}

impl TrailerStatus {
    pub fn new(inner: Body, seen: Arc<OnceLock<String>>) -> TrailerStatus {
        TrailerStatus { inner, seen }
    }
}

impl HttpBody for TrailerStatus {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        if let Poll::Ready(Some(Ok(frame))) = &polled
            && let Some(status) = frame
                .trailers_ref()
                .and_then(|t| t.get("grpc-status"))
                .and_then(|v| v.to_str().ok())
        {
            let _ = self.seen.set(status.to_owned());
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    #[tokio::test]
    async fn notes_the_trailer() {
        let mut t = http::HeaderMap::new();
        t.insert("grpc-status", "0".parse().unwrap());
        let frames = vec![
            Ok::<_, BoxError>(Frame::data(Bytes::from_static(b"x"))),
            Ok(Frame::trailers(t)),
        ];
        let inner =
            http_body_util::StreamBody::new(futures_util::stream::iter(frames)).boxed_unsync();
        let seen = Arc::new(OnceLock::new());
        let body = TrailerStatus::new(inner, seen.clone());
        body.collect().await.unwrap();
        assert_eq!(seen.get().map(String::as_str), Some("0"));
    }
}
