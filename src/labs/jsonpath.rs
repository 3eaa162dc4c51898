//! A small JSON path for checks: `configs[*].dynamic_route_configs[*].route_config.name`,
//! `virtual_hosts[name=webapp.istioinaction.io:80].routes[0]`, `headers.X-Request-Id`.
//! A path selects every value it reaches; `[*]` fans out over arrays (and objects' values),
//! `[key=value]` keeps the array elements whose `key` is that string or number.

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Seg {
    Key(String),
    Index(usize),
    All,
    Filter(String, String),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad JSON path {path:?} at byte {at}: {reason}")]
pub struct PathError {
    pub path: String,
    pub at: usize,
    pub reason: String,
}

pub fn parse(path: &str) -> Result<Vec<Seg>, PathError> {
    let err = |at: usize, reason: &str| PathError {
        path: path.to_owned(),
        at,
        reason: reason.to_owned(),
    };
    let bytes = path.as_bytes();
    let mut segs = Vec::new();
    let mut i = 0;
    let mut key = String::new();
    while i < bytes.len() {
        match bytes[i] {
            b'.' => {
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                } else if i == 0 || bytes[i - 1] != b']' {
                    return Err(err(i, "empty key"));
                }
                i += 1;
            }
            b'[' => {
                if !key.is_empty() {
                    segs.push(Seg::Key(std::mem::take(&mut key)));
                }
                let close = path[i..]
                    .find(']')
                    .map(|j| i + j)
                    .ok_or_else(|| err(i, "`[` without `]`"))?;
                let inner = &path[i + 1..close];
                let seg = if inner == "*" {
                    Seg::All
                } else if let Ok(n) = inner.parse::<usize>() {
                    Seg::Index(n)
                } else if let Some((k, v)) = inner.split_once('=') {
                    Seg::Filter(k.trim().to_owned(), v.trim().to_owned())
                } else {
                    return Err(err(i, "expected `[N]`, `[*]` or `[key=value]`"));
                };
                segs.push(seg);
                i = close + 1;
            }
            _ => {
                let next = path[i..].find(['.', '[']).map_or(path.len(), |j| i + j);
                key.push_str(&path[i..next]);
                i = next;
            }
        }
    }
    if !key.is_empty() {
        segs.push(Seg::Key(key));
    }
    if segs.is_empty() {
        return Err(err(0, "empty path"));
    }
    Ok(segs)
}

fn matches_filter(v: &Value, key: &str, want: &str) -> bool {
    match v.get(key) {
        Some(Value::String(s)) => s == want,
        Some(Value::Number(n)) => n.to_string() == want,
        Some(Value::Bool(b)) => b.to_string() == want,
        _ => false,
    }
}

/// Every value the path reaches.
pub fn select<'a>(root: &'a Value, segs: &[Seg]) -> Vec<&'a Value> {
    let mut current = vec![root];
    for seg in segs {
        let mut next = Vec::new();
        for v in current {
            match seg {
                Seg::Key(k) => next.extend(v.get(k.as_str())),
                Seg::Index(n) => next.extend(v.get(*n)),
                Seg::All => match v {
                    Value::Array(a) => next.extend(a.iter()),
                    Value::Object(o) => next.extend(o.values()),
                    _ => {}
                },
                Seg::Filter(k, want) => {
                    if let Value::Array(a) = v {
                        next.extend(a.iter().filter(|e| matches_filter(e, k, want)));
                    }
                }
            }
        }
        current = next;
    }
    current
}

/// A value as text for `contains`/`matches`: strings bare, everything else as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn selects_keys_indexes_wildcards_and_filters() {
        let v = json!({"configs": [
            {"routes": [{"name": "http.8080", "vh": [{"name": "blackhole:80"}]}]},
            {"routes": [{"name": "other", "vh": []}], "n": 3}
        ], "headers": {"X-Request-Id": "abc"}});
        let p = parse("configs[*].routes[name=http.8080].vh[0].name").expect("parses");
        assert_eq!(select(&v, &p), vec![&json!("blackhole:80")]);
        let p = parse("configs[*].routes[*].name").expect("parses");
        assert_eq!(select(&v, &p).len(), 2);
        assert_eq!(
            select(&v, &parse("headers.X-Request-Id").expect("parses")),
            vec![&json!("abc")]
        );
        assert_eq!(
            select(&v, &parse("configs[1].n").expect("parses")),
            vec![&json!(3)]
        );
        assert!(select(&v, &parse("configs[5].n").expect("parses")).is_empty());
        assert!(parse("a..b").is_err());
        assert!(parse("a[x").is_err());
        assert!(parse("a[zz]").is_err());
    }
}
