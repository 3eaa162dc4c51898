//! details (`details.rb`, Ruby WEBrick): `/health` and `/details/<id>` with the book's fixed
//! details as Ruby's `to_json` writes them (compact, insertion order).

use http::{Request, Response, StatusCode};
use serde_json::json;

use super::json;
use crate::apps::serve::Body;

pub fn handle(request: &Request<bytes::Bytes>) -> Response<Body> {
    let path = request.uri().path();
    if path == "/health" || path.starts_with("/health/") {
        return json(StatusCode::OK, r#"{"status":"Details is healthy"}"#);
    }
    // WEBrick's `mount_proc '/details'` takes the path and everything under it.
    if path == "/details" || path.starts_with("/details/") {
        let last = path.rsplit('/').next().unwrap_or("");
        return match parse_ruby_integer(last) {
            Some(id) => json(StatusCode::OK, book(id).to_string()),
            None => json(
                StatusCode::BAD_REQUEST,
                r#"{"error":"please provide numeric product id"}"#,
            ),
        };
    }
    not_found(path)
}

/// The details `get_book_details` returns when the external book service is off.
fn book(id: i64) -> serde_json::Value {
    json!({
        "id": id,
        "author": "William Shakespeare",
        "year": 1595,
        "type": "paperback",
        "pages": 200,
        "publisher": "PublisherA",
        "language": "English",
        "ISBN-10": "1234567890",
        "ISBN-13": "123-1234567890"
    })
}

/// Ruby's `Integer(text)`: an optional sign and digits (underscores between digits allowed).
fn parse_ruby_integer(text: &str) -> Option<i64> {
    let trimmed = text.trim();
    let digits = trimmed.trim_start_matches(['+', '-']);
    if digits.is_empty()
        || digits.starts_with('_')
        || digits.ends_with('_')
        || digits.contains("__")
    {
        return None;
    }
    trimmed.replace('_', "").parse().ok()
}

/// WEBrick's 404 page.
fn not_found(path: &str) -> Response<Body> {
    let escaped = path
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    let page = format!(
        "<!DOCTYPE HTML PUBLIC \"-//W3C//DTD HTML 4.0//EN\">\n<HTML>\n  <HEAD><TITLE>Not Found</TITLE></HEAD>\n  <BODY>\n    <H1>Not Found</H1>\n    `{escaped}' not found.\n    <HR>\n    <ADDRESS>\n     WEBrick/1.8.1 (Ruby/3.3.0)\n    </ADDRESS>\n  </BODY>\n</HTML>\n"
    );
    super::text(StatusCode::NOT_FOUND, "text/html; charset=ISO-8859-1", page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ruby_integers() {
        assert_eq!(parse_ruby_integer("0"), Some(0));
        assert_eq!(parse_ruby_integer("-12"), Some(-12));
        assert_eq!(parse_ruby_integer("1_000"), Some(1000));
        assert_eq!(parse_ruby_integer("abc"), None);
        assert_eq!(parse_ruby_integer(""), None);
        assert_eq!(parse_ruby_integer("12abc"), None);
    }
}
