//! `json.dumps` as Python 3 writes it with default arguments (productpage uses simplejson, which
//! agrees): one line, `", "` between items, `": "` after keys, insertion order kept.

use std::io;

use serde::Serialize;
use serde_json::ser::Formatter;

struct Python;

impl Formatter for Python {
    fn begin_array_value<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_key<W: ?Sized + io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> io::Result<()> {
        if first { Ok(()) } else { w.write_all(b", ") }
    }

    fn begin_object_value<W: ?Sized + io::Write>(&mut self, w: &mut W) -> io::Result<()> {
        w.write_all(b": ")
    }
}

/// `json.dumps(value)`.
pub fn dumps(value: &serde_json::Value) -> String {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(&mut out, Python);
    // Serialising a `Value` into memory cannot fail.
    let _ = value.serialize(&mut ser);
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spaced_like_python() {
        let v = serde_json::json!({"id": 0, "ratings": {"Reviewer1": 5}, "l": [1, 2]});
        assert_eq!(
            dumps(&v),
            r#"{"id": 0, "ratings": {"Reviewer1": 5}, "l": [1, 2]}"#
        );
    }
}
