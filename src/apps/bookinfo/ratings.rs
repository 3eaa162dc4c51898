//! ratings (`ratings.js`, Node with httpdispatcher): `GET/POST /ratings/<id>`, `/health`, the
//! in-memory ratings of `SERVICE_VERSION=v1` (the image's default) and the fault variants
//! `v-faulty` (half the answers 503) and `v-delayed` (half delayed 7 s). It logs
//! `METHOD URL` per request, as `handleRequest` does.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::json;
use crate::apps::Log;
use crate::apps::serve::Body;

/// How long `v-delayed` holds half its answers.
const DELAYED_BY: Duration = Duration::from_secs(7);

pub struct Ratings {
    version: String,
    user_added: Mutex<BTreeMap<i64, Value>>,
    log: Log,
}

impl Ratings {
    pub fn new(env: &BTreeMap<String, String>, log: Log) -> Ratings {
        Ratings {
            version: env
                .get("SERVICE_VERSION")
                .cloned()
                .unwrap_or_else(|| "v1".to_owned()),
            user_added: Mutex::new(BTreeMap::new()),
            log,
        }
    }

    pub async fn handle(&self, request: &Request<bytes::Bytes>) -> Response<Body> {
        let target = request.uri().path_and_query().map_or("/", |p| p.as_str());
        (self.log)(&format!("{} {target}", request.method()));
        let path = request.uri().path();
        let method = request.method();
        if path.starts_with("/ratings/") && (method == Method::GET || method == Method::POST) {
            let Some(id) = parse_int(target.rsplit('/').next().unwrap_or("")) else {
                return json(
                    StatusCode::BAD_REQUEST,
                    r#"{"error":"please provide numeric product ID"}"#,
                );
            };
            return if method == Method::POST {
                self.post(id, request.body())
            } else {
                self.get(id).await
            };
        }
        if path == "/health" && method == Method::GET {
            return json(StatusCode::OK, r#"{"status":"Ratings is healthy"}"#);
        }
        // httpdispatcher's answer when no listener matches.
        super::text(StatusCode::NOT_FOUND, "text/plain", "Page Not Found")
    }

    fn post(&self, id: i64, body: &[u8]) -> Response<Body> {
        let Ok(ratings) = serde_json::from_slice::<Value>(body) else {
            return json(
                StatusCode::BAD_REQUEST,
                r#"{"error":"please provide valid ratings JSON"}"#,
            );
        };
        if self.version == "v2" {
            return json(
                StatusCode::NOT_IMPLEMENTED,
                r#"{"error":"Post not implemented for database backed ratings"}"#,
            );
        }
        let stored = json!({"id": id, "ratings": ratings});
        if let Ok(mut added) = self.user_added.lock() {
            added.insert(id, stored.clone());
        }
        json(StatusCode::OK, stored.to_string())
    }

    async fn get(&self, id: i64) -> Response<Body> {
        match self.version.as_str() {
            "v-faulty" if rand::random::<bool>() => return unavailable(),
            "v-delayed" if rand::random::<bool>() => tokio::time::sleep(DELAYED_BY).await,
            _ => {}
        }
        let stored = self
            .user_added
            .lock()
            .ok()
            .and_then(|added| added.get(&id).cloned());
        let ratings = stored
            .unwrap_or_else(|| json!({"id": id, "ratings": {"Reviewer1": 5, "Reviewer2": 4}}));
        json(StatusCode::OK, ratings.to_string())
    }
}

fn unavailable() -> Response<Body> {
    json(
        StatusCode::SERVICE_UNAVAILABLE,
        r#"{"error":"Service unavailable"}"#,
    )
}

/// JavaScript's `parseInt(text)`: leading blanks, a sign, then as many digits as there are.
fn parse_int(text: &str) -> Option<i64> {
    let text = text.trim_start();
    let (sign, rest) = match text.strip_prefix('-') {
        Some(rest) => (-1, rest),
        None => (1, text.strip_prefix('+').unwrap_or(text)),
    };
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse::<i64>().ok().map(|n| sign * n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_int_like_javascript() {
        assert_eq!(parse_int("0"), Some(0));
        assert_eq!(parse_int("12abc"), Some(12));
        assert_eq!(parse_int("abc"), None);
        assert_eq!(parse_int(""), None);
    }
}
