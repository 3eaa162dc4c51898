//! productpage (`productpage.py`, Flask under gunicorn): `/productpage` calls details and
//! reviews (3 s each, reviews tried twice) and renders the page; `/api/v1/products…` give the
//! JSON; `/login` and `/logout` keep the user in Flask's `session` cookie, and every call
//! carries `end-user: <user>` plus the propagated tracing headers (B3 re-injected from the
//! incoming `x-b3-*` or `b3`, as its OpenTelemetry propagator does).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::header::{self, HeaderName, HeaderValue};
use http::{HeaderMap, Method, Request, Response, StatusCode};
use serde_json::{Value, json};

use super::call::{self, Upstream};
use super::page::{self, View};
use super::pyjson::dumps;
use crate::apps::serve::Body;
use crate::net::dial::Dialer;

/// `requests.get(url, timeout=3.0)`.
const CALL_TIMEOUT: Duration = Duration::from_secs(3);

/// python-requests' `User-Agent` (replaced by the caller's when it sent one).
const USER_AGENT: &str = "python-requests/2.32.3";

/// The incoming headers productpage forwards as they are.
const PROPAGATE: &[&str] = &[
    "x-request-id",
    "x-ot-span-context",
    "x-datadog-trace-id",
    "x-datadog-parent-id",
    "x-datadog-sampling-priority",
    "traceparent",
    "tracestate",
    "x-cloud-trace-context",
    "grpc-trace-bin",
    "sw8",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

const DESCRIPTION: &str = "<a href=\"https://en.wikipedia.org/wiki/The_Comedy_of_Errors\">Wikipedia Summary</a>: The Comedy of Errors is one of <b>William Shakespeare's</b> early plays. It is his shortest and one of his most farcical comedies, with a major part of the humour coming from slapstick and mistaken identity, in addition to puns and word play.";

/// (destination_app, response_code) → (count, created).
type Results = BTreeMap<(&'static str, u16), (u64, f64)>;

pub struct Productpage {
    /// prometheus_client's `request_result` counter: (destination_app, response_code) →
    /// (count, created as Unix seconds).
    results: std::sync::Mutex<Results>,
    details: Upstream,
    reviews: Upstream,
    ratings: Upstream,
    dialer: Arc<dyn Dialer>,
}

impl Productpage {
    pub fn new(env: &BTreeMap<String, String>, dialer: Arc<dyn Dialer>) -> Productpage {
        Productpage {
            results: std::sync::Mutex::new(BTreeMap::new()),
            details: Upstream::from_env(env, "details", "DETAILS"),
            reviews: Upstream::from_env(env, "reviews", "REVIEWS"),
            ratings: Upstream::from_env(env, "ratings", "RATINGS"),
            dialer,
        }
    }

    pub async fn handle(&self, request: Request<bytes::Bytes>) -> Response<Body> {
        let path = request.uri().path().to_owned();
        let method = request.method().clone();
        let user = session_user(request.headers());
        match (method, path.as_str()) {
            (Method::GET, "/" | "/index.html") => html(StatusCode::OK, index_page()),
            (Method::GET, "/health") => html(StatusCode::OK, "Product page is healthy".to_owned()),
            (Method::POST, "/login") => {
                let name = form_value(request.body(), "username").unwrap_or_default();
                redirect_back(request.headers(), Some(&name))
            }
            (Method::GET, "/logout") => redirect_back(request.headers(), None),
            (Method::GET, "/productpage") => self.front(request.headers(), user.as_deref()).await,
            (Method::GET, "/metrics") => self.metrics(),
            (Method::GET, "/api/v1/products") => {
                api(StatusCode::OK, &Value::Array(vec![product()]))
            }
            (Method::GET, path) if path.starts_with("/api/v1/products/") => {
                let rest = &path["/api/v1/products/".len()..];
                let headers = forward_headers(request.headers(), user.as_deref());
                let (status, body) = match rest.split_once('/') {
                    None => self.details(rest, &headers).await,
                    Some((id, "reviews")) => self.reviews(id, &headers).await,
                    Some((id, "ratings")) => self.ratings(id, &headers).await,
                    Some(_) => return not_found(),
                };
                api(status, &body)
            }
            (_, "/login" | "/logout" | "/productpage" | "/" | "/index.html" | "/health") => {
                method_not_allowed()
            }
            _ => not_found(),
        }
    }

    async fn front(&self, incoming: &HeaderMap, user: Option<&str>) -> Response<Body> {
        let headers = forward_headers(incoming, user);
        let (details_status, details) = self.details("0", &headers).await;
        let (reviews_status, reviews) = self.reviews("0", &headers).await;
        let product = product();
        let view = View {
            user: user.unwrap_or(""),
            product: &product,
            details_status: details_status.as_u16(),
            details: &details,
            reviews_status: reviews_status.as_u16(),
            reviews: &reviews,
        };
        html(StatusCode::OK, page::render(&view))
    }

    async fn details(
        &self,
        id: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> (StatusCode, Value) {
        let answer = self
            .fetch(&self.details, &format!("/details/{id}"), headers)
            .await;
        let result = ok_or(
            answer,
            "Sorry, product details are currently unavailable for this book.",
        );
        self.count("details", result.0);
        result
    }

    /// Two tries, as `getProductReviews`.
    async fn reviews(
        &self,
        id: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> (StatusCode, Value) {
        let path = format!("/reviews/{id}");
        let mut last = None;
        for _ in 0..2 {
            let answer = self.fetch(&self.reviews, &path, headers).await;
            if let Some((StatusCode::OK, Some(body))) = &answer {
                self.count("reviews", StatusCode::OK);
                return (StatusCode::OK, body.clone());
            }
            last = answer;
        }
        let result = ok_or(
            last,
            "Sorry, product reviews are currently unavailable for this book.",
        );
        self.count("reviews", result.0);
        result
    }

    async fn ratings(
        &self,
        id: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> (StatusCode, Value) {
        let answer = self
            .fetch(&self.ratings, &format!("/ratings/{id}"), headers)
            .await;
        let result = ok_or(
            answer,
            "Sorry, product ratings are currently unavailable for this book.",
        );
        self.count("ratings", result.0);
        result
    }

    fn count(&self, app: &'static str, status: StatusCode) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64());
        if let Ok(mut results) = self.results.lock() {
            results.entry((app, status.as_u16())).or_insert((0, now)).0 += 1;
        }
    }

    /// `/metrics`: prometheus_client's text exposition of `request_result`.
    fn metrics(&self) -> Response<Body> {
        let mut text = String::from(
            "# HELP request_result_total Results of requests\n# TYPE request_result_total counter\n",
        );
        let results = self.results.lock().map(|r| r.clone()).unwrap_or_default();
        for ((app, code), (n, _)) in &results {
            text.push_str(&format!(
                "request_result_total{{destination_app=\"{app}\",response_code=\"{code}\"}} {n}.0\n"
            ));
        }
        text.push_str(
            "# HELP request_result_created Results of requests\n# TYPE request_result_created gauge\n",
        );
        for ((app, code), (_, created)) in &results {
            text.push_str(&format!(
                "request_result_created{{destination_app=\"{app}\",response_code=\"{code}\"}} {}\n",
                go_float(*created)
            ));
        }
        super::text(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            text,
        )
    }

    /// The status and, when it parses, the JSON body; `None` when there was no answer.
    async fn fetch(
        &self,
        upstream: &Upstream,
        path: &str,
        headers: &[(HeaderName, HeaderValue)],
    ) -> Option<(StatusCode, Option<Value>)> {
        let answer = upstream
            .get(&*self.dialer, path, headers, USER_AGENT, CALL_TIMEOUT)
            .await;
        match answer {
            Ok(answer) => Some((answer.status, serde_json::from_slice(&answer.body).ok())),
            Err(err) => {
                tracing::debug!("productpage: {err}");
                None
            }
        }
    }
}

/// prometheus_client's `floatToGoString`: Python's repr, with large values in Go's exponent
/// form (`1.7321e+09`).
fn go_float(value: f64) -> String {
    let repr = format!("{value:?}");
    match repr.find('.') {
        Some(dot) if value > 0.0 && dot > 6 => {
            let digits = format!("{}{}", &repr[1..dot], &repr[dot + 1..]);
            let mantissa = format!("{}.{digits}", &repr[..1]);
            let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
            format!("{mantissa}e+0{}", dot - 1)
        }
        _ => repr,
    }
}

/// A 200 with JSON, or the status (500 without an answer) and the error text.
fn ok_or(answer: Option<(StatusCode, Option<Value>)>, error: &str) -> (StatusCode, Value) {
    match answer {
        Some((StatusCode::OK, Some(body))) => (StatusCode::OK, body),
        Some((status, _)) => (status, json!({"error": error})),
        None => (StatusCode::INTERNAL_SERVER_ERROR, json!({"error": error})),
    }
}

fn product() -> Value {
    json!({"id": 0, "title": "The Comedy of Errors", "descriptionHtml": DESCRIPTION})
}

/// `getForwardHeaders`: B3 from the incoming trace context, `end-user`, then the list.
fn forward_headers(incoming: &HeaderMap, user: Option<&str>) -> Vec<(HeaderName, HeaderValue)> {
    let mut out = Vec::new();
    if let Some((trace, span, sampled)) = b3_context(incoming) {
        let mut push = |name: &'static str, value: String| {
            if let Ok(value) = HeaderValue::from_str(&value) {
                out.push((HeaderName::from_static(name), value));
            }
        };
        push("x-b3-traceid", trace);
        push("x-b3-spanid", span);
        if let Some(sampled) = sampled {
            push("x-b3-sampled", sampled.to_owned());
        }
    }
    if let Some(user) = user.filter(|u| !u.is_empty())
        && let Ok(value) = HeaderValue::from_str(user)
    {
        out.push((HeaderName::from_static("end-user"), value));
    }
    out.extend(call::pick(incoming, PROPAGATE));
    out
}

/// (trace id, span id, sampled) from the single `b3` header or the `x-b3-*` ones.
fn b3_context(headers: &HeaderMap) -> Option<(String, String, Option<&'static str>)> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let sampled_flag = |s: &str| match s {
        "1" | "d" | "true" => Some("1"),
        "0" | "false" => Some("0"),
        _ => None,
    };
    if let Some(single) = text("b3") {
        let mut parts = single.split('-');
        let (trace, span) = (parts.next()?, parts.next()?);
        let sampled = parts.next().and_then(sampled_flag);
        return Some((trace.to_owned(), span.to_owned(), sampled));
    }
    let trace = text("x-b3-traceid")?;
    let span = text("x-b3-spanid")?;
    let sampled = match text("x-b3-flags") {
        Some("1") => Some("1"),
        _ => text("x-b3-sampled").and_then(sampled_flag),
    };
    Some((trace.to_owned(), span.to_owned(), sampled))
}

/// The user in Flask's `session` cookie (its payload is base64url JSON before the first `.`).
fn session_user(headers: &HeaderMap) -> Option<String> {
    let cookie = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("session="))?;
    let payload = cookie.split('.').next()?;
    let decoded = URL_SAFE_NO_PAD.decode(payload).ok()?;
    let value: Value = serde_json::from_slice(&decoded).ok()?;
    value["user"].as_str().map(str::to_owned)
}

/// A session cookie holding `user`, or one that clears the session.
fn session_cookie(user: Option<&str>) -> String {
    match user {
        Some(user) => {
            let payload = URL_SAFE_NO_PAD.encode(json!({"user": user}).to_string());
            format!("session={payload}; HttpOnly; Path=/")
        }
        None => "session=; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=0; HttpOnly; Path=/"
            .to_owned(),
    }
}

/// Flask's `redirect(request.referrer)` with the session updated.
fn redirect_back(headers: &HeaderMap, user: Option<&str>) -> Response<Body> {
    let location = headers
        .get(header::REFERER)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("/productpage")
        .to_owned();
    let body = format!(
        "<!doctype html>\n<html lang=en>\n<title>Redirecting...</title>\n<h1>Redirecting...</h1>\n<p>You should be redirected automatically to the target URL: <a href=\"{0}\">{0}</a>. If not, click the link.\n",
        page::escape(&location)
    );
    let mut response = html(StatusCode::FOUND, body);
    let headers = response.headers_mut();
    if let Ok(value) = HeaderValue::from_str(&location) {
        headers.insert(header::LOCATION, value);
    }
    if let Ok(value) = HeaderValue::from_str(&session_cookie(user)) {
        headers.insert(header::SET_COOKIE, value);
    }
    headers.insert(header::VARY, HeaderValue::from_static("Cookie"));
    response
}

/// A form field from an `application/x-www-form-urlencoded` body.
fn form_value(body: &[u8], name: &str) -> Option<String> {
    let text = std::str::from_utf8(body).ok()?;
    text.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (decode_form(key) == name).then(|| decode_form(value))
    })
}

fn decode_form(text: &str) -> String {
    let bytes = text.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(hi), Some(lo)) => {
                    out.push(u8::try_from(hi * 16 + lo).unwrap_or(b'?'));
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn html(status: StatusCode, body: String) -> Response<Body> {
    super::text(status, "text/html; charset=utf-8", body)
}

fn api(status: StatusCode, value: &Value) -> Response<Body> {
    super::json(status, dumps(value))
}

fn not_found() -> Response<Body> {
    html(
        StatusCode::NOT_FOUND,
        "<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n<p>The requested URL was not found on the server. If you entered the URL manually please check your spelling and try again.</p>\n".to_owned(),
    )
}

fn method_not_allowed() -> Response<Body> {
    html(
        StatusCode::METHOD_NOT_ALLOWED,
        "<!doctype html>\n<html lang=en>\n<title>405 Method Not Allowed</title>\n<h1>Method Not Allowed</h1>\n<p>The method is not allowed for the requested URL.</p>\n".to_owned(),
    )
}

/// The landing page: the two ways in, as `index.html` offers them.
fn index_page() -> String {
    "<meta charset=\"utf-8\">\n<title>Simple Bookstore App</title>\n<h3>Hello! This is a simple bookstore application consisting of three services as shown below</h3>\n<table class=\"table table-condensed table-bordered table-hover\"><tr><th>name</th><td>http://details:9080</td></tr><tr><th>endpoint</th><td>details</td></tr><tr><th>children</th><td>details, reviews (ratings)</td></tr></table>\n<p><h4>Click on one of the links below to auto generate a request to the backend as a real user or a tester</h4></p>\n<p><a href=\"/productpage?u=normal\">Normal user</a></p>\n<p><a href=\"/productpage?u=test\">Test user</a></p>\n".to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_round_trip() {
        let cookie = session_cookie(Some("jason"));
        let value = cookie.split(';').next().unwrap();
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        assert_eq!(session_user(&headers).as_deref(), Some("jason"));
    }

    #[test]
    fn floats_as_prometheus_client_prints_them() {
        assert_eq!(go_float(1732100000.5), "1.7321000005e+09");
        assert_eq!(go_float(1.0), "1.0");
    }

    #[test]
    fn forms_decode() {
        assert_eq!(
            form_value(b"username=jason&passwd=x", "username").as_deref(),
            Some("jason")
        );
        assert_eq!(
            form_value(b"username=a+b%21", "username").as_deref(),
            Some("a b!")
        );
    }

    #[test]
    fn b3_is_reinjected_and_end_user_added() {
        let mut headers = HeaderMap::new();
        headers.insert(
            "b3",
            HeaderValue::from_static("80f198ee56343ba8-e457b5a2e4d86bd1-1"),
        );
        headers.insert("x-request-id", HeaderValue::from_static("abc"));
        let out = forward_headers(&headers, Some("jason"));
        let names: Vec<&str> = out.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            [
                "x-b3-traceid",
                "x-b3-spanid",
                "x-b3-sampled",
                "end-user",
                "x-request-id"
            ]
        );
    }
}
