//! Protobuf-JSON value forms shared by every message: durations (`"1.5s"`), integers that may be
//! written as strings, and `Any` fields dispatched on `@type`. Nested `Any` decoding keeps the
//! field path, so an error deep inside a `typed_config` still names its full path.

use std::fmt;

use serde::de::{self, DeserializeOwned, Deserializer};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::Value;

/// A `google.protobuf.Duration`, written `"5s"`, `"0.250s"`, `"1.5s"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Duration(pub std::time::Duration);

impl Duration {
    pub const ZERO: Duration = Duration(std::time::Duration::ZERO);

    pub fn from_secs(s: u64) -> Duration {
        Duration(std::time::Duration::from_secs(s))
    }
    pub fn from_millis(ms: u64) -> Duration {
        Duration(std::time::Duration::from_millis(ms))
    }
    pub fn get(self) -> std::time::Duration {
        self.0
    }
    pub fn is_zero(&self) -> bool {
        self.0.is_zero()
    }
}

impl fmt::Display for Duration {
    /// Protobuf JSON: whole seconds, or 3/6/9 fractional digits.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secs = self.0.as_secs();
        let nanos = self.0.subsec_nanos();
        if nanos == 0 {
            write!(f, "{secs}s")
        } else if nanos.is_multiple_of(1_000_000) {
            write!(f, "{secs}.{:03}s", nanos / 1_000_000)
        } else if nanos.is_multiple_of(1_000) {
            write!(f, "{secs}.{:06}s", nanos / 1_000)
        } else {
            write!(f, "{secs}.{nanos:09}s")
        }
    }
}

impl std::str::FromStr for Duration {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!(
                "invalid duration {s:?}: expected seconds with an `s` suffix, e.g. \"5s\" or \"0.25s\""
            )
        };
        let num = s.strip_suffix('s').ok_or_else(bad)?;
        if num.starts_with('-') {
            return Err(format!("invalid duration {s:?}: must not be negative"));
        }
        let (whole, frac) = match num.split_once('.') {
            Some((w, f)) => (w, f),
            None => (num, ""),
        };
        if whole.is_empty() && frac.is_empty()
            || !whole.chars().all(|c| c.is_ascii_digit())
            || !frac.chars().all(|c| c.is_ascii_digit())
            || frac.len() > 9
        {
            return Err(bad());
        }
        let secs: u64 = if whole.is_empty() {
            0
        } else {
            whole.parse().map_err(|_| bad())?
        };
        // 315,576,000,000 s is protobuf's maximum Duration.
        if secs > 315_576_000_000 {
            return Err(format!("invalid duration {s:?}: out of range"));
        }
        let nanos: u32 = if frac.is_empty() {
            0
        } else {
            format!("{frac:0<9}").parse().map_err(|_| bad())?
        };
        Ok(Duration(std::time::Duration::new(secs, nanos)))
    }
}

impl Serialize for Duration {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Duration {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v = Value::deserialize(d)?;
        match v {
            Value::String(s) => s.parse().map_err(de::Error::custom),
            // The `{seconds, nanos}` object form is legal protobuf text but not JSON; Envoy's
            // YAML loader rejects it too, so we say what to write instead.
            other => Err(de::Error::custom(format!(
                "invalid duration {other}: expected a string like \"5s\" or \"0.25s\""
            ))),
        }
    }
}

/// Integers may arrive as JSON numbers or (protobuf JSON for 64-bit values) as strings.
pub fn int<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    let v = Value::deserialize(d)?;
    let n: i128 = match &v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                u as i128
            } else if let Some(i) = n.as_i64() {
                i as i128
            } else {
                return Err(de::Error::custom(format!("invalid integer {v}")));
            }
        }
        Value::String(s) => s
            .trim()
            .parse()
            .map_err(|_| de::Error::custom(format!("invalid integer {v}")))?,
        _ => return Err(de::Error::custom(format!("invalid integer {v}"))),
    };
    T::try_from(n).map_err(|_| de::Error::custom(format!("integer {n} out of range")))
}

pub fn opt_int<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: TryFrom<i128>,
{
    int(d).map(Some)
}

/// 64-bit integers print as strings in protobuf JSON.
pub fn u64_as_string<S: Serializer>(v: &u64, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(v)
}

pub fn opt_u64_as_string<S: Serializer>(v: &Option<u64>, s: S) -> Result<S::Ok, S::Error> {
    match v {
        Some(v) => s.collect_str(v),
        None => s.serialize_none(),
    }
}

pub fn is_false(b: &bool) -> bool {
    !*b
}

pub fn is_zero_u32(n: &u32) -> bool {
    *n == 0
}

pub fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}

/// Marker that starts an error message carrying a nested field path (JSON array of segments),
/// so paths survive decoding `Any` values through a second deserializer.
const NESTED: char = '\u{1}';

/// Decodes `value` as `T`, keeping the path of any error inside it.
pub fn nested<T: DeserializeOwned, E: de::Error>(value: Value) -> Result<T, E> {
    serde_path_to_error::deserialize::<_, T>(value).map_err(|err| {
        let mut segs = path_segments(err.path());
        let (inner, msg) = split_nested(&err.inner().to_string());
        segs.extend(inner);
        E::custom(encode_nested(&segs, &msg))
    })
}

pub fn encode_nested(segs: &[Seg], msg: &str) -> String {
    let json = serde_json::to_string(segs).unwrap_or_else(|_| "[]".to_owned());
    format!("{NESTED}{json}{NESTED}{msg}")
}

/// A serialisable path segment: a map key or a list index.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Seg {
    Index(usize),
    Key(String),
}

pub fn path_segments(path: &serde_path_to_error::Path) -> Vec<Seg> {
    path.iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Seq { index } => Some(Seg::Index(*index)),
            serde_path_to_error::Segment::Map { key } => Some(Seg::Key(key.clone())),
            serde_path_to_error::Segment::Enum { variant } => Some(Seg::Key(variant.clone())),
            serde_path_to_error::Segment::Unknown => None,
        })
        .collect()
}

/// Splits an error message into (nested path, plain message).
pub fn split_nested(msg: &str) -> (Vec<Seg>, String) {
    if let Some(rest) = msg.strip_prefix(NESTED)
        && let Some((json, text)) = rest.split_once(NESTED)
    {
        let segs = serde_json::from_str(json).unwrap_or_default();
        return (segs, text.to_owned());
    }
    (Vec::new(), msg.to_owned())
}

/// Takes `@type` out of an `Any` object and returns (type URL, remaining fields).
pub fn take_type_url<E: de::Error>(value: Value) -> Result<(String, Value), E> {
    let Value::Object(mut map) = value else {
        return Err(E::custom(format!(
            "expected an object with \"@type\", found {value}"
        )));
    };
    match map.shift_remove("@type") {
        Some(Value::String(url)) => Ok((url, Value::Object(map))),
        Some(other) => Err(E::custom(format!(
            "invalid @type {other}: expected a string"
        ))),
        None => Err(E::custom(
            "missing \"@type\": a typed_config names its message type, e.g. \"@type\": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
        )),
    }
}

/// Serialises a message as an `Any`: `@type` first, then the message's own fields.
pub fn serialize_any<S: Serializer, T: Serialize>(
    type_url: &str,
    msg: &T,
    s: S,
) -> Result<S::Ok, S::Error> {
    let inner = serde_json::to_value(msg).map_err(serde::ser::Error::custom)?;
    let mut map = serde_json::Map::new();
    map.insert("@type".to_owned(), Value::String(type_url.to_owned()));
    if let Value::Object(fields) = inner {
        map.extend(fields);
    }
    map.serialize(s)
}

/// Declares an enum of the messages an `Any` field accepts, with `@type` dispatch both ways.
///
/// ```ignore
/// any_enum! { pub enum HttpFilterConfig {
///     Router(Router) = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router",
/// } }
/// ```
#[macro_export]
macro_rules! any_enum {
    ($(#[$meta:meta])* pub enum $name:ident { $($variant:ident($ty:ty) = $url:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, PartialEq)]
        pub enum $name { $($variant($ty)),+ }

        impl $name {
            /// The type URLs this field accepts.
            pub const TYPE_URLS: &'static [&'static str] = &[$($url),+];

            pub fn type_url(&self) -> &'static str {
                match self { $($name::$variant(_) => $url),+ }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self { $($name::$variant(m) => $crate::xds::de::serialize_any($url, m, s)),+ }
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let value = <serde_json::Value as serde::Deserialize>::deserialize(d)?;
                let (url, rest) = $crate::xds::de::take_type_url::<D::Error>(value)?;
                match url.as_str() {
                    $($url => $crate::xds::de::nested::<$ty, D::Error>(rest).map($name::$variant),)+
                    other => Err(<D::Error as serde::de::Error>::custom(format!(
                        "Didn't find a registered implementation for type URL: '{}' (mesh supports here: {})",
                        other,
                        Self::TYPE_URLS.join(", ")
                    ))),
                }
            }
        }
    };
}

/// A repeated field written as a single message: protobuf's JSON parser takes it as a list of
/// one (Envoy's own dynamic-config-fs example writes `filters:` that way).
pub fn one_or_many<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
where
    D: serde::Deserializer<'de>,
    T: DeserializeOwned,
{
    match Value::deserialize(d)? {
        Value::Null => Ok(Vec::new()),
        list @ Value::Array(_) => nested(list),
        one => Ok(vec![nested(one)?]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_and_print_like_protobuf_json() {
        for (input, printed) in [
            ("5s", "5s"),
            ("0s", "0s"),
            ("0.25s", "0.250s"),
            ("1.5s", "1.500s"),
            (".5s", "0.500s"),
            ("0.000001s", "0.000001s"),
            ("2.000000001s", "2.000000001s"),
        ] {
            let d: Duration = input.parse().unwrap();
            assert_eq!(d.to_string(), printed, "{input}");
        }
        for bad in ["5", "5ms", "-1s", "1.2.3s", "s", "abc", "1.0000000001s"] {
            assert!(bad.parse::<Duration>().is_err(), "{bad}");
        }
    }

    #[test]
    fn integers_accept_numbers_and_strings() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "int")]
            a: u32,
            #[serde(deserialize_with = "int")]
            b: u64,
        }
        let t: T = serde_json::from_value(serde_json::json!({"a": 7, "b": "9"})).unwrap();
        assert_eq!((t.a, t.b), (7, 9));
        let err = serde_json::from_value::<T>(serde_json::json!({"a": -1, "b": 1}))
            .err()
            .unwrap();
        assert!(err.to_string().contains("out of range"), "{err}");
    }

    #[test]
    fn nested_paths_round_trip() {
        let msg = encode_nested(&[Seg::Key("a".into()), Seg::Index(2)], "boom");
        let (segs, text) = split_nested(&msg);
        assert_eq!(segs, vec![Seg::Key("a".into()), Seg::Index(2)]);
        assert_eq!(text, "boom");
    }
}
