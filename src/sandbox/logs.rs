//! Container logs: what a container wrote to stdout/stderr, kept (bounded) for `mesh logs` and
//! streamed to followers (`mesh logs -f`).

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Lines kept per container (older ones are dropped, like a rotated log).
const KEEP: usize = 10_000;

#[derive(Debug)]
pub struct ContainerLog {
    lines: Mutex<VecDeque<String>>,
    tx: broadcast::Sender<String>,
}

impl Default for ContainerLog {
    fn default() -> Self {
        ContainerLog {
            lines: Mutex::new(VecDeque::new()),
            tx: broadcast::channel(1024).0,
        }
    }
}

impl ContainerLog {
    pub fn new() -> Arc<ContainerLog> {
        Arc::new(ContainerLog::default())
    }

    /// Appends text; it may hold several lines (a trailing newline is optional).
    pub fn write(&self, text: &str) {
        for line in text.strip_suffix('\n').unwrap_or(text).split('\n') {
            if let Ok(mut lines) = self.lines.lock() {
                if lines.len() == KEEP {
                    lines.pop_front();
                }
                lines.push_back(line.to_owned());
            }
            let _ = self.tx.send(line.to_owned());
        }
    }

    /// The last `tail` lines (all when `None`).
    pub fn lines(&self, tail: Option<usize>) -> Vec<String> {
        let Ok(lines) = self.lines.lock() else {
            return Vec::new();
        };
        let skip = tail.map(|t| lines.len().saturating_sub(t)).unwrap_or(0);
        lines.iter().skip(skip).cloned().collect()
    }

    /// New lines from now on.
    pub fn follow(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    /// A callback that writes here, for apps and proxies.
    pub fn sink(self: &Arc<Self>) -> Arc<dyn Fn(&str) + Send + Sync> {
        let me = self.clone();
        Arc::new(move |s: &str| me.write(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_tails_and_follows() {
        let log = ContainerLog::new();
        let mut rx = log.follow();
        log.write("a\nb\n");
        log.write("c");
        assert_eq!(log.lines(None), ["a", "b", "c"]);
        assert_eq!(log.lines(Some(2)), ["b", "c"]);
        assert_eq!(rx.recv().await.unwrap(), "a");
    }
}
