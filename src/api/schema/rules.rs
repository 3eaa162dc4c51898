//! The few CEL rules (`x-kubernetes-validations`) of Istio's CRDs that mesh checks, recognised by
//! their exact rule text. Every other CEL rule is skipped: the extractor drops it from the
//! embedded schemas (see `schemas/extract.py`, `KNOWN_RULES`).

use serde_json::Value;

use crate::api::duration::parse_duration;

/// Returns the problem (kubectl words: `Invalid value: …: message`) when `value` breaks `rule`.
pub fn check(rule: &str, message: &str, value: &Value) -> Option<String> {
    let broken = match rule {
        "duration(self) >= duration('1ms')" => match value.as_str() {
            Some(s) => parse_duration(s).map_or(true, |d| d.as_nanos() < 1_000_000),
            None => false,
        },
        "0 < self && self <= 65535" => {
            value.as_i64().is_some_and(|n| !(1..=65535).contains(&n))
                || value.as_u64().is_some_and(|n| n > 65535)
        }
        "self != \"*\"" => value.as_str() == Some("*"),
        _ if rule.contains("has(self.") && rule.ends_with("<= 1") => {
            let present = fields_in(rule)
                .iter()
                .filter(|f| value.get(f.as_str()).is_some())
                .count();
            present > 1
        }
        _ => false,
    };
    broken.then(|| format!("Invalid value: {}: {message}", shown(value)))
}

/// The field names of `has(self.name)` calls in a rule.
fn fields_in(rule: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for part in rule.split("has(self.").skip(1) {
        if let Some((name, _)) = part.split_once(')')
            && !out.iter().any(|o| o == name)
        {
            out.push(name.to_owned());
        }
    }
    out
}

fn shown(value: &Value) -> String {
    match value {
        Value::Object(_) => "\"object\"".to_owned(),
        Value::Array(_) => "\"array\"".to_owned(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn checks_the_rules_it_knows() {
        let dur = "duration(self) >= duration('1ms')";
        let msg = "must be a valid duration greater than 1ms";
        assert_eq!(check(dur, msg, &json!("1s")), None);
        assert_eq!(
            check(dur, msg, &json!("1")),
            Some("Invalid value: \"1\": must be a valid duration greater than 1ms".to_owned())
        );
        assert!(check(dur, msg, &json!("0.5ms")).is_some());
        let port = "0 < self && self <= 65535";
        assert!(check(port, "port", &json!(0)).is_some());
        assert!(check(port, "port", &json!(70000)).is_some());
        assert!(check(port, "port", &json!(80)).is_none());
        let one = "(has(self.credentialName) ? 1 : 0) + (has(self.credentialNames) ? 1 : 0) <= 1";
        assert!(
            check(
                one,
                "only one",
                &json!({"credentialName": "a", "credentialNames": ["b"]})
            )
            .is_some()
        );
        assert!(check(one, "only one", &json!({"credentialName": "a"})).is_none());
        assert!(check("self.size() > 3", "unknown", &json!("x")).is_none());
    }
}
