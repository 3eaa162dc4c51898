//! `/status/{codes}`: one code, or a comma list with optional weights (`200:0.9,503:0.1`) drawn
//! at random, answered with the bodies and headers httpbin attached to special codes.

use http::{HeaderName, Response, StatusCode, header};
use rand::RngExt;
use serde_json::json;

use super::super::Body;
use super::super::pyjson;
use super::super::reply;

/// Where httpbin sends every redirect status.
const REDIRECT_LOCATION: &str = "/redirect/1";

/// httpbin's 418 body.
pub const TEAPOT: &str = r#"
    -=[ teapot ]=-

       _...._
     .'  _ _ `.
    | ."` ^ `". _,
    \_;`"---"`|//
      |       ;/
      \_     _/
        `"""`
"#;

pub fn status(codes: &str) -> Response<Body> {
    match parse(codes) {
        Some(choices) => {
            let total: f64 = choices.iter().map(|(_, w)| w).sum();
            let x = rand::rng().random_range(0.0..total);
            for_code(pick(&choices, x))
        }
        None => reply::html(StatusCode::BAD_REQUEST, "Invalid status code"),
    }
}

/// `"200"` → `[(200, 1.0)]`; `"200:3,500"` → `[(200, 3.0), (500, 1.0)]`. `None` when a code or
/// weight does not parse, or the weights cannot be drawn from (all zero, negative, infinite).
pub fn parse(codes: &str) -> Option<Vec<(StatusCode, f64)>> {
    let choices = codes
        .split(',')
        .map(|choice| {
            let (code, weight) = match choice.split_once(':') {
                Some((code, weight)) => (code, weight.trim().parse::<f64>().ok()?),
                None => (choice, 1.0),
            };
            let code = code.trim().parse::<u16>().ok()?;
            let code = StatusCode::from_u16(code).ok()?;
            (weight.is_finite() && weight >= 0.0).then_some((code, weight))
        })
        .collect::<Option<Vec<_>>>()?;
    let total: f64 = choices.iter().map(|(_, w)| w).sum();
    (total > 0.0 && total.is_finite()).then_some(choices)
}

/// The first choice whose cumulative weight exceeds `x` (`x` in `0..total`).
pub fn pick(choices: &[(StatusCode, f64)], x: f64) -> StatusCode {
    let mut cumulative = 0.0;
    for (code, weight) in choices {
        cumulative += weight;
        if x < cumulative {
            return *code;
        }
    }
    // Rounding can leave x at the very top: the last positive weight wins.
    choices
        .iter()
        .rev()
        .find(|(_, w)| *w > 0.0)
        .map_or(StatusCode::OK, |(code, _)| *code)
}

/// httpbin's `status_code(code)`. Special codes replace the headers wholesale (so they carry
/// no Content-Type), the rest are an empty HTML response.
pub fn for_code(code: StatusCode) -> Response<Body> {
    let (content_type, body, extra): (Option<&str>, String, Option<(HeaderName, &str)>) =
        match code.as_u16() {
            301 | 302 | 303 | 305 | 307 => (
                None,
                String::new(),
                Some((header::LOCATION, REDIRECT_LOCATION)),
            ),
            401 => (
                None,
                String::new(),
                Some((header::WWW_AUTHENTICATE, "Basic realm=\"Fake Realm\"")),
            ),
            // Classic httpbin answers 402 with a rude joke; a learning tool does not.
            402 => (
                None,
                "Payment required".to_owned(),
                Some((
                    HeaderName::from_static("x-more-info"),
                    "http://vimeo.com/22053820",
                )),
            ),
            406 => (
                Some(reply::JSON),
                pyjson::compact(&json!({
                    "message": "Client did not request a supported media type.",
                    "accept": ["image/webp", "image/svg+xml", "image/jpeg", "image/png", "image/*"],
                })),
                None,
            ),
            407 => (
                None,
                String::new(),
                Some((header::PROXY_AUTHENTICATE, "Basic realm=\"Fake Realm\"")),
            ),
            418 => (
                None,
                TEAPOT.to_owned(),
                Some((
                    HeaderName::from_static("x-more-info"),
                    "http://tools.ietf.org/html/rfc2324",
                )),
            ),
            _ => (Some(reply::HTML), String::new(), None),
        };
    let mut response = reply::with_body(code, content_type, body);
    if let Some((name, value)) = extra {
        reply::set(&mut response, name, value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(n: u16) -> StatusCode {
        StatusCode::from_u16(n).unwrap()
    }

    #[test]
    fn parses_single_codes_and_weighted_lists() {
        assert_eq!(parse("500"), Some(vec![(code(500), 1.0)]));
        assert_eq!(
            parse("200:0.5,500:0.5"),
            Some(vec![(code(200), 0.5), (code(500), 0.5)])
        );
        assert_eq!(
            parse("200,503:3"),
            Some(vec![(code(200), 1.0), (code(503), 3.0)])
        );
    }

    #[test]
    fn rejects_bad_input() {
        for bad in [
            "abc", "", "200,", "200:x", "20:1", "1000", "-1", "200:-1", "200:0", "200:inf",
            "200:1:2",
        ] {
            assert_eq!(parse(bad), None, "{bad:?} should be invalid");
        }
    }

    #[test]
    fn pick_follows_cumulative_weights() {
        let choices = [(code(200), 0.5), (code(500), 0.0), (code(503), 0.5)];
        assert_eq!(pick(&choices, 0.0), code(200));
        assert_eq!(pick(&choices, 0.49), code(200));
        assert_eq!(pick(&choices, 0.5), code(503));
        assert_eq!(pick(&choices, 1.0), code(503));
    }

    #[test]
    fn weights_shape_the_draw() {
        let mut fives = 0;
        for _ in 0..400 {
            let r = status("200:0.25,500:0.75");
            if r.status() == StatusCode::INTERNAL_SERVER_ERROR {
                fives += 1;
            }
        }
        // 300 expected; the bounds are many standard deviations (≈8.7) wide.
        assert!((220..=380).contains(&fives), "{fives} of 400 were 500");
        for _ in 0..50 {
            assert_eq!(status("200:0,418:1").status(), StatusCode::IM_A_TEAPOT);
        }
    }

    #[test]
    fn special_codes_carry_httpbin_headers() {
        let r = for_code(code(302));
        assert_eq!(r.headers()[header::LOCATION], "/redirect/1");
        assert!(r.headers().get(header::CONTENT_TYPE).is_none());
        let r = for_code(code(401));
        assert_eq!(
            r.headers()[header::WWW_AUTHENTICATE],
            "Basic realm=\"Fake Realm\""
        );
        let r = for_code(code(418));
        assert_eq!(
            r.headers()["x-more-info"],
            "http://tools.ietf.org/html/rfc2324"
        );
        let r = for_code(code(503));
        assert_eq!(r.headers()[header::CONTENT_TYPE], reply::HTML);
        let r = status("x");
        assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    }
}
