//! Redirect chains: `/redirect/{n}` (relative, or absolute with `?absolute=true`),
//! `/relative-redirect/{n}`, `/absolute-redirect/{n}` and `/redirect-to?url=`.

use http::{Response, StatusCode};

use super::super::request::Inbound;
use super::super::{Body, params, reply};

/// `/redirect/n`: Flask `redirect()`s (302 with an HTML page) down to `/get`.
pub fn redirect(req: &Inbound, n: u64) -> Response<Body> {
    if n == 0 {
        // httpbin `assert n > 0`.
        return reply::internal_error();
    }
    let absolute =
        params::first(&req.args, "absolute").is_some_and(|v| v.eq_ignore_ascii_case("true"));
    match (n, absolute) {
        (1, false) => reply::redirect("/get"),
        (1, true) => reply::redirect(&absolute_url(req, "/get")),
        (_, false) => reply::redirect(&format!("/relative-redirect/{}", n - 1)),
        (_, true) => reply::redirect(&absolute_url(req, &format!("/absolute-redirect/{}", n - 1))),
    }
}

/// `/relative-redirect/n`: bare 302s with an empty body.
pub fn relative(n: u64) -> Response<Body> {
    match n {
        0 => reply::internal_error(),
        1 => reply::bare_redirect(StatusCode::FOUND, "/get"),
        _ => reply::bare_redirect(StatusCode::FOUND, &format!("/relative-redirect/{}", n - 1)),
    }
}

/// `/absolute-redirect/n`: Flask `redirect()`s to full URLs on the same host.
pub fn absolute(req: &Inbound, n: u64) -> Response<Body> {
    match n {
        0 => reply::internal_error(),
        1 => reply::redirect(&absolute_url(req, "/get")),
        _ => reply::redirect(&absolute_url(req, &format!("/absolute-redirect/{}", n - 1))),
    }
}

/// `/redirect-to?url=…&status_code=3xx`: `Location` is exactly the given URL.
pub fn redirect_to(req: &Inbound) -> Response<Body> {
    // httpbin reads these arguments case-insensitively.
    let arg = |name: &str| {
        req.args
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    };
    let Some(url) = arg("url") else {
        return reply::internal_error();
    };
    let status = match arg("status_code").map(|s| s.trim().parse::<u16>()) {
        None => StatusCode::FOUND,
        Some(Ok(code)) if (300..400).contains(&code) => {
            StatusCode::from_u16(code).unwrap_or(StatusCode::FOUND)
        }
        Some(Ok(_)) => StatusCode::FOUND,
        Some(Err(_)) => return reply::internal_error(),
    };
    reply::bare_redirect(status, url)
}

fn absolute_url(req: &Inbound, path: &str) -> String {
    format!("{}://{}{}", req.scheme(), req.host(), path)
}
