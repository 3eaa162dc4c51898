//! Byte copying for tcp_proxy with Envoy's two connection timers: `idle_timeout` (no byte either
//! way for that long closes both sides) and `max_downstream_connection_duration`.

use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

/// Why the copy ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// A side closed (or failed).
    Closed,
    IdleTimeout,
    MaxDuration,
}

/// Bytes moved and the last moment any moved.
#[derive(Debug)]
struct Activity {
    started: Instant,
    /// Milliseconds after `started`.
    last_ms: AtomicU64,
    /// Read from the downstream / written to it.
    rx: AtomicU64,
    tx: AtomicU64,
}

impl Activity {
    fn touch(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_ms.store(ms, Ordering::Relaxed);
    }
}

/// The downstream stream, counting what passes and when.
struct Watched<T> {
    inner: T,
    activity: Arc<Activity>,
}

impl<T: AsyncRead + Unpin> AsyncRead for Watched<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        let n = buf.filled().len() - before;
        if n > 0 {
            self.activity.rx.fetch_add(n as u64, Ordering::Relaxed);
            self.activity.touch();
        }
        r
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for Watched<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if let Poll::Ready(Ok(n)) = &r {
            self.activity.tx.fetch_add(*n as u64, Ordering::Relaxed);
            self.activity.touch();
        }
        r
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Copies both ways until a side closes or a timer fires; returns (bytes from downstream,
/// bytes to downstream, why it ended). Dropping the streams closes both connections.
pub async fn copy<D, U>(
    downstream: D,
    mut upstream: U,
    idle: Option<Duration>,
    max_duration: Option<Duration>,
) -> (u64, u64, Ended)
where
    D: AsyncRead + AsyncWrite + Unpin,
    U: AsyncRead + AsyncWrite + Unpin,
{
    let activity = Arc::new(Activity {
        started: Instant::now(),
        last_ms: AtomicU64::new(0),
        rx: AtomicU64::new(0),
        tx: AtomicU64::new(0),
    });
    let mut down = Watched {
        inner: downstream,
        activity: activity.clone(),
    };
    let idle_watch = async {
        let Some(idle) = idle else {
            return std::future::pending().await;
        };
        loop {
            let last = Duration::from_millis(activity.last_ms.load(Ordering::Relaxed));
            let deadline = activity.started + last + idle;
            if Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep_until(deadline).await;
        }
    };
    let max = async {
        match max_duration {
            Some(d) => tokio::time::sleep(d).await,
            None => std::future::pending().await,
        }
    };
    let ended = tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut down, &mut upstream) => Ended::Closed,
        () = idle_watch => Ended::IdleTimeout,
        () = max => Ended::MaxDuration,
    };
    (
        activity.rx.load(Ordering::Relaxed),
        activity.tx.load(Ordering::Relaxed),
        ended,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn idle_connections_end_and_busy_ones_do_not() {
        let (mut client, down) = tokio::io::duplex(64);
        let (up, mut server) = tokio::io::duplex(64);
        let task = tokio::spawn(copy(down, up, Some(Duration::from_millis(100)), None));
        for _ in 0..3 {
            client.write_all(b"x").await.unwrap();
            let mut b = [0u8; 1];
            server.read_exact(&mut b).await.unwrap();
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        let (rx, tx, ended) = task.await.unwrap();
        assert_eq!((rx, tx, ended), (3, 0, Ended::IdleTimeout));
    }

    #[tokio::test]
    async fn max_duration_ends_a_busy_connection() {
        let (_client, down) = tokio::io::duplex(64);
        let (up, _server) = tokio::io::duplex(64);
        let (_, _, ended) = copy(down, up, None, Some(Duration::from_millis(50))).await;
        assert_eq!(ended, Ended::MaxDuration);
    }
}
