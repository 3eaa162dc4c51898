//! The protobuf wire form of `google.protobuf.Struct`, which Istio's metadata exchange puts
//! (base64) in `x-envoy-peer-metadata`. Written by hand because the header carries nothing
//! else protobuf and mesh has no protobuf dependency. JSON values map to `Value`'s oneof:
//! null, number (double), string, bool, struct, list.

use serde_json::{Map, Value};

/// Why bytes are not a `Struct`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated protobuf message")]
    Truncated,
    #[error("protobuf varint longer than 10 bytes")]
    LongVarint,
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
    #[error("a Struct field key or string value is not UTF-8")]
    Utf8,
    #[error("protobuf messages nested deeper than {MAX_DEPTH}")]
    TooDeep,
}

/// Bounds recursion on input from the network.
const MAX_DEPTH: usize = 32;

/// Encodes a JSON object as a `Struct` (keys sorted, as Go's deterministic marshalling does).
pub fn encode(fields: &Map<String, Value>) -> Vec<u8> {
    let mut out = Vec::new();
    write_struct(&mut out, fields);
    out
}

/// Decodes a `Struct` into a JSON object.
pub fn decode(bytes: &[u8]) -> Result<Map<String, Value>, DecodeError> {
    read_struct(bytes, 0)
}

fn write_varint(out: &mut Vec<u8>, mut v: u64) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

/// A length-delimited field: tag, length, bytes.
fn write_bytes(out: &mut Vec<u8>, field: u8, bytes: &[u8]) {
    out.push(field << 3 | 2);
    write_varint(out, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

fn write_struct(out: &mut Vec<u8>, fields: &Map<String, Value>) {
    let mut keys: Vec<&String> = fields.keys().collect();
    keys.sort();
    for k in keys {
        let mut entry = Vec::new();
        write_bytes(&mut entry, 1, k.as_bytes());
        let mut value = Vec::new();
        if let Some(v) = fields.get(k) {
            write_value(&mut value, v);
        }
        write_bytes(&mut entry, 2, &value);
        // Struct.fields = 1 (a map: repeated entries).
        write_bytes(out, 1, &entry);
    }
}

fn write_value(out: &mut Vec<u8>, v: &Value) {
    match v {
        Value::Null => {
            out.push(1 << 3);
            out.push(0);
        }
        Value::Number(n) => {
            out.push(2 << 3 | 1);
            out.extend_from_slice(&n.as_f64().unwrap_or(0.0).to_le_bytes());
        }
        Value::String(s) => write_bytes(out, 3, s.as_bytes()),
        Value::Bool(b) => {
            out.push(4 << 3);
            out.push(u8::from(*b));
        }
        Value::Object(m) => {
            let mut inner = Vec::new();
            write_struct(&mut inner, m);
            write_bytes(out, 5, &inner);
        }
        Value::Array(items) => {
            let mut list = Vec::new();
            for item in items {
                let mut one = Vec::new();
                write_value(&mut one, item);
                write_bytes(&mut list, 1, &one);
            }
            write_bytes(out, 6, &list);
        }
    }
}

/// One field as read off the wire.
enum Field<'a> {
    Varint(u64),
    Fixed64([u8; 8]),
    Bytes(&'a [u8]),
    Fixed32,
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64, DecodeError> {
        let mut v = 0u64;
        for i in 0..10 {
            let (&b, rest) = self.buf.split_first().ok_or(DecodeError::Truncated)?;
            self.buf = rest;
            v |= u64::from(b & 0x7f) << (7 * i);
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(DecodeError::LongVarint)
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], DecodeError> {
        if self.buf.len() < n {
            return Err(DecodeError::Truncated);
        }
        let (head, rest) = self.buf.split_at(n);
        self.buf = rest;
        Ok(head)
    }

    /// The next (field number, value), or `None` at the end.
    fn next(&mut self) -> Result<Option<(u64, Field<'a>)>, DecodeError> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let field = match (tag & 7) as u8 {
            0 => Field::Varint(self.varint()?),
            1 => {
                let mut b = [0u8; 8];
                b.copy_from_slice(self.take(8)?);
                Field::Fixed64(b)
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| DecodeError::Truncated)?;
                Field::Bytes(self.take(len)?)
            }
            5 => {
                self.take(4)?;
                Field::Fixed32
            }
            other => return Err(DecodeError::WireType(other)),
        };
        Ok(Some((tag >> 3, field)))
    }
}

fn utf8(b: &[u8]) -> Result<String, DecodeError> {
    std::str::from_utf8(b)
        .map(str::to_owned)
        .map_err(|_| DecodeError::Utf8)
}

fn read_struct(bytes: &[u8], depth: usize) -> Result<Map<String, Value>, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let mut out = Map::new();
    let mut r = Reader { buf: bytes };
    while let Some((n, f)) = r.next()? {
        let (1, Field::Bytes(entry)) = (n, f) else {
            continue; // unknown fields are skipped, as protobuf parsers do
        };
        let mut e = Reader { buf: entry };
        let (mut key, mut value) = (String::new(), Value::Null);
        while let Some((n, f)) = e.next()? {
            match (n, f) {
                (1, Field::Bytes(k)) => key = utf8(k)?,
                (2, Field::Bytes(v)) => value = read_value(v, depth + 1)?,
                _ => {}
            }
        }
        out.insert(key, value);
    }
    Ok(out)
}

fn read_value(bytes: &[u8], depth: usize) -> Result<Value, DecodeError> {
    if depth > MAX_DEPTH {
        return Err(DecodeError::TooDeep);
    }
    let mut r = Reader { buf: bytes };
    let mut value = Value::Null;
    // The last oneof member on the wire wins, as in protobuf.
    while let Some((n, f)) = r.next()? {
        value = match (n, f) {
            (1, Field::Varint(_)) => Value::Null,
            (2, Field::Fixed64(b)) => serde_json::Number::from_f64(f64::from_le_bytes(b))
                .map(Value::Number)
                .unwrap_or(Value::Null),
            (3, Field::Bytes(s)) => Value::String(utf8(s)?),
            (4, Field::Varint(b)) => Value::Bool(b != 0),
            (5, Field::Bytes(s)) => Value::Object(read_struct(s, depth + 1)?),
            (6, Field::Bytes(l)) => {
                let mut items = Vec::new();
                let mut lr = Reader { buf: l };
                while let Some((n, f)) = lr.next()? {
                    if let (1, Field::Bytes(v)) = (n, f) {
                        items.push(read_value(v, depth + 1)?);
                    }
                }
                Value::Array(items)
            }
            _ => continue,
        };
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_every_value_kind() {
        let v = json!({
            "NAME": "webapp-7685bcb84-h5knf",
            "LABELS": {"app": "webapp", "version": "v1"},
            "PORTS": [1.0, "x", true, null],
            "EMPTY": {},
        });
        let m = v.as_object().unwrap();
        assert_eq!(decode(&encode(m)).unwrap(), *m);
    }

    #[test]
    fn matches_protobuf_bytes() {
        // Struct{fields: {"a": Value{string_value: "b"}}}, as protoc encodes it.
        let m = json!({"a": "b"});
        assert_eq!(
            encode(m.as_object().unwrap()),
            [0x0a, 0x08, 0x0a, 0x01, b'a', 0x12, 0x03, 0x1a, 0x01, b'b']
        );
    }

    #[test]
    fn refuses_garbage_without_panicking() {
        assert_eq!(decode(&[0x0a, 0x05, 0x0a]), Err(DecodeError::Truncated));
        assert_eq!(decode(&[0x0b]), Err(DecodeError::WireType(3)));
        assert!(decode(&[0xff; 12]).is_err());
        // Unknown fields are skipped.
        assert_eq!(decode(&[0x10, 0x01]).unwrap(), Map::new());
    }
}
