//! Generated answers: `/delay/{seconds}`, `/bytes/{n}`, `/stream/{n}`.

use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Response, StatusCode};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::Frame;
use rand::{Rng, RngExt, SeedableRng};
use serde_json::Value;

use super::super::request::{Field, Inbound};
use super::super::{Body, pyjson, reply};
use super::inspect::GET_FIELDS;

/// httpbin never waits longer than this, whatever the path says.
pub const MAX_DELAY: Duration = Duration::from_secs(10);
/// `/bytes` answers at most 100 KiB, as httpbin does.
pub const MAX_BYTES: u64 = 100 * 1024;
/// `/stream` sends at most 100 lines, as httpbin does.
pub const MAX_LINES: u64 = 100;

const DELAY_FIELDS: &[Field] = &[
    Field::Url,
    Field::Args,
    Field::Form,
    Field::Data,
    Field::Origin,
    Field::Headers,
    Field::Files,
];

/// `"0.5"` → 500 ms, capped at [`MAX_DELAY`]. `None` for what Python's `float()` or
/// `time.sleep()` would have refused (text, negative, NaN).
pub fn delay_duration(seconds: &str) -> Option<Duration> {
    let seconds: f64 = seconds.trim().parse().ok()?;
    if seconds.is_nan() || seconds < 0.0 {
        return None;
    }
    Some(Duration::from_secs_f64(
        seconds.min(MAX_DELAY.as_secs_f64()),
    ))
}

pub async fn delay(req: &Inbound, seconds: &str) -> Response<Body> {
    let Some(wait) = delay_duration(seconds) else {
        return reply::internal_error();
    };
    tokio::time::sleep(wait).await;
    reply::json(&Value::Object(req.dict(DELAY_FIELDS)))
}

/// `n` random bytes (at most [`MAX_BYTES`]); `?seed=N` makes them repeatable.
pub fn bytes(req: &Inbound, n: u64) -> Response<Body> {
    let n = n.min(MAX_BYTES) as usize;
    let mut data = vec![0u8; n];
    match super::super::params::first(&req.args, "seed") {
        Some(seed) => match seed.trim().parse::<i64>() {
            Ok(seed) => rand::rngs::StdRng::seed_from_u64(seed as u64).fill_bytes(&mut data),
            Err(_) => return reply::internal_error(),
        },
        None => rand::rng().fill(&mut data[..]),
    }
    reply::with_body(StatusCode::OK, Some("application/octet-stream"), data)
}

/// `n` lines of `/get`'s JSON plus an `id`, one chunk each (chunked transfer encoding).
pub fn stream(req: &Inbound, n: u64) -> Response<Body> {
    let base = req.dict(GET_FIELDS);
    let lines: Vec<Result<Frame<Bytes>, std::io::Error>> = (0..n.min(MAX_LINES))
        .map(|id| {
            let mut line = base.clone();
            line.insert("id".to_owned(), Value::from(id));
            let mut text = pyjson::compact(&Value::Object(line));
            text.push('\n');
            Ok(Frame::data(Bytes::from(text)))
        })
        .collect();
    let body = StreamBody::new(stream::iter(lines)).boxed();
    let mut response = Response::new(body);
    reply::set(&mut response, http::header::CONTENT_TYPE, reply::JSON);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delay_accepts_fractions_and_caps_at_ten_seconds() {
        assert_eq!(delay_duration("0.5"), Some(Duration::from_millis(500)));
        assert_eq!(delay_duration("2"), Some(Duration::from_secs(2)));
        assert_eq!(delay_duration("3600"), Some(MAX_DELAY));
        assert_eq!(delay_duration("inf"), Some(MAX_DELAY));
        assert_eq!(delay_duration("0"), Some(Duration::ZERO));
    }

    #[test]
    fn delay_refuses_what_python_refused() {
        for bad in ["abc", "-1", "NaN", ""] {
            assert_eq!(delay_duration(bad), None, "{bad:?}");
        }
    }
}
