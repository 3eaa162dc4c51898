//! reviews (`LibertyRestEndpoint.java`): `/reviews/<id>` and `/health`. With
//! `ENABLE_RATINGS=true` it asks ratings (forwarding the tracing headers, `end-user`, cookies…)
//! and adds `{"stars": n, "color": STAR_COLOR}` per reviewer, or "Ratings service is currently
//! unavailable" when ratings fails or does not answer in time (10 s for black stars, 2.5 s
//! otherwise, as the original). The JSON is the original's hand-built string, byte for byte.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use http::{Method, Request, Response, StatusCode};
use serde_json::Value;

use super::call::{self, Upstream};
use super::{ReviewsVersion, json};
use crate::apps::Log;
use crate::apps::serve::Body;
use crate::net::dial::Dialer;

/// What reviews forwards to ratings.
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
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "sw8",
    "end-user",
    "user-agent",
    "cookie",
    "authorization",
    "jwt",
];

const REVIEW1: &str =
    "An extremely entertaining play by Shakespeare. The slapstick humour is refreshing!";
const REVIEW2: &str = "Absolutely fun and entertaining. The play lacks thematic depth when compared to other plays by Shakespeare.";

pub struct Reviews {
    ratings_enabled: bool,
    star_color: String,
    ratings: Upstream,
    pod: String,
    cluster: String,
    dialer: Arc<dyn Dialer>,
    log: Log,
}

impl Reviews {
    pub fn new(
        version: ReviewsVersion,
        env: &BTreeMap<String, String>,
        pod_name: &str,
        dialer: Arc<dyn Dialer>,
        log: Log,
    ) -> Reviews {
        // The image's build arguments, then the manifest's env.
        let (enabled, color) = match version {
            ReviewsVersion::V1 => (false, "black"),
            ReviewsVersion::V2 => (true, "black"),
            ReviewsVersion::V3 => (true, "red"),
        };
        let ratings_enabled = env
            .get("ENABLE_RATINGS")
            // Java's Boolean.valueOf: "true" in any case, anything else is false.
            .map_or(enabled, |v| v.eq_ignore_ascii_case("true"));
        Reviews {
            ratings_enabled,
            star_color: env
                .get("STAR_COLOR")
                .cloned()
                .unwrap_or_else(|| color.to_owned()),
            ratings: Upstream::from_env(env, "ratings", "RATINGS"),
            pod: env
                .get("HOSTNAME")
                .cloned()
                .unwrap_or_else(|| pod_name.to_owned()),
            // Java string concatenation writes an unset variable as "null".
            cluster: env
                .get("CLUSTER_NAME")
                .cloned()
                .unwrap_or_else(|| "null".to_owned()),
            dialer,
            log,
        }
    }

    pub async fn handle(&self, request: &Request<bytes::Bytes>) -> Response<Body> {
        let path = request.uri().path();
        if request.method() != Method::GET {
            return json(StatusCode::METHOD_NOT_ALLOWED, "");
        }
        if path == "/health" {
            return json(StatusCode::OK, r#"{"status": "Reviews is healthy"}"#);
        }
        let id = path
            .strip_prefix("/reviews/")
            .and_then(|id| id.parse::<i32>().ok());
        let Some(id) = id else {
            return super::text(StatusCode::NOT_FOUND, "text/plain", "");
        };
        let stars = if self.ratings_enabled {
            self.stars(id, request.headers()).await
        } else {
            None
        };
        json(StatusCode::OK, self.body(id, stars))
    }

    /// Reviewer1's and Reviewer2's stars from ratings (`-1` where ratings had none).
    async fn stars(&self, id: i32, incoming: &http::HeaderMap) -> Option<(i64, i64)> {
        let headers = call::pick(incoming, PROPAGATE);
        let timeout = if self.star_color == "black" {
            Duration::from_secs(10)
        } else {
            Duration::from_millis(2500)
        };
        let path = format!("/ratings/{id}");
        let target = format!("http://{}:{}/ratings", self.ratings.host, self.ratings.port);
        let answer = self
            .ratings
            .get(&*self.dialer, &path, &headers, "Apache-CXF/3.1.18", timeout)
            .await;
        match answer {
            Ok(answer) if answer.status == StatusCode::OK => {
                let value: Value = serde_json::from_slice(&answer.body).ok()?;
                let ratings = value.get("ratings")?;
                let star = |name: &str| ratings.get(name).and_then(Value::as_i64).unwrap_or(-1);
                Some((star("Reviewer1"), star("Reviewer2")))
            }
            Ok(answer) => {
                (self.log)(&format!(
                    "Error: unable to contact {target} got status of {}",
                    answer.status.as_u16()
                ));
                None
            }
            Err(err) => {
                (self.log)(&format!(
                    "Error: unable to contact {target} got exception {err}"
                ));
                None
            }
        }
    }

    /// `getJsonResponse`, spacing included.
    fn body(&self, id: i32, stars: Option<(i64, i64)>) -> String {
        let (s1, s2) = stars.unwrap_or((-1, -1));
        let rating = |stars: i64| {
            if !self.ratings_enabled {
                String::new()
            } else if stars != -1 {
                format!(
                    ", \"rating\": {{\"stars\": {stars}, \"color\": \"{}\"}}",
                    self.star_color
                )
            } else {
                ", \"rating\": {\"error\": \"Ratings service is currently unavailable\"}".to_owned()
            }
        };
        format!(
            "{{\"id\": \"{id}\",\"podname\": \"{}\",\"clustername\": \"{}\",\"reviews\": [{{  \"reviewer\": \"Reviewer1\",  \"text\": \"{REVIEW1}\"{}}},{{  \"reviewer\": \"Reviewer2\",  \"text\": \"{REVIEW2}\"{}}}]}}",
            self.pod,
            self.cluster,
            rating(s1),
            rating(s2)
        )
    }
}
