//! Request inspection: `/headers`, `/get`, `/anything`, `/post`…, `/ip`, `/uuid`, `/user-agent`.

use http::{Response, header};
use serde_json::{Value, json};

use super::super::Body;
use super::super::reply;
use super::super::request::{Field, Inbound};

/// `/get`'s fields (also `/stream`'s lines and `/delay`'s base).
pub const GET_FIELDS: &[Field] = &[Field::Url, Field::Args, Field::Headers, Field::Origin];

/// `/post`, `/put`, `/patch`, `/delete`.
pub const BODY_FIELDS: &[Field] = &[
    Field::Url,
    Field::Args,
    Field::Form,
    Field::Data,
    Field::Origin,
    Field::Headers,
    Field::Files,
    Field::Json,
];

const ANYTHING_FIELDS: &[Field] = &[
    Field::Url,
    Field::Args,
    Field::Headers,
    Field::Origin,
    Field::Method,
    Field::Form,
    Field::Data,
    Field::Files,
    Field::Json,
];

pub fn headers(req: &Inbound) -> Response<Body> {
    reply::json(&json!({ "headers": req.headers_json() }))
}

pub fn get(req: &Inbound) -> Response<Body> {
    reply::json(&Value::Object(req.dict(GET_FIELDS)))
}

pub fn with_body(req: &Inbound) -> Response<Body> {
    reply::json(&Value::Object(req.dict(BODY_FIELDS)))
}

pub fn anything(req: &Inbound) -> Response<Body> {
    reply::json(&Value::Object(req.dict(ANYTHING_FIELDS)))
}

pub fn ip(req: &Inbound) -> Response<Body> {
    reply::json(&json!({ "origin": req.origin() }))
}

pub fn uuid() -> Response<Body> {
    reply::json(&json!({ "uuid": uuid::Uuid::new_v4().to_string() }))
}

pub fn user_agent(req: &Inbound) -> Response<Body> {
    reply::json(&json!({ "user-agent": req.header(header::USER_AGENT) }))
}
