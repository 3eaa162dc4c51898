//! Body types for requests and responses flowing through the proxy, and a wrapper that reports
//! how a body ended (bytes, completion, error or drop) — for stats, access logs, pool reuse and
//! timeouts that span the whole response.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::BodyExt;
use http_body_util::combinators::UnsyncBoxBody;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The one body type inside the proxy.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

pub fn empty() -> Body {
    http_body_util::Empty::new()
        .map_err(|e| match e {})
        .boxed_unsync()
}

pub fn full(bytes: impl Into<Bytes>) -> Body {
    http_body_util::Full::new(bytes.into())
        .map_err(|e| match e {})
        .boxed_unsync()
}

/// Any hyper body as ours.
pub fn boxed<B>(b: B) -> Body
where
    B: HttpBody<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    b.map_err(Into::into).boxed_unsync()
}

/// How a body ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// Every frame was read.
    Complete,
    /// The inner body failed (e.g. the upstream reset mid-body).
    Error,
    /// Dropped before the end (e.g. the downstream client went away).
    Dropped,
    /// The deadline passed before the end.
    TimedOut,
}

type OnEnd = Box<dyn FnOnce(End, u64) + Send>;

/// Wraps a body: counts data bytes, optionally enforces a deadline, and calls `on_end` once.
pub struct Observed<B: HttpBody = Body> {
    inner: B,
    bytes: u64,
    on_end: Option<OnEnd>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<B: HttpBody> Observed<B> {
    pub fn new(inner: B, on_end: impl FnOnce(End, u64) + Send + 'static) -> Observed<B> {
        Observed {
            inner,
            bytes: 0,
            on_end: Some(Box::new(on_end)),
            deadline: None,
        }
    }

    /// Fails the body with a timeout error at `at` unless it has ended.
    pub fn with_deadline(self, at: tokio::time::Instant) -> Observed<B> {
        self.with_sleep(Box::pin(tokio::time::sleep_until(at)))
    }

    /// Like [`Observed::with_deadline`], reusing a timer already armed (one timer per request).
    pub fn with_sleep(mut self, sleep: Pin<Box<tokio::time::Sleep>>) -> Observed<B> {
        self.deadline = Some(sleep);
        self
    }

    fn finish(&mut self, end: End) {
        if let Some(f) = self.on_end.take() {
            f(end, self.bytes);
        }
    }
}

/// The error a body reports when its deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("upstream request timeout")]
pub struct BodyTimeout;

impl<B: HttpBody<Data = Bytes> + Unpin> Observed<B> {
    fn poll_observed(
        &mut self,
        cx: &mut Context<'_>,
        into_box: fn(B::Error) -> BoxError,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        // Data that is already here still flows; the deadline only ends a body that stalls.
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    self.bytes += data.len() as u64;
                }
                if self.inner.is_end_stream() {
                    self.finish(End::Complete);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => {
                self.finish(End::Error);
                Poll::Ready(Some(Err(into_box(e))))
            }
            Poll::Ready(None) => {
                self.finish(End::Complete);
                Poll::Ready(None)
            }
            Poll::Pending => {
                if let Some(d) = self.deadline.as_mut()
                    && d.as_mut().poll(cx).is_ready()
                {
                    self.deadline = None;
                    self.finish(End::TimedOut);
                    return Poll::Ready(Some(Err(Box::new(BodyTimeout))));
                }
                Poll::Pending
            }
        }
    }
}

/// The two bodies the proxy observes: its own (downstream) and hyper's (upstream).
macro_rules! observed_body {
    ($inner:ty, $into_box:expr) => {
        impl HttpBody for Observed<$inner> {
            type Data = Bytes;
            type Error = BoxError;

            fn poll_frame(
                mut self: Pin<&mut Self>,
                cx: &mut Context<'_>,
            ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
                self.poll_observed(cx, $into_box)
            }

            fn is_end_stream(&self) -> bool {
                self.inner.is_end_stream()
            }

            fn size_hint(&self) -> SizeHint {
                self.inner.size_hint()
            }
        }
    };
}

observed_body!(Body, |e| e);
observed_body!(hyper::body::Incoming, |e| Box::new(e));

impl<B: HttpBody> Drop for Observed<B> {
    fn drop(&mut self) {
        if self.on_end.is_some() {
            let end = if self.inner.is_end_stream() {
                End::Complete
            } else {
                End::Dropped
            };
            self.finish(end);
        }
    }
}

use std::future::Future as _;

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    #[tokio::test]
    async fn reports_completion_with_byte_count() {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let body = Observed::new(full("hello"), move |end, n| {
            *s.lock().unwrap() = Some((end, n))
        });
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"hello");
        assert_eq!(*seen.lock().unwrap(), Some((End::Complete, 5)));
    }

    #[tokio::test]
    async fn reports_drop_before_the_end() {
        let seen = Arc::new(Mutex::new(None));
        let s = seen.clone();
        let body = Observed::new(pending(), move |end, n| *s.lock().unwrap() = Some((end, n)));
        drop(body);
        assert_eq!(*seen.lock().unwrap(), Some((End::Dropped, 0)));
    }

    #[tokio::test]
    async fn deadline_fails_the_body() {
        let body = Observed::new(pending(), |_, _| {})
            .with_deadline(tokio::time::Instant::now() + std::time::Duration::from_millis(20));
        let err = body.collect().await.err().unwrap();
        assert!(err.is::<BodyTimeout>());
    }

    /// A body that never ends.
    struct Pending;
    impl HttpBody for Pending {
        type Data = Bytes;
        type Error = BoxError;
        fn poll_frame(
            self: Pin<&mut Self>,
            _cx: &mut Context<'_>,
        ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
            Poll::Pending
        }
    }
    fn pending() -> Body {
        Pending.boxed_unsync()
    }
}
