//! The `/blowup` fault API of the book's catalog: `POST /blowup` stores a fault under its `type`,
//! and every request whose path contains `items` then rolls the dice against each *active*
//! fault (`"active": true` is required, as in the book's `bin/chaos.sh`):
//!
//! - `{"type": "500", "percentage": N}`: answer 500 when `floor(random·100) <= N`. A missing or
//!   zero percentage means 100, as `value.percentage || 100` does in the original.
//! - `{"type": "latency", "latencyMs": N, "volatile": bool}`: wait N ms (default 1000), or a
//!   random 0..N when volatile, then answer normally.
//! - `{"type": "drop", "percentage": N}`: end the connection without an answer.
//!
//! The debug lines the original prints for every request are part of the outcome.

use std::time::Duration;

use serde_json::{Map, Value};

use super::js;
use crate::apps::jsontext::{self, Dialect};

/// Node's longest timer; anything outside 1..=this fires after 1 ms.
const TIMEOUT_MAX_MS: f64 = 2_147_483_647.0;

/// The stored faults: `blowups[type] = body`, in JavaScript property order.
#[derive(Debug, Default, Clone)]
pub struct Blowups {
    entries: Map<String, Value>,
}

impl Blowups {
    /// `blowups[key] = body`: a known key keeps its place, a new one goes last.
    pub fn set(&mut self, key: String, body: Value) {
        self.entries.insert(key, body);
    }

    /// `delete blowups[key]`.
    pub fn remove(&mut self, key: &str) {
        self.entries.shift_remove(key);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// The object `GET /blowup` shows (the JSON writer applies JavaScript key order).
    pub fn to_json(&self) -> Value {
        Value::Object(self.entries.clone())
    }

    /// `Object.keys(blowups)` order: array-index keys (`"500"`) first, then insertion order.
    fn in_key_order(&self) -> Vec<&Value> {
        let mut entries: Vec<(&String, &Value)> = self.entries.iter().collect();
        entries.sort_by_key(|(k, _)| jsontext::array_index(k).map_or((1, 0), |i| (0, i)));
        entries.into_iter().map(|(_, v)| v).collect()
    }
}

/// What the fault middleware decided for one request.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Outcome {
    /// Answer 500 with an empty body.
    pub fail: bool,
    /// End the connection (after the 500 if both fired).
    pub drop: bool,
    /// Wait this long before answering normally (when nothing else fired).
    pub delay: Option<Duration>,
    /// The lines `server.js` prints with `console.log`.
    pub log: Vec<String>,
}

/// Runs the middleware for a request to `path`; `random` is `Math.random()`.
pub fn evaluate(blowups: &Blowups, path: &str, random: &mut dyn FnMut() -> f64) -> Outcome {
    let mut out = Outcome {
        log: vec![
            format!("request path: {path}"),
            format!(
                "blowups: {}",
                jsontext::compact(&blowups.to_json(), Dialect::Js)
            ),
            format!("number of blowups: {}", blowups.len()),
        ],
        ..Outcome::default()
    };
    if !path.contains("items") || blowups.len() == 0 {
        return out;
    }
    for value in blowups.in_key_order() {
        if !js::loosely_true(value.get("active")) {
            continue;
        }
        let kind = value.get("type");
        if js::loosely_equals_str(kind, "500") {
            if roll(value, random, &mut out.log) {
                out.log.push("Sending a 500 blowup".to_owned());
                out.fail = true;
            }
        } else if js::loosely_equals_str(kind, "latency") {
            let (shown, ms) = latency(value, random);
            out.log
                .push(format!("Sending a latency blowup for {shown}ms"));
            out.delay = Some(timer(ms));
        } else if js::loosely_equals_str(kind, "drop") && roll(value, random, &mut out.log) {
            out.log.push("Dropping connection".to_owned());
            out.drop = true;
        }
    }
    out
}

/// `Math.floor(Math.random() * 100) <= (value.percentage || 100)`, with its debug line.
fn roll(value: &Value, random: &mut dyn FnMut() -> f64, log: &mut Vec<String>) -> bool {
    let rando = (random() * 100.0).floor();
    let given = value.get("percentage");
    let percentage = if js::truthy(given) {
        given.cloned().unwrap_or(Value::Null)
    } else {
        Value::from(100)
    };
    log.push(format!(
        "rando is {} and percentage is {}",
        js::number_to_string(rando),
        js::to_string(Some(&percentage))
    ));
    // NaN (a non-numeric percentage) compares false: the fault never fires.
    rando <= js::to_number(Some(&percentage))
}

/// `value.latencyMs || 1000`, randomised below that when `volatile`: (as printed, as a number).
fn latency(value: &Value, random: &mut dyn FnMut() -> f64) -> (String, f64) {
    let given = value.get("latencyMs");
    let sleep = if js::truthy(given) {
        given.cloned().unwrap_or(Value::Null)
    } else {
        Value::from(1000)
    };
    if js::truthy(value.get("volatile")) {
        let ms = (random() * js::to_number(Some(&sleep))).floor();
        return (js::number_to_string(ms), ms);
    }
    (js::to_string(Some(&sleep)), js::to_number(Some(&sleep)))
}

/// `setTimeout(next, ms)`: Node turns out-of-range or non-numeric delays into 1 ms.
fn timer(ms: f64) -> Duration {
    let ms = if (1.0..=TIMEOUT_MAX_MS).contains(&ms) {
        ms
    } else {
        1.0
    };
    Duration::from_secs_f64(ms / 1000.0)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn with(faults: &[Value]) -> Blowups {
        let mut b = Blowups::default();
        for f in faults {
            b.set(js::to_string(f.get("type")), f.clone());
        }
        b
    }

    /// `Math.random()` always answering `x`.
    fn fixed(x: f64) -> impl FnMut() -> f64 {
        move || x
    }

    #[test]
    fn quiet_paths_and_no_faults_only_log() {
        let out = evaluate(&Blowups::default(), "/items", &mut fixed(0.0));
        assert_eq!(
            out.log,
            [
                "request path: /items",
                "blowups: {}",
                "number of blowups: 0"
            ]
        );
        assert!(!out.fail && !out.drop && out.delay.is_none());
        let b = with(&[json!({"active": true, "type": "500"})]);
        let out = evaluate(&b, "/blowup", &mut fixed(0.0));
        assert!(!out.fail, "only paths containing `items` blow up");
    }

    #[test]
    fn five_hundred_follows_percentage() {
        let fault = |p: Value| with(&[json!({"active": true, "type": "500", "percentage": p})]);
        // 100 %: even the highest roll (99) fails.
        assert!(evaluate(&fault(json!(100)), "/items", &mut fixed(0.999)).fail);
        // 50 %: rolls 0..=50 fail, 51.. pass.
        assert!(evaluate(&fault(json!(50)), "/items/1", &mut fixed(0.50)).fail);
        assert!(!evaluate(&fault(json!(50)), "/items", &mut fixed(0.51)).fail);
        // 0 is falsy, so `percentage || 100` makes it 100 %: the original's quirk.
        assert!(evaluate(&fault(json!(0)), "/items", &mut fixed(0.999)).fail);
        // A negative percentage never fires; nor does text that is not a number.
        assert!(!evaluate(&fault(json!(-1)), "/items", &mut fixed(0.0)).fail);
        assert!(!evaluate(&fault(json!("lots")), "/items", &mut fixed(0.0)).fail);
        // Numeric text works, as JavaScript's `<=` converts it.
        assert!(evaluate(&fault(json!("10")), "/items", &mut fixed(0.05)).fail);
        let out = evaluate(&fault(json!(50)), "/items", &mut fixed(0.25));
        assert_eq!(
            out.log[3..],
            ["rando is 25 and percentage is 50", "Sending a 500 blowup"]
        );
    }

    #[test]
    fn inactive_faults_do_nothing() {
        for active in [json!(false), json!("true"), Value::Null] {
            let b = with(&[json!({"active": active, "type": "500"})]);
            assert!(!evaluate(&b, "/items", &mut fixed(0.0)).fail, "{active}");
        }
        let b = with(&[json!({"type": "500", "percentage": 100})]);
        assert!(!evaluate(&b, "/items", &mut fixed(0.0)).fail);
        let b = with(&[json!({"active": 1, "type": 500})]);
        assert!(evaluate(&b, "/items", &mut fixed(0.0)).fail);
    }

    #[test]
    fn latency_fixed_volatile_and_default() {
        let b = with(&[json!({"active": true, "type": "latency", "latencyMs": 250})]);
        let out = evaluate(&b, "/items", &mut fixed(0.5));
        assert_eq!(out.delay, Some(Duration::from_millis(250)));
        assert_eq!(out.log[3], "Sending a latency blowup for 250ms");
        let b = with(&[
            json!({"active": true, "type": "latency", "latencyMs": 1000, "volatile": true}),
        ]);
        let out = evaluate(&b, "/items", &mut fixed(0.1234));
        assert_eq!(out.delay, Some(Duration::from_millis(123)));
        let b = with(&[json!({"active": true, "type": "latency"})]);
        assert_eq!(
            evaluate(&b, "/items", &mut fixed(0.0)).delay,
            Some(Duration::from_secs(1))
        );
        // A volatile roll of 0 ms still waits Node's minimum of 1 ms.
        let b = with(&[json!({"active": true, "type": "latency", "volatile": true})]);
        assert_eq!(
            evaluate(&b, "/items", &mut fixed(0.0)).delay,
            Some(Duration::from_millis(1))
        );
    }

    #[test]
    fn drop_and_key_order() {
        let b = with(&[
            json!({"active": true, "type": "drop", "percentage": 100}),
            json!({"active": false, "type": "500"}),
        ]);
        let out = evaluate(&b, "/items", &mut fixed(0.3));
        assert!(out.drop && !out.fail);
        assert_eq!(
            out.log[1],
            r#"blowups: {"500":{"active":false,"type":"500"},"drop":{"active":true,"type":"drop","percentage":100}}"#
        );
        assert_eq!(
            out.log.last().map(String::as_str),
            Some("Dropping connection")
        );
    }

    #[test]
    fn set_and_remove_keep_javascript_semantics() {
        let mut b = with(&[json!({"type": "latency"}), json!({"type": "drop"})]);
        b.set("latency".into(), json!({"type": "latency", "v": 2}));
        assert_eq!(
            jsontext::compact(&b.to_json(), Dialect::Js),
            r#"{"latency":{"type":"latency","v":2},"drop":{"type":"drop"}}"#
        );
        b.remove("latency");
        b.remove("nothing");
        assert_eq!(b.len(), 1);
    }
}
