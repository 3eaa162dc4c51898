//! The protobuf wire format, enough for messages of strings, bytes, integers and nested
//! messages: a [`Writer`] that appends fields and [`fields`] that reads them back.

/// Why bytes are not a protobuf message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("truncated protobuf message")]
    Truncated,
    #[error("varint longer than 10 bytes")]
    VarintTooLong,
    #[error("unsupported protobuf wire type {0}")]
    WireType(u8),
}

/// One field's value as it sits on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    Varint(u64),
    Fixed64(u64),
    /// Strings, bytes, nested messages and packed repeated fields.
    Bytes(&'a [u8]),
    Fixed32(u32),
}

impl<'a> Value<'a> {
    pub fn as_str(&self) -> Option<&'a str> {
        match self {
            Value::Bytes(b) => std::str::from_utf8(b).ok(),
            _ => None,
        }
    }
    pub fn as_u64(&self) -> Option<u64> {
        match self {
            Value::Varint(v) | Value::Fixed64(v) => Some(*v),
            Value::Fixed32(v) => Some(u64::from(*v)),
            Value::Bytes(_) => None,
        }
    }
}

/// Appends fields to a message.
#[derive(Debug, Default, Clone)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    pub fn new() -> Writer {
        Writer::default()
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    fn key(&mut self, field: u32, wire: u8) {
        self.raw_varint((u64::from(field) << 3) | u64::from(wire));
    }

    /// An integer, enum or bool field (proto3 skips zero: callers may too).
    pub fn varint(&mut self, field: u32, v: u64) -> &mut Writer {
        self.key(field, 0);
        self.raw_varint(v);
        self
    }

    pub fn bytes(&mut self, field: u32, b: &[u8]) -> &mut Writer {
        self.key(field, 2);
        self.raw_varint(b.len() as u64);
        self.buf.extend_from_slice(b);
        self
    }

    pub fn string(&mut self, field: u32, s: &str) -> &mut Writer {
        self.bytes(field, s.as_bytes())
    }

    pub fn message(&mut self, field: u32, m: &Writer) -> &mut Writer {
        self.bytes(field, &m.buf)
    }

    pub fn finish(&self) -> Vec<u8> {
        self.buf.clone()
    }
}

fn read_varint(buf: &[u8], at: &mut usize) -> Result<u64, DecodeError> {
    let mut v = 0u64;
    for i in 0..10 {
        let b = *buf.get(*at).ok_or(DecodeError::Truncated)?;
        *at += 1;
        v |= u64::from(b & 0x7f) << (7 * i);
        if b & 0x80 == 0 {
            return Ok(v);
        }
    }
    Err(DecodeError::VarintTooLong)
}

fn take<'a>(buf: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let end = at.checked_add(n).ok_or(DecodeError::Truncated)?;
    let s = buf.get(*at..end).ok_or(DecodeError::Truncated)?;
    *at = end;
    Ok(s)
}

/// Every field of a message, in wire order (repeated fields appear once per value).
pub fn fields(buf: &[u8]) -> Result<Vec<(u32, Value<'_>)>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < buf.len() {
        let key = read_varint(buf, &mut at)?;
        let field = (key >> 3) as u32;
        let value = match (key & 7) as u8 {
            0 => Value::Varint(read_varint(buf, &mut at)?),
            1 => {
                let b = take(buf, &mut at, 8)?;
                Value::Fixed64(u64::from_le_bytes(
                    b.try_into().map_err(|_| DecodeError::Truncated)?,
                ))
            }
            2 => {
                let n = usize::try_from(read_varint(buf, &mut at)?)
                    .map_err(|_| DecodeError::Truncated)?;
                Value::Bytes(take(buf, &mut at, n)?)
            }
            5 => {
                let b = take(buf, &mut at, 4)?;
                Value::Fixed32(u32::from_le_bytes(
                    b.try_into().map_err(|_| DecodeError::Truncated)?,
                ))
            }
            other => return Err(DecodeError::WireType(other)),
        };
        out.push((field, value));
    }
    Ok(out)
}

/// The last value of `field` (proto3's rule for a repeated scalar read as singular).
pub fn field<'a>(fields: &[(u32, Value<'a>)], number: u32) -> Option<Value<'a>> {
    fields
        .iter()
        .rev()
        .find(|(n, _)| *n == number)
        .map(|(_, v)| *v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut inner = Writer::new();
        inner.string(1, "x");
        let mut w = Writer::new();
        w.varint(1, 300)
            .string(2, "héllo")
            .message(3, &inner)
            .varint(4, 0);
        let bytes = w.finish();
        // 300 = 0xAC 0x02, as the protobuf docs show.
        assert_eq!(&bytes[..3], &[0x08, 0xac, 0x02]);
        let f = fields(&bytes).unwrap();
        assert_eq!(field(&f, 1).and_then(|v| v.as_u64()), Some(300));
        assert_eq!(field(&f, 2).and_then(|v| v.as_str()), Some("héllo"));
        let Some(Value::Bytes(nested)) = field(&f, 3) else {
            panic!("nested")
        };
        assert_eq!(
            field(&fields(nested).unwrap(), 1).and_then(|v| v.as_str()),
            Some("x")
        );
        assert_eq!(
            fields(&bytes[..bytes.len() - 1]),
            Err(DecodeError::Truncated)
        );
        assert_eq!(fields(&[0x0b]), Err(DecodeError::WireType(3)));
    }
}
