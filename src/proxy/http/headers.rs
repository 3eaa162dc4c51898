//! `request_headers_to_add/remove` and `response_headers_to_add/remove` at every level (route
//! configuration, virtual host, route, weighted cluster), with Envoy's append actions and `%…%`
//! values.

use http::{HeaderMap, HeaderName, HeaderValue};

use crate::xds::core::{HeaderAppendAction, HeaderValueOption};

use super::super::Rejected;
use super::super::access_log::{Format, Record};

#[derive(Debug, Default)]
pub struct HeaderMutation {
    add: Vec<AddHeader>,
    remove: Vec<HeaderName>,
}

#[derive(Debug)]
struct AddHeader {
    name: HeaderName,
    value: Template,
    action: HeaderAppendAction,
    keep_empty: bool,
}

#[derive(Debug)]
enum Template {
    Static(HeaderValue),
    Dynamic(Format),
}

impl HeaderMutation {
    /// `path` names the `..._to_add` list (removals are reported next to it).
    pub fn build(
        add: &[HeaderValueOption],
        remove: &[String],
        path: &str,
    ) -> Result<HeaderMutation, Rejected> {
        let mut out = HeaderMutation::default();
        for (i, opt) in add.iter().enumerate() {
            let at = format!("{path}[{i}].header");
            let key = opt.header.key.to_ascii_lowercase();
            if key.starts_with(':') || key == "host" {
                return Err(Rejected::new(
                    format!("{at}.key"),
                    format!(
                        ":-prefixed or host headers may not be modified ('{}')",
                        opt.header.key
                    ),
                ));
            }
            let name = HeaderName::try_from(key.as_str()).map_err(|_| {
                Rejected::new(
                    format!("{at}.key"),
                    format!("invalid header name '{}'", opt.header.key),
                )
            })?;
            let format = Format::parse(&opt.header.value)
                .map_err(|e| Rejected::new(format!("{at}.value"), e))?;
            let value =
                if format.is_literal() {
                    let literal = format.render_literal();
                    Template::Static(HeaderValue::try_from(literal).map_err(|_| {
                        Rejected::new(format!("{at}.value"), "invalid header value")
                    })?)
                } else {
                    Template::Dynamic(format)
                };
            out.add.push(AddHeader {
                name,
                value,
                action: opt.action(),
                keep_empty: opt.keep_empty_value,
            });
        }
        let remove_path = path.replace("_to_add", "_to_remove");
        for (i, r) in remove.iter().enumerate() {
            let name = r.to_ascii_lowercase();
            if name.starts_with(':') || name == "host" {
                return Err(Rejected::new(
                    format!("{remove_path}[{i}]"),
                    format!(":-prefixed or host headers may not be removed ('{r}')"),
                ));
            }
            out.remove
                .push(HeaderName::try_from(name.as_str()).map_err(|_| {
                    Rejected::new(
                        format!("{remove_path}[{i}]"),
                        format!("invalid header name '{r}'"),
                    )
                })?);
        }
        Ok(out)
    }

    pub fn is_empty(&self) -> bool {
        self.add.is_empty() && self.remove.is_empty()
    }

    /// Needs a [`Record`] to render `%…%` values.
    pub fn is_dynamic(&self) -> bool {
        self.add
            .iter()
            .any(|a| matches!(a.value, Template::Dynamic(_)))
    }

    /// Removes, then adds (Envoy's order). `rec` renders dynamic values (`-` without it).
    pub fn apply(&self, headers: &mut HeaderMap, rec: Option<&Record>) {
        for name in &self.remove {
            headers.remove(name);
        }
        for a in &self.add {
            let value = match &a.value {
                Template::Static(v) => v.clone(),
                Template::Dynamic(f) => {
                    let text = match rec {
                        Some(r) => f.render(r),
                        None => "-".to_owned(),
                    };
                    match HeaderValue::try_from(text) {
                        Ok(v) => v,
                        Err(_) => continue,
                    }
                }
            };
            if value.is_empty() && !a.keep_empty {
                continue;
            }
            let exists = headers.contains_key(&a.name);
            match a.action {
                HeaderAppendAction::AppendIfExistsOrAdd => {
                    headers.append(a.name.clone(), value);
                }
                HeaderAppendAction::AddIfAbsent => {
                    if !exists {
                        headers.insert(a.name.clone(), value);
                    }
                }
                HeaderAppendAction::OverwriteIfExistsOrAdd => {
                    headers.insert(a.name.clone(), value);
                }
                HeaderAppendAction::OverwriteIfExists => {
                    if exists {
                        headers.insert(a.name.clone(), value);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(yaml: &str) -> Vec<HeaderValueOption> {
        crate::xds::decode::decode_str("t", yaml).unwrap()
    }

    #[test]
    fn append_actions() {
        let m = HeaderMutation::build(
            &opts(
                r#"
- header: {key: x-a, value: "2"}
- header: {key: x-b, value: "2"}
  append_action: ADD_IF_ABSENT
- header: {key: x-c, value: "2"}
  append: false
- header: {key: x-d, value: "2"}
  append_action: OVERWRITE_IF_EXISTS
- header: {key: x-e, value: ""}
"#,
            ),
            &["x-gone".to_owned()],
            "r.request_headers_to_add",
        )
        .unwrap();
        let mut h = HeaderMap::new();
        for k in ["x-a", "x-b", "x-c", "x-gone"] {
            h.insert(HeaderName::try_from(k).unwrap(), "1".parse().unwrap());
        }
        m.apply(&mut h, None);
        let all =
            |k: &str| -> Vec<&str> { h.get_all(k).iter().map(|v| v.to_str().unwrap()).collect() };
        assert_eq!(all("x-a"), ["1", "2"]);
        assert_eq!(all("x-b"), ["1"]);
        assert_eq!(all("x-c"), ["2"]);
        assert!(all("x-d").is_empty());
        assert!(all("x-e").is_empty());
        assert!(all("x-gone").is_empty());
    }

    #[test]
    fn dynamic_values_and_forbidden_names() {
        let m = HeaderMutation::build(
            &opts(
                r#"[{header: {key: x-client, value: "%DOWNSTREAM_REMOTE_ADDRESS_WITHOUT_PORT%"}}]"#,
            ),
            &[],
            "p",
        )
        .unwrap();
        assert!(m.is_dynamic());
        let rec = Record::new(
            "10.1.2.3:4".parse().unwrap(),
            "127.0.0.1:1".parse().unwrap(),
        );
        let mut h = HeaderMap::new();
        m.apply(&mut h, Some(&rec));
        assert_eq!(h["x-client"], "10.1.2.3");
        let err = HeaderMutation::build(&opts(r#"[{header: {key: ":path", value: x}}]"#), &[], "p")
            .unwrap_err();
        assert_eq!(err.path, "p[0].header.key");
    }
}
