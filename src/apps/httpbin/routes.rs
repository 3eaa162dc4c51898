//! The URL map: which path is which endpoint and which methods it takes, with Werkzeug's
//! converters (`<int:n>` is digits only, other segments are non-empty and slash-free).

use http::Method;

/// A matched endpoint with the values its path carried.
#[derive(Debug, Clone, PartialEq)]
pub enum Endpoint<'a> {
    Index,
    Headers,
    Get,
    /// `/post`, `/put`, `/patch`, `/delete`.
    WithBody,
    Anything,
    Ip,
    Uuid,
    UserAgent,
    Status(&'a str),
    Delay(&'a str),
    Bytes(u64),
    Stream(u64),
    Redirect(u64),
    RelativeRedirect(u64),
    AbsoluteRedirect(u64),
    RedirectTo,
    Cookies,
    CookiesSet,
    CookieSetPath(&'a str, &'a str),
    CookiesDelete,
    ResponseHeaders,
}

/// The methods a route accepts (HEAD comes with GET, OPTIONS is answered for all, as in Flask).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allow {
    Get,
    Only(&'static Method),
    GetPost,
    /// httpbin's list for `/status`, `/delay`, `/redirect-to`.
    Verbs,
    Any,
}

const VERBS: &[Method] = &[
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::DELETE,
    Method::PATCH,
    Method::TRACE,
];

impl Allow {
    pub fn permits(self, method: &Method) -> bool {
        let listed: &[Method] = match self {
            Allow::Any => return true,
            Allow::Get => &[Method::GET],
            Allow::Only(m) => std::slice::from_ref(m),
            Allow::GetPost => &[Method::GET, Method::POST],
            Allow::Verbs => VERBS,
        };
        listed.contains(method) || (method == Method::HEAD && listed.contains(&Method::GET))
    }

    /// The `Allow` header value.
    pub fn header(self) -> String {
        let listed: Vec<&str> = match self {
            Allow::Get => vec!["GET"],
            Allow::Only(m) => vec![m.as_str()],
            Allow::GetPost => vec!["GET", "POST"],
            Allow::Verbs | Allow::Any => VERBS.iter().map(Method::as_str).collect(),
        };
        let mut all = listed.clone();
        if listed.contains(&"GET") {
            all.push("HEAD");
        }
        all.push("OPTIONS");
        all.join(", ")
    }
}

/// Matches a percent-decoded path; `None` is a 404.
pub fn route(path: &str) -> Option<(Endpoint<'_>, Allow)> {
    use Endpoint as E;
    let rest = path.strip_prefix('/')?;
    let segments: Vec<&str> = rest.split('/').collect();
    let found = match segments.as_slice() {
        [""] => (E::Index, Allow::Get),
        ["headers"] => (E::Headers, Allow::Get),
        ["get"] => (E::Get, Allow::Get),
        ["post"] => (E::WithBody, Allow::Only(&Method::POST)),
        ["put"] => (E::WithBody, Allow::Only(&Method::PUT)),
        ["patch"] => (E::WithBody, Allow::Only(&Method::PATCH)),
        ["delete"] => (E::WithBody, Allow::Only(&Method::DELETE)),
        ["anything", ..] => (E::Anything, Allow::Any),
        ["ip"] => (E::Ip, Allow::Get),
        ["uuid"] => (E::Uuid, Allow::Get),
        ["user-agent"] => (E::UserAgent, Allow::Get),
        ["status", codes] if !codes.is_empty() => (E::Status(codes), Allow::Verbs),
        ["delay", seconds] if !seconds.is_empty() => (E::Delay(seconds), Allow::Verbs),
        ["bytes", n] => (E::Bytes(int(n)?), Allow::Get),
        ["stream", n] => (E::Stream(int(n)?), Allow::Get),
        ["redirect", n] => (E::Redirect(int(n)?), Allow::Get),
        ["relative-redirect", n] => (E::RelativeRedirect(int(n)?), Allow::Get),
        ["absolute-redirect", n] => (E::AbsoluteRedirect(int(n)?), Allow::Get),
        ["redirect-to"] => (E::RedirectTo, Allow::Verbs),
        ["response-headers"] => (E::ResponseHeaders, Allow::GetPost),
        ["cookies"] => (E::Cookies, Allow::Get),
        ["cookies", "set"] => (E::CookiesSet, Allow::Get),
        ["cookies", "set", name, value] if !name.is_empty() && !value.is_empty() => {
            (E::CookieSetPath(name, value), Allow::Get)
        }
        ["cookies", "delete"] => (E::CookiesDelete, Allow::Get),
        _ => return None,
    };
    Some(found)
}

/// Werkzeug's `<int:n>`: ASCII digits only; Python's big integers saturate here, since every
/// caller caps the number anyway.
fn int(segment: &str) -> Option<u64> {
    if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(segment.parse().unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_paths_and_converters() {
        assert_eq!(route("/"), Some((Endpoint::Index, Allow::Get)));
        assert_eq!(
            route("/anything/a/b").map(|r| r.0),
            Some(Endpoint::Anything)
        );
        assert_eq!(
            route("/status/200,500").map(|r| r.0),
            Some(Endpoint::Status("200,500"))
        );
        assert_eq!(
            route("/bytes/99999999999999999999999").map(|r| r.0),
            Some(Endpoint::Bytes(u64::MAX))
        );
        assert_eq!(route("/stream/3").map(|r| r.0), Some(Endpoint::Stream(3)));
        for missing in [
            "",
            "/nope",
            "/get/",
            "/status/",
            "/bytes/-1",
            "/bytes/x",
            "/stream/1.5",
            "/headers/x",
        ] {
            assert_eq!(route(missing), None, "{missing:?}");
        }
    }

    #[test]
    fn methods_follow_httpbin() {
        assert!(Allow::Get.permits(&Method::HEAD));
        assert!(!Allow::Get.permits(&Method::POST));
        assert!(Allow::Only(&Method::POST).permits(&Method::POST));
        assert!(!Allow::Only(&Method::POST).permits(&Method::GET));
        assert!(Allow::Verbs.permits(&Method::TRACE));
        assert!(Allow::Any.permits(&Method::from_bytes(b"PROPFIND").unwrap()));
        assert_eq!(Allow::Get.header(), "GET, HEAD, OPTIONS");
        assert_eq!(Allow::Only(&Method::POST).header(), "POST, OPTIONS");
    }
}
