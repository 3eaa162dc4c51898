//! catalog, as the book's `istioinaction/catalog` image answers: a Node json-server/Express app
//! (`services/catalog/server.js` in istioinaction/book-source-code) serving four items on
//! port 3000, `POST /items`, the `SHOW_IMAGE` v2 variant and the `/blowup` fault API, with the
//! original's headers, JSON layout, log lines and quirks.
//!
//! [`serve`] runs it on a listener; [`handle`] is the request → response function underneath.

mod blowup;
mod body;
mod etag;
mod express;
mod items;
mod js;
mod morgan;
mod router;
mod routes;

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, MutexGuard};

use rand::RngExt;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

pub use items::IMAGE_URL;
pub use router::handle;

use crate::apps::Log;
use crate::apps::serve::serve_http1;

/// The port `server.js` listens on, whatever the manifest declares.
pub const PORT: u16 = 3000;

/// `Math.random()`: a number in `0..1`.
pub type Random = Arc<dyn Fn() -> f64 + Send + Sync>;

/// json-server's home page, served for `/` by its static middleware.
const INDEX_PAGE: &str = "<html>\n<head>\n  <title>JSON Server</title>\n</head>\n<body>\n  \
<h3>JSON Server</h3>\n  <h4>Congrats!</h4>\n  <p>You're successfully running JSON Server</p>\n  \
<p>This catalog answers <a href=\"/items\">/items</a>, <code>/items/:id</code> and \
<code>/blowup</code>.</p>\n</body>\n</html>\n";

/// One running catalog: its items and faults, and where its stdout goes.
pub struct Catalog {
    state: Mutex<items::State>,
    show_image: bool,
    log: Log,
    random: Random,
}

impl Catalog {
    /// A fresh catalog for a container with this environment (`SHOW_IMAGE` set and non-empty
    /// turns on image URLs, as `if (process.env.SHOW_IMAGE)` does).
    pub fn new(env: &BTreeMap<String, String>, log: Log) -> Catalog {
        Catalog {
            state: Mutex::new(items::State::default()),
            show_image: env.get("SHOW_IMAGE").is_some_and(|v| !v.is_empty()),
            log,
            random: Arc::new(|| rand::rng().random_range(0.0..1.0)),
        }
    }

    /// Replaces `Math.random()` (tests make the faults deterministic with it).
    pub fn with_random(mut self, random: Random) -> Catalog {
        self.random = random;
        self
    }

    pub fn show_image(&self) -> bool {
        self.show_image
    }

    fn state(&self) -> MutexGuard<'_, items::State> {
        // A panic while holding the lock leaves plain data behind: keep serving it.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn random(&self) -> f64 {
        (self.random)()
    }

    fn log(&self, line: &str) {
        (self.log)(line);
    }
}

/// Prints the original's start-up line, then serves HTTP/1.1 until `shutdown`.
pub async fn serve(
    listener: TcpListener,
    catalog: Arc<Catalog>,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    catalog.log("JSON Server is running");
    let handler = move |req, peer| {
        let catalog = catalog.clone();
        async move { handle(req, &catalog, peer).await }
    };
    serve_http1("catalog", listener, handler, shutdown).await
}

#[cfg(test)]
mod tests;
