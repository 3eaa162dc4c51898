//! The two access-log lines the real catalog prints per request: its own morgan format
//! (`:method :host :url :status :res[content-length] - :response-time ms`) and json-server's
//! `morgan('dev')` (colour codes included, as `kubectl logs` shows them). A missing token is `-`.

use std::time::Duration;

/// What morgan knows when the response is finished.
#[derive(Debug, Clone, Default)]
pub struct Entry<'a> {
    pub method: &'a str,
    /// The `Host` request header.
    pub host: Option<&'a str>,
    /// `req.originalUrl`: path and query as sent.
    pub url: &'a str,
    /// `None` when no response was written (a dropped connection).
    pub status: Option<u16>,
    pub content_length: Option<&'a str>,
    /// Time until the response headers were written.
    pub response_time: Option<Duration>,
}

impl Entry<'_> {
    fn response_time(&self) -> String {
        self.response_time.map_or_else(
            || "-".to_owned(),
            |t| format!("{:.3}", t.as_secs_f64() * 1000.0),
        )
    }

    fn status(&self) -> String {
        self.status
            .map_or_else(|| "-".to_owned(), |s| s.to_string())
    }
}

/// `server.js`'s own format: `GET catalog.istioinaction:80 /items 200 502 - 1.234 ms`.
pub fn custom(entry: &Entry) -> String {
    format!(
        "{} {} {} {} {} - {} ms",
        entry.method,
        entry.host.unwrap_or("-"),
        entry.url,
        entry.status(),
        entry.content_length.unwrap_or("-"),
        entry.response_time()
    )
}

/// `morgan('dev')`: `GET /items 200 1.234 ms - 502`, the status coloured by class.
pub fn dev(entry: &Entry) -> String {
    let color = match entry.status {
        Some(500..) => 31,
        Some(400..) => 33,
        Some(300..) => 36,
        Some(200..) => 32,
        _ => 0,
    };
    format!(
        "\x1b[0m{} {} \x1b[{color}m{}\x1b[0m {} ms - {}\x1b[0m",
        entry.method,
        entry.url,
        entry.status(),
        entry.response_time(),
        entry.content_length.unwrap_or("-")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats() {
        let entry = Entry {
            method: "GET",
            host: Some("catalog.istioinaction:80"),
            url: "/items?x=1",
            status: Some(200),
            content_length: Some("502"),
            response_time: Some(Duration::from_micros(1234)),
        };
        assert_eq!(
            custom(&entry),
            "GET catalog.istioinaction:80 /items?x=1 200 502 - 1.234 ms"
        );
        assert_eq!(
            dev(&entry),
            "\x1b[0mGET /items?x=1 \x1b[32m200\x1b[0m 1.234 ms - 502\x1b[0m"
        );
        let dropped = Entry {
            method: "GET",
            url: "/items",
            ..Entry::default()
        };
        assert_eq!(custom(&dropped), "GET - /items - - - - ms");
        assert_eq!(
            dev(&dropped),
            "\x1b[0mGET /items \x1b[0m-\x1b[0m - ms - -\x1b[0m"
        );
    }
}
