//! Envoy's stream idle timeout (HCM `stream_idle_timeout`, default 5 min; a route's
//! `idle_timeout` overrides it): a stream with no activity for that long ends. While the proxy
//! waits for the response headers the router turns it into a `504 stream timeout` (flag SI);
//! once the response has started, [`IdleBody`] resets the stream when no frame arrives in time.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body as HttpBody, Frame, SizeHint};

use super::super::stats::Counter;
use super::body::{Body, BoxError};

/// Envoy's default `stream_idle_timeout`.
pub const DEFAULT: Duration = Duration::from_secs(300);

/// The timeout for a request: the route's `idle_timeout` if it has one, else the connection
/// manager's; zero turns it off.
pub fn effective(hcm: Option<Duration>, route: Option<Duration>) -> Option<Duration> {
    route.or(hcm).or(Some(DEFAULT)).filter(|d| !d.is_zero())
}

/// The error a response body ends with when it idles too long.
#[derive(Debug, thiserror::Error)]
#[error("stream idle timeout")]
pub struct StreamIdleTimeout;

/// A response body whose every frame re-arms the idle timer. The timer is only made when the
/// body first stalls, so bodies that flow through at once cost no timer.
pub struct IdleBody {
    inner: Body,
    idle: Duration,
    last: tokio::time::Instant,
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    fired: Counter,
}

impl IdleBody {
    pub fn wrap(inner: Body, idle: Duration, fired: Counter) -> IdleBody {
        IdleBody {
            inner,
            idle,
            last: tokio::time::Instant::now(),
            timer: None,
            fired,
        }
    }
}

impl HttpBody for IdleBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match Pin::new(&mut self.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                self.last = tokio::time::Instant::now();
                let next = self.last + self.idle;
                if let Some(t) = self.timer.as_mut() {
                    t.as_mut().reset(next);
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Pending => {
                let deadline = self.last + self.idle;
                let timer = self
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    self.fired.inc();
                    return Poll::Ready(Some(Err(Box::new(StreamIdleTimeout))));
                }
                Poll::Pending
            }
            other => other,
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

use std::future::Future as _;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn route_over_manager_over_default() {
        let s = Duration::from_secs;
        assert_eq!(effective(None, None), Some(DEFAULT));
        assert_eq!(effective(Some(s(10)), None), Some(s(10)));
        assert_eq!(effective(Some(s(10)), Some(s(2))), Some(s(2)));
        assert_eq!(effective(Some(s(10)), Some(s(0))), None);
        assert_eq!(effective(Some(s(0)), None), None);
    }
}
