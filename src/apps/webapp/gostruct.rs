//! The Go structs webapp decodes catalog's and forum's answers into, with `encoding/json`'s
//! rules: keys match fields exactly or case-insensitively, unknown keys are ignored, `null`
//! leaves the zero value, a wrong type is an error; encoding writes every field in declaration
//! order (`omitempty` skips an empty string). Re-encoding is why `/api/catalog` shows exactly
//! `id, color, department, name, price` and `imageUrl` only when catalog sent one.

use serde_json::{Map, Value};

/// A field's Go type.
#[derive(Debug, Clone, Copy)]
pub enum Kind {
    Int,
    Str,
    Struct(&'static [Field]),
}

/// A struct field with its `json:"…"` tag.
#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub omit_empty: bool,
}

const fn field(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        omit_empty: false,
    }
}

/// `clients.CatalogItem`.
pub const CATALOG_ITEM: &[Field] = &[
    field("id", Kind::Int),
    field("color", Kind::Str),
    field("department", Kind::Str),
    field("name", Kind::Str),
    field("price", Kind::Str),
    Field {
        name: "imageUrl",
        kind: Kind::Str,
        omit_empty: true,
    },
];

const ADDRESS: &[Field] = &[
    field("street", Kind::Str),
    field("suite", Kind::Str),
    field("city", Kind::Str),
    field("zipcode", Kind::Str),
];

pub const COMPANY: &[Field] = &[
    field("name", Kind::Str),
    field("catchPhrase", Kind::Str),
    field("bs", Kind::Str),
];

/// `clients.User` (forum's `/api/users`).
pub const USER: &[Field] = &[
    field("id", Kind::Int),
    field("name", Kind::Str),
    field("username", Kind::Str),
    field("email", Kind::Str),
    field("address", Kind::Struct(ADDRESS)),
    field("phone", Kind::Str),
    field("website", Kind::Str),
    field("company", Kind::Struct(COMPANY)),
];

/// A decoded value of one of those types.
#[derive(Debug, Clone, PartialEq)]
pub enum GoValue {
    Int(i64),
    Str(String),
    Struct(Vec<GoValue>),
}

impl GoValue {
    /// A struct field's text (empty for anything else), for templates.
    pub fn text(&self, fields: &[Field], name: &str) -> String {
        let GoValue::Struct(values) = self else {
            return String::new();
        };
        fields
            .iter()
            .zip(values)
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| match v {
                GoValue::Str(s) => s.clone(),
                GoValue::Int(i) => i.to_string(),
                GoValue::Struct(_) => String::new(),
            })
            .unwrap_or_default()
    }

    /// A nested struct field.
    pub fn get(&self, fields: &[Field], name: &str) -> Option<&GoValue> {
        let GoValue::Struct(values) = self else {
            return None;
        };
        fields
            .iter()
            .zip(values)
            .find(|(f, _)| f.name == name)
            .map(|(_, v)| v)
    }
}

/// Why `json.Unmarshal` failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    #[error("{0}")]
    Syntax(String),
    #[error("json: cannot unmarshal {found} into Go value of type {wanted}")]
    Type { found: String, wanted: &'static str },
}

/// `json.Unmarshal(text, &[]T{})`: `None` when the text is `null` (a nil slice).
pub fn decode_slice(
    text: &[u8],
    fields: &'static [Field],
) -> Result<Option<Vec<GoValue>>, DecodeError> {
    match parse(text)? {
        Value::Null => Ok(None),
        Value::Array(items) => items
            .iter()
            .map(|item| decode(item, Kind::Struct(fields)))
            .collect::<Result<Vec<_>, _>>()
            .map(Some),
        other => Err(type_error(&other, "slice")),
    }
}

/// `json.Unmarshal(text, &T{})`.
pub fn decode_struct(text: &[u8], fields: &'static [Field]) -> Result<GoValue, DecodeError> {
    decode(&parse(text)?, Kind::Struct(fields))
}

fn parse(text: &[u8]) -> Result<Value, DecodeError> {
    if text.iter().all(u8::is_ascii_whitespace) {
        return Err(DecodeError::Syntax("unexpected end of JSON input".into()));
    }
    serde_json::from_slice(text).map_err(|e| DecodeError::Syntax(e.to_string()))
}

/// The zero value of a type.
pub fn zero(kind: Kind) -> GoValue {
    match kind {
        Kind::Int => GoValue::Int(0),
        Kind::Str => GoValue::Str(String::new()),
        Kind::Struct(fields) => GoValue::Struct(fields.iter().map(|f| zero(f.kind)).collect()),
    }
}

fn decode(value: &Value, kind: Kind) -> Result<GoValue, DecodeError> {
    match (kind, value) {
        (_, Value::Null) => Ok(zero(kind)),
        (Kind::Int, Value::Number(n)) => n
            .as_i64()
            .map(GoValue::Int)
            .ok_or_else(|| type_error(value, "int")),
        (Kind::Str, Value::String(s)) => Ok(GoValue::Str(s.clone())),
        (Kind::Struct(fields), Value::Object(map)) => decode_fields(map, fields),
        (Kind::Int, _) => Err(type_error(value, "int")),
        (Kind::Str, _) => Err(type_error(value, "string")),
        (Kind::Struct(_), _) => Err(type_error(value, "struct")),
    }
}

fn decode_fields(map: &Map<String, Value>, fields: &[Field]) -> Result<GoValue, DecodeError> {
    let mut values: Vec<GoValue> = fields.iter().map(|f| zero(f.kind)).collect();
    for (key, value) in map {
        let index = fields
            .iter()
            .position(|f| f.name == key)
            .or_else(|| fields.iter().position(|f| f.name.eq_ignore_ascii_case(key)));
        let Some(index) = index else {
            continue;
        };
        // `null` leaves what is there (the zero value, or an earlier key's value).
        if !value.is_null() {
            values[index] = decode(value, fields[index].kind)?;
        }
    }
    Ok(GoValue::Struct(values))
}

fn type_error(found: &Value, wanted: &'static str) -> DecodeError {
    let found = match found {
        Value::Null => "null".to_owned(),
        Value::Bool(_) => "bool".to_owned(),
        Value::Number(n) => format!("number {n}"),
        Value::String(_) => "string".to_owned(),
        Value::Array(_) => "array".to_owned(),
        Value::Object(_) => "object".to_owned(),
    };
    DecodeError::Type { found, wanted }
}

/// `json.Marshal` of a struct, as an ordered JSON value.
pub fn encode(value: &GoValue, kind: Kind) -> Value {
    match (kind, value) {
        (_, GoValue::Int(i)) => Value::from(*i),
        (_, GoValue::Str(s)) => Value::from(s.as_str()),
        (Kind::Struct(fields), GoValue::Struct(values)) => {
            let mut map = Map::new();
            for (field, v) in fields.iter().zip(values) {
                if field.omit_empty && matches!(v, GoValue::Str(s) if s.is_empty()) {
                    continue;
                }
                map.insert(field.name.to_owned(), encode(v, field.kind));
            }
            Value::Object(map)
        }
        (_, GoValue::Struct(_)) => Value::Null,
    }
}

/// `json.Marshal` of a `*[]T` (`null` for a nil slice).
pub fn encode_slice(items: Option<&[GoValue]>, fields: &'static [Field]) -> Value {
    match items {
        None => Value::Null,
        Some(items) => Value::Array(
            items
                .iter()
                .map(|item| encode(item, Kind::Struct(fields)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::apps::jsontext::{self, Dialect};

    const MARSHAL: Dialect = Dialect::Go {
        escape_html: true,
        short_escapes: false,
    };

    fn roundtrip(text: &str) -> Result<String, DecodeError> {
        let items = decode_slice(text.as_bytes(), CATALOG_ITEM)?;
        Ok(jsontext::compact(
            &encode_slice(items.as_deref(), CATALOG_ITEM),
            MARSHAL,
        ))
    }

    #[test]
    fn reencodes_catalog_items() {
        let from_catalog = r#"[
  {"id": 1, "color": "amber", "department": "Eyewear", "name": "Elinor Glasses", "price": "282.00",
   "imageUrl": "http://lorempixel.com/640/480", "extra": [1]},
  {"name": "Hoop", "ID": 5, "Price": null}
]"#;
        assert_eq!(
            roundtrip(from_catalog).unwrap(),
            r#"[{"id":1,"color":"amber","department":"Eyewear","name":"Elinor Glasses","price":"282.00","imageUrl":"http://lorempixel.com/640/480"},{"id":5,"color":"","department":"","name":"Hoop","price":""}]"#
        );
        assert_eq!(roundtrip("null").unwrap(), "null");
        assert_eq!(roundtrip("[]").unwrap(), "[]");
        assert_eq!(
            roundtrip("[null]").unwrap(),
            r#"[{"id":0,"color":"","department":"","name":"","price":""}]"#
        );
    }

    #[test]
    fn wrong_types_and_garbage_fail() {
        for bad in [
            "",
            "Not Found",
            "{}",
            r#"[{"id": "1"}]"#,
            r#"[{"id": 1.5}]"#,
            r#"[{"price": 282}]"#,
            "[1]",
            "[] x",
        ] {
            assert!(roundtrip(bad).is_err(), "{bad:?}");
        }
        assert_eq!(
            decode_slice(b"{}", CATALOG_ITEM),
            Err(DecodeError::Type {
                found: "object".into(),
                wanted: "slice"
            })
        );
    }

    #[test]
    fn single_items_and_users() {
        let item = decode_struct(br#"{"id": 2, "name": "Atlas Shirt"}"#, CATALOG_ITEM).unwrap();
        assert_eq!(item.text(CATALOG_ITEM, "name"), "Atlas Shirt");
        assert_eq!(item.text(CATALOG_ITEM, "id"), "2");
        assert!(decode_struct(b"[]", CATALOG_ITEM).is_err());
        let users = decode_slice(
            br#"[{"id": 10, "name": "C", "address": {"city": "L", "geo": {"lat": "1"}}, "company": {"name": "H"}}]"#,
            USER,
        )
        .unwrap()
        .unwrap();
        assert_eq!(
            jsontext::compact(&encode_slice(Some(&users), USER), MARSHAL),
            r#"[{"id":10,"name":"C","username":"","email":"","address":{"street":"","suite":"","city":"L","zipcode":""},"phone":"","website":"","company":{"name":"H","catchPhrase":"","bs":""}}]"#
        );
        let company = users[0].get(USER, "company").unwrap();
        assert_eq!(company.text(COMPANY, "name"), "H");
    }
}
