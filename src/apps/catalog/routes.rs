//! `server.js`'s routes: `/items`, `/items/:id` and `/blowup`, matched as Express does
//! (case-insensitive, one optional trailing slash), and what each one answers.

use http::{Method, StatusCode};
use serde_json::Value;

use super::express::Reply;
use super::items::{self, State};
use super::js;

/// A matched route.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route<'a> {
    GetBlowups,
    PostBlowup,
    DeleteBlowup,
    GetItems,
    /// The raw (still percent-encoded) `:id` segment.
    GetItem(&'a str),
    PostItem,
}

/// Express's router: `None` falls through to finalhandler's 404. HEAD takes GET routes.
pub fn route<'a>(method: &Method, path: &'a str) -> Option<Route<'a>> {
    let path = match path.strip_suffix('/') {
        Some(trimmed) if !trimmed.is_empty() => trimmed,
        _ => path,
    };
    let get = method == Method::GET || method == Method::HEAD;
    if path.eq_ignore_ascii_case("/blowup") {
        return if get {
            Some(Route::GetBlowups)
        } else if method == Method::POST {
            Some(Route::PostBlowup)
        } else if method == Method::DELETE {
            Some(Route::DeleteBlowup)
        } else {
            None
        };
    }
    if path.eq_ignore_ascii_case("/items") {
        return if get {
            Some(Route::GetItems)
        } else if method == Method::POST {
            Some(Route::PostItem)
        } else {
            None
        };
    }
    let id = path
        .get(..7)
        .filter(|p| p.eq_ignore_ascii_case("/items/"))
        .and_then(|_| path.get(7..))
        .filter(|id| !id.is_empty() && !id.contains('/'));
    match id {
        Some(id) if get => Some(Route::GetItem(id)),
        _ => None,
    }
}

/// What the route handler produced, with the original's side effects on the log and the
/// connection.
#[derive(Debug)]
pub struct Handled {
    pub reply: Reply,
    /// Lines `server.js` prints (`console.log`/`console.error`) while handling.
    pub log: Vec<String>,
    /// The status morgan will print when it differs from the one sent (see [`get_item`]).
    pub logged_status: Option<StatusCode>,
    /// Close the connection after answering.
    pub close_after: bool,
}

impl Handled {
    fn reply(reply: Reply) -> Handled {
        Handled {
            reply,
            log: Vec::new(),
            logged_status: None,
            close_after: false,
        }
    }
}

pub fn handle(route: &Route, state: &mut State, body: Value, show_image: bool) -> Handled {
    match route {
        Route::GetBlowups => Handled::reply(Reply::json(&state.blowups.to_json())),
        Route::PostBlowup => {
            let mut handled = Handled::reply(Reply::text("blowups=[object Object]"));
            handled.log.push(format!(
                "altering blowup with {}",
                js::to_string(Some(&body))
            ));
            let key = js::to_string(body.get("type"));
            state.blowups.set(key, body);
            handled
        }
        Route::DeleteBlowup => {
            let key = js::to_string(body.get("type"));
            state.blowups.remove(&key);
            Handled::reply(Reply::text(format!("deleted blowup {key}")))
        }
        Route::GetItems => {
            if show_image {
                state.items.iter_mut().for_each(items::show_image);
            }
            Handled::reply(Reply::json(&Value::Array(state.items.clone())))
        }
        Route::GetItem(raw) => get_item(raw, state, show_image),
        Route::PostItem => {
            state.add(body);
            Handled::reply(Reply::end(StatusCode::CREATED))
        }
    }
}

/// `GET /items/:id`. The original sends the item, then always calls `res.sendStatus(404)`,
/// which throws (headers already sent) after setting the status to 404: the client gets its
/// item with 200, the log says 404 next to an `ERR_HTTP_HEADERS_SENT` error, and Express
/// destroys the connection. An unknown id is a plain-text `Not Found`.
fn get_item(raw: &str, state: &mut State, show_image: bool) -> Handled {
    let Some(id) = decode_param(raw) else {
        let message = format!("URIError: Failed to decode param '{raw}'");
        let mut handled = Handled::reply(Reply::error_page(StatusCode::BAD_REQUEST, &message));
        handled.log.push(message);
        return handled;
    };
    // `element.id == req.params.id`: "1", "01" and " 1 " all find item 1.
    let found = state
        .items
        .iter_mut()
        .find(|item| js::loosely_equals_str(item.get("id"), &id));
    let Some(item) = found else {
        return Handled::reply(Reply::send_status(StatusCode::NOT_FOUND));
    };
    if show_image {
        items::show_image(item);
    }
    Handled {
        reply: Reply::json(item),
        log: vec![
            "Error [ERR_HTTP_HEADERS_SENT]: Cannot set headers after they are sent to the client"
                .to_owned(),
        ],
        logged_status: Some(StatusCode::NOT_FOUND),
        close_after: true,
    }
}

/// `decodeURIComponent`: `None` for a malformed escape or bytes that are not UTF-8.
pub fn decode_param(raw: &str) -> Option<String> {
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = raw.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn routes_match_like_express() {
        assert_eq!(route(&Method::GET, "/items"), Some(Route::GetItems));
        assert_eq!(route(&Method::HEAD, "/Items/"), Some(Route::GetItems));
        assert_eq!(route(&Method::POST, "/items"), Some(Route::PostItem));
        assert_eq!(route(&Method::GET, "/items/3"), Some(Route::GetItem("3")));
        assert_eq!(route(&Method::GET, "/items/3/"), Some(Route::GetItem("3")));
        assert_eq!(route(&Method::DELETE, "/blowup"), Some(Route::DeleteBlowup));
        for (method, path) in [
            (Method::PUT, "/items/9"),
            (Method::GET, "/items//"),
            (Method::GET, "/items/1/2"),
            (Method::POST, "/items/1"),
            (Method::GET, "/"),
            (Method::PATCH, "/blowup"),
        ] {
            assert_eq!(route(&method, path), None, "{method} {path}");
        }
    }

    #[test]
    fn item_lookup_is_loose_and_logs_the_quirk() {
        let mut state = State::default();
        for id in ["2", "02", "2.0"] {
            let handled = get_item(id, &mut state, false);
            assert_eq!(handled.reply.status, StatusCode::OK, "{id}");
            assert_eq!(handled.logged_status, Some(StatusCode::NOT_FOUND));
            assert!(handled.close_after);
        }
        let missing = get_item("99", &mut state, false);
        assert_eq!(missing.reply.status, StatusCode::NOT_FOUND);
        assert_eq!(missing.logged_status, None);
        assert!(!missing.close_after);
        let bad = get_item("%E0%A4%A", &mut state, false);
        assert_eq!(bad.reply.status, StatusCode::BAD_REQUEST);
    }

    #[test]
    fn blowup_routes_store_by_type() {
        let mut state = State::default();
        let body = json!({"active": true, "type": "500", "percentage": 10});
        let handled = handle(&Route::PostBlowup, &mut state, body.clone(), false);
        assert_eq!(handled.log, ["altering blowup with [object Object]"]);
        assert_eq!(state.blowups.to_json(), json!({"500": body}));
        let handled = handle(
            &Route::DeleteBlowup,
            &mut state,
            json!({"type": 500}),
            false,
        );
        assert_eq!(state.blowups.len(), 0);
        assert_eq!(handled.reply.status, StatusCode::OK);
    }
}
