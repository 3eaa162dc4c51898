//! The CORS layer in front of everything (gorilla/handlers v1.4.2's `CORS`, configured from
//! `ALLOWED_ORIGINS`, `ALLOWED_HEADERS`, `ALLOW_CREDENTIALS`). Without an `Origin` header a
//! request passes untouched — except `OPTIONS`, which gorilla answers `200` with no body.

use http::StatusCode;

use super::gofmt::canonical_header;

/// gorilla's defaults: always-allowed methods and request headers.
const DEFAULT_METHODS: [&str; 3] = ["GET", "HEAD", "POST"];
const DEFAULT_HEADERS: [&str; 4] = ["Accept", "Accept-Language", "Content-Language", "Origin"];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cors {
    /// Empty means any origin; `["*"]` too, but answered with `*`.
    origins: Vec<String>,
    headers: Vec<String>,
    credentials: bool,
}

/// What the layer does with a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// Call fake-service, adding these response headers.
    Pass(Vec<(&'static str, String)>),
    /// Answer here with this status, these headers and no body.
    Answer(StatusCode, Vec<(&'static str, String)>),
}

impl Cors {
    /// `main.go` passes `AllowedOrigins`/`AllowedHeaders` only when the variable is not empty.
    pub fn new(origins: &str, headers: &str, credentials: bool) -> Cors {
        let mut origins: Vec<String> = if origins.is_empty() {
            Vec::new()
        } else {
            origins.split(',').map(str::to_owned).collect()
        };
        if origins.iter().any(|o| o == "*") {
            origins = vec!["*".to_owned()];
        }
        let mut allowed: Vec<String> = DEFAULT_HEADERS.iter().map(|h| (*h).to_owned()).collect();
        for header in headers.split(',').filter(|_| !headers.is_empty()) {
            let header = canonical_header(header.trim());
            if !header.is_empty() && !allowed.contains(&header) {
                allowed.push(header);
            }
        }
        Cors {
            origins,
            headers: allowed,
            credentials,
        }
    }

    /// `cors.ServeHTTP` for a request with this method, `Origin`,
    /// `Access-Control-Request-Method` and `Access-Control-Request-Headers`.
    pub fn decide(
        &self,
        method: &str,
        origin: Option<&str>,
        request_method: Option<&str>,
        request_headers: Option<&str>,
    ) -> Decision {
        let preflight = method == "OPTIONS";
        let origin = origin.unwrap_or("");
        if !self.origin_allowed(origin) {
            return if preflight {
                Decision::Answer(StatusCode::OK, Vec::new())
            } else {
                Decision::Pass(Vec::new())
            };
        }
        let mut headers = Vec::new();
        if preflight {
            let Some(request_method) = request_method else {
                return Decision::Answer(StatusCode::BAD_REQUEST, Vec::new());
            };
            if !DEFAULT_METHODS.contains(&request_method) {
                return Decision::Answer(StatusCode::METHOD_NOT_ALLOWED, Vec::new());
            }
            let mut asked = Vec::new();
            for header in request_headers.unwrap_or("").split(',') {
                let header = canonical_header(header.trim());
                if header.is_empty() || DEFAULT_HEADERS.contains(&header.as_str()) {
                    continue;
                }
                if !self.headers.contains(&header) {
                    return Decision::Answer(StatusCode::FORBIDDEN, Vec::new());
                }
                asked.push(header);
            }
            if !asked.is_empty() {
                headers.push(("Access-Control-Allow-Headers", asked.join(",")));
            }
        }
        if self.credentials {
            headers.push(("Access-Control-Allow-Credentials", "true".to_owned()));
        }
        if self.origins.len() > 1 {
            headers.push(("Vary", "Origin".to_owned()));
        }
        let any = self.origins.is_empty() || self.origins.iter().any(|o| o == "*");
        let allow = if any { "*" } else { origin };
        headers.push(("Access-Control-Allow-Origin", allow.to_owned()));
        // Go writes a handler's own headers sorted by name.
        headers.sort_by(|a, b| a.0.cmp(b.0));
        if preflight {
            Decision::Answer(StatusCode::OK, headers)
        } else {
            Decision::Pass(headers)
        }
    }

    fn origin_allowed(&self, origin: &str) -> bool {
        !origin.is_empty()
            && (self.origins.is_empty() || self.origins.iter().any(|o| o == origin || o == "*"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> Cors {
        Cors::new(
            "*",
            "Accept,Accept-Language,Content-Language,Origin,Content-Type",
            false,
        )
    }

    #[test]
    fn no_origin_passes_untouched() {
        assert_eq!(
            defaults().decide("GET", None, None, None),
            Decision::Pass(vec![])
        );
        assert_eq!(
            defaults().decide("OPTIONS", None, None, None),
            Decision::Answer(StatusCode::OK, vec![])
        );
    }

    #[test]
    fn any_origin_gets_a_star() {
        let star = ("Access-Control-Allow-Origin", "*".to_owned());
        assert_eq!(
            defaults().decide("GET", Some("http://a.io"), None, None),
            Decision::Pass(vec![star.clone()])
        );
        assert_eq!(
            defaults().decide(
                "OPTIONS",
                Some("http://a.io"),
                Some("POST"),
                Some("content-type, x-custom")
            ),
            Decision::Answer(StatusCode::FORBIDDEN, vec![])
        );
        assert_eq!(
            defaults().decide(
                "OPTIONS",
                Some("http://a.io"),
                Some("POST"),
                Some("content-type")
            ),
            Decision::Answer(
                StatusCode::OK,
                vec![
                    ("Access-Control-Allow-Headers", "Content-Type".to_owned()),
                    star
                ]
            )
        );
        assert_eq!(
            defaults().decide("OPTIONS", Some("http://a.io"), None, None),
            Decision::Answer(StatusCode::BAD_REQUEST, vec![])
        );
        assert_eq!(
            defaults().decide("OPTIONS", Some("http://a.io"), Some("PUT"), None),
            Decision::Answer(StatusCode::METHOD_NOT_ALLOWED, vec![])
        );
    }

    #[test]
    fn listed_origins_are_echoed_with_vary() {
        let cors = Cors::new("http://a.io,http://b.io", "", true);
        assert_eq!(
            cors.decide("GET", Some("http://b.io"), None, None),
            Decision::Pass(vec![
                ("Access-Control-Allow-Credentials", "true".to_owned()),
                ("Access-Control-Allow-Origin", "http://b.io".to_owned()),
                ("Vary", "Origin".to_owned()),
            ])
        );
        assert_eq!(
            cors.decide("GET", Some("http://c.io"), None, None),
            Decision::Pass(vec![])
        );
    }
}
