//! Checks a JSON value against a schema the way the Kubernetes API server does with
//! `fieldValidation=Strict` (kubectl's default): types, enums, ranges, lengths, patterns,
//! formats, required fields, oneOf/anyOf/allOf/not, list uniqueness, the CEL rules we know, and
//! unknown fields wherever a schema lists `properties` and does not preserve unknown fields.
//! Every violation is collected, with the path of the field it concerns.

use serde_json::{Map, Value};

use super::model::{Additional, Schema};
use super::{Registry, rules};
use crate::api::base64;
use crate::api::suggest;
use crate::api::tree::{PathSeg, path_string};

/// One problem found in a value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// The field the problem concerns (for a missing field, the field that is missing).
    pub path: Vec<PathSeg>,
    /// Where to point: the node at `path`, its key (`at_key`), or for a missing field its parent.
    pub locate: Vec<PathSeg>,
    pub at_key: bool,
    pub reason: String,
    pub fix: Option<String>,
}

impl Violation {
    fn at(path: &[PathSeg], reason: String) -> Violation {
        Violation {
            path: path.to_vec(),
            locate: path.to_vec(),
            at_key: false,
            reason,
            fix: None,
        }
    }

    fn with_fix(mut self, fix: Option<String>) -> Violation {
        self.fix = fix;
        self
    }
}

/// Validates `value` against `schema`; empty when it is valid. First drops `null` values of
/// fields that are not `nullable`, as the API server prunes them (for built-in kinds, Go decodes
/// null as "not set"): `labels:` with nothing after it is no error.
pub fn validate(registry: &Registry, schema: &Schema, value: &mut Value) -> Vec<Violation> {
    validate_at(registry, schema, value, Vec::new())
}

/// [`validate`] for a value found at `base` inside a larger object (paths include `base`).
pub fn validate_at(
    registry: &Registry,
    schema: &Schema,
    value: &mut Value,
    mut base: Vec<PathSeg>,
) -> Vec<Violation> {
    prune_nulls(registry, schema, value);
    let mut v = Validator {
        registry,
        out: Vec::new(),
    };
    v.check(schema, value, &mut base, true);
    v.out
}

struct Validator<'r> {
    registry: &'r Registry,
    out: Vec<Violation>,
}

impl Validator<'_> {
    /// `structural` is false inside oneOf/anyOf/allOf/not branches, which only add constraints
    /// (Kubernetes forbids them to declare fields), so unknown fields are not judged there.
    fn check(&mut self, schema: &Schema, value: &Value, path: &mut Vec<PathSeg>, structural: bool) {
        if let Some(name) = &schema.reference {
            if let Some(target) = self.registry.definition(name) {
                self.check(target, value, path, structural);
            }
            return;
        }
        if !self.check_type(schema, value, path) {
            return;
        }
        if value.is_null() {
            return;
        }
        if let Some(allowed) = &schema.enum_values
            && !allowed.contains(value)
        {
            self.unsupported(allowed, value, path);
        }
        match value {
            Value::String(s) => self.check_string(schema, s, path),
            Value::Number(_) => self.check_number(schema, value, path),
            Value::Array(items) => self.check_array(schema, items, path, structural),
            Value::Object(map) => self.check_object(schema, map, path, structural),
            Value::Bool(_) | Value::Null => {}
        }
        self.check_combinators(schema, value, path);
        for rule in &schema.validations {
            if let Some(reason) = rules::check(&rule.rule, &rule.message, value) {
                self.out.push(Violation::at(path, reason));
            }
        }
    }

    /// False when the value has the wrong type (then nothing below it is checked).
    fn check_type(&mut self, schema: &Schema, value: &Value, path: &[PathSeg]) -> bool {
        if schema.int_or_string {
            if value.is_string() || is_integer(value) || (value.is_null() && schema.nullable) {
                return true;
            }
            self.out.push(Violation::at(
                path,
                format!(
                    "must be an integer or a string, got {}",
                    crate::api::tree::describe(value)
                ),
            ));
            return false;
        }
        let types = schema.types.list();
        if types.is_empty() {
            return true;
        }
        if value.is_null() {
            if schema.nullable {
                return true;
            }
        } else if types.iter().any(|t| has_type(value, t)) {
            return true;
        }
        self.out.push(Violation::at(
            path,
            format!(
                "must be of type {}, got {}",
                types.join(" or "),
                crate::api::tree::describe(value)
            ),
        ));
        false
    }

    fn unsupported(&mut self, allowed: &[Value], value: &Value, path: &[PathSeg]) {
        let list: Vec<String> = allowed.iter().map(Value::to_string).collect();
        let fix = value.as_str().and_then(|s| {
            let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
            suggest::closest(s, names).map(|best| format!("did you mean \"{best}\"?"))
        });
        self.out.push(
            Violation::at(
                path,
                format!(
                    "Unsupported value: {}: supported values: {}",
                    short(value),
                    list.join(", ")
                ),
            )
            .with_fix(fix),
        );
    }

    fn check_string(&mut self, schema: &Schema, s: &str, path: &[PathSeg]) {
        let len = s.chars().count() as u64;
        if let Some(max) = schema.max_length
            && len > max
        {
            self.out.push(Violation::at(
                path,
                format!("Too long: may not be longer than {max}"),
            ));
        }
        if let Some(min) = schema.min_length
            && len < min
        {
            self.out.push(Violation::at(
                path,
                format!(
                    "Invalid value: {}: should be at least {min} chars long",
                    short_str(s)
                ),
            ));
        }
        if let Some(re) = schema.pattern_regex()
            && !re.is_match(s)
        {
            self.out.push(Violation::at(
                path,
                format!(
                    "Invalid value: {}: should match '{}'",
                    short_str(s),
                    schema.pattern.as_deref().unwrap_or_default()
                ),
            ));
        }
        if let Some(format) = &schema.format
            && let Some(problem) = string_format_problem(format, s)
        {
            self.out.push(Violation::at(
                path,
                format!("Invalid value: {}: {problem}", short_str(s)),
            ));
        }
    }

    fn check_number(&mut self, schema: &Schema, value: &Value, path: &[PathSeg]) {
        let Some(n) = value.as_f64() else { return };
        let shown = value.to_string();
        if let Some(max) = schema.maximum {
            if schema.exclusive_maximum && n >= max {
                self.out.push(Violation::at(
                    path,
                    format!("Invalid value: {shown}: must be less than {}", num(max)),
                ));
            } else if n > max {
                self.out.push(Violation::at(
                    path,
                    format!(
                        "Invalid value: {shown}: must be less than or equal to {}",
                        num(max)
                    ),
                ));
            }
        }
        if let Some(min) = schema.minimum {
            if schema.exclusive_minimum && n <= min {
                self.out.push(Violation::at(
                    path,
                    format!("Invalid value: {shown}: must be greater than {}", num(min)),
                ));
            } else if n < min {
                self.out.push(Violation::at(
                    path,
                    format!(
                        "Invalid value: {shown}: must be greater than or equal to {}",
                        num(min)
                    ),
                ));
            }
        }
        if schema.format.as_deref() == Some("int32")
            && let Some(i) = value.as_i64().or_else(|| value.as_u64().map(|_| i64::MAX))
            && i32::try_from(i).is_err()
        {
            self.out.push(Violation::at(
                path,
                format!("Invalid value: {shown}: out of range for a 32-bit integer"),
            ));
        }
    }

    fn check_array(
        &mut self,
        schema: &Schema,
        items: &[Value],
        path: &mut Vec<PathSeg>,
        structural: bool,
    ) {
        let n = items.len() as u64;
        if let Some(max) = schema.max_items
            && n > max
        {
            self.out.push(Violation::at(
                path,
                format!("Too many: {n}: must have at most {max} items"),
            ));
        }
        if let Some(min) = schema.min_items
            && n < min
        {
            self.out.push(Violation::at(
                path,
                format!("must have at least {min} items, got {n}"),
            ));
        }
        if let Some(item_schema) = &schema.items {
            for (i, item) in items.iter().enumerate() {
                path.push(PathSeg::Index(i));
                self.check(item_schema, item, path, structural);
                path.pop();
            }
        }
        match schema.list_type.as_deref() {
            Some("set") => {
                for (i, item) in items.iter().enumerate() {
                    if items[..i].contains(item) {
                        path.push(PathSeg::Index(i));
                        self.out.push(Violation::at(
                            path,
                            format!("Duplicate value: {}", short(item)),
                        ));
                        path.pop();
                    }
                }
            }
            Some("map") if !schema.list_map_keys.is_empty() => {
                let key_of = |item: &Value| -> Map<String, Value> {
                    schema
                        .list_map_keys
                        .iter()
                        .filter_map(|k| item.get(k).map(|v| (k.clone(), v.clone())))
                        .collect()
                };
                let keys: Vec<Map<String, Value>> = items.iter().map(key_of).collect();
                for i in 0..keys.len() {
                    if keys[..i].contains(&keys[i]) {
                        path.push(PathSeg::Index(i));
                        self.out.push(Violation::at(
                            path,
                            format!("Duplicate value: {}", Value::Object(keys[i].clone())),
                        ));
                        path.pop();
                    }
                }
            }
            _ => {}
        }
    }

    fn check_object(
        &mut self,
        schema: &Schema,
        map: &Map<String, Value>,
        path: &mut Vec<PathSeg>,
        structural: bool,
    ) {
        let n = map.len() as u64;
        if let Some(max) = schema.max_properties
            && n > max
        {
            self.out.push(Violation::at(
                path,
                format!("Too many: {n}: must have at most {max} items"),
            ));
        }
        if let Some(min) = schema.min_properties
            && n < min
        {
            self.out.push(Violation::at(
                path,
                format!("must have at least {min} items, got {n}"),
            ));
        }
        for name in &schema.required {
            if !map.contains_key(name) {
                let mut missing = path.clone();
                missing.push(PathSeg::Key(name.clone()));
                self.out.push(Violation {
                    path: missing,
                    locate: path.clone(),
                    at_key: false,
                    reason: "Required value".to_owned(),
                    fix: Some(format!("add `{name}`")),
                });
            }
        }
        let declares_fields = schema.properties.is_some() || schema.is_object();
        for (key, item) in map {
            path.push(PathSeg::Key(key.clone()));
            if let Some(prop) = schema.properties.as_ref().and_then(|p| p.get(key)) {
                self.check(prop, item, path, structural);
            } else {
                match &schema.additional_properties {
                    Some(Additional::Schema(each)) => self.check(each, item, path, structural),
                    Some(Additional::Allowed(true)) => {}
                    _ if !structural || !declares_fields || schema.preserve_unknown_fields => {}
                    _ => self.unknown_field(schema, key, path),
                }
            }
            path.pop();
        }
    }

    fn unknown_field(&mut self, schema: &Schema, key: &str, path: &[PathSeg]) {
        let names: Vec<&str> = schema
            .properties
            .as_ref()
            .map(|p| p.keys().map(String::as_str).collect())
            .unwrap_or_default();
        let fix = match suggest::closest(key, names.iter().copied()) {
            Some(best) => Some(format!("did you mean \"{best}\"?")),
            None if names.is_empty() => Some("this object has no fields".to_owned()),
            None if names.len() <= 12 => Some(format!("known fields: {}", names.join(", "))),
            None => None,
        };
        self.out.push(Violation {
            path: path.to_vec(),
            locate: path.to_vec(),
            at_key: true,
            reason: format!(
                "strict decoding error: unknown field \"{}\"",
                path_string(path)
            ),
            fix,
        });
    }

    fn check_combinators(&mut self, schema: &Schema, value: &Value, path: &mut Vec<PathSeg>) {
        for branch in &schema.all_of {
            self.check(branch, value, path, false);
        }
        if !schema.one_of.is_empty() {
            let passing = schema
                .one_of
                .iter()
                .filter(|b| self.passes(b, value, path))
                .count();
            if passing != 1 {
                let reason = match exclusive_fields(&schema.one_of) {
                    Some(fields) => {
                        let set: Vec<String> = fields
                            .iter()
                            .filter(|f| value.get(f.as_str()).is_some())
                            .map(|f| format!("`{f}`"))
                            .collect();
                        let all: Vec<String> = fields.iter().map(|f| format!("`{f}`")).collect();
                        format!(
                            "Invalid value: only one of {} may be set, found {}",
                            all.join(", "),
                            set.join(" and ")
                        )
                    }
                    None => format!(
                        "Invalid value: must validate one and only one schema (oneOf), found {passing}"
                    ),
                };
                self.out.push(Violation::at(path, reason));
            }
        }
        if !schema.any_of.is_empty() && !schema.any_of.iter().any(|b| self.passes(b, value, path)) {
            let types: Vec<&str> = schema
                .any_of
                .iter()
                .filter_map(|b| match b.types.list().as_slice() {
                    [t] => Some(*t),
                    _ => None,
                })
                .collect();
            let reason = if types.len() == schema.any_of.len() {
                format!(
                    "must be of type {}, got {}",
                    types.join(" or "),
                    crate::api::tree::describe(value)
                )
            } else {
                // Report what the closest alternative objects to.
                let mut best: Option<Vec<Violation>> = None;
                for branch in &schema.any_of {
                    let found = self.sub_check(branch, value, path);
                    if best.as_ref().is_none_or(|b| found.len() < b.len()) {
                        best = Some(found);
                    }
                }
                match best.and_then(|b| b.into_iter().next()) {
                    Some(v) => {
                        self.out.push(v);
                        return;
                    }
                    None => "Invalid value: must validate at least one schema (anyOf)".to_owned(),
                }
            };
            self.out.push(Violation::at(path, reason));
        }
        if let Some(not) = &schema.not
            && self.passes(not, value, path)
        {
            self.out.push(Violation::at(
                path,
                "Invalid value: must not validate the schema (not)".to_owned(),
            ));
        }
    }

    fn sub_check(&self, schema: &Schema, value: &Value, path: &mut Vec<PathSeg>) -> Vec<Violation> {
        let mut sub = Validator {
            registry: self.registry,
            out: Vec::new(),
        };
        sub.check(schema, value, path, false);
        sub.out
    }

    fn passes(&self, schema: &Schema, value: &Value, path: &mut Vec<PathSeg>) -> bool {
        self.sub_check(schema, value, path).is_empty()
    }
}

fn prune_nulls(registry: &Registry, schema: &Schema, value: &mut Value) {
    let schema = match &schema.reference {
        Some(name) => match registry.definition(name) {
            Some(target) => target,
            None => return,
        },
        None => schema,
    };
    match value {
        Value::Object(map) => {
            let field_schema = |key: &str| -> Option<&Schema> {
                match schema.properties.as_ref().and_then(|p| p.get(key)) {
                    Some(prop) => Some(prop),
                    None => match &schema.additional_properties {
                        Some(Additional::Schema(each)) => Some(each),
                        _ => None,
                    },
                }
            };
            map.retain(|key, item| {
                !(item.is_null()
                    && field_schema(key).is_some_and(|s| !resolve(registry, s).nullable))
            });
            for (key, item) in map.iter_mut() {
                if let Some(sub) = field_schema(key) {
                    prune_nulls(registry, sub, item);
                }
            }
        }
        Value::Array(items) => {
            if let Some(each) = &schema.items {
                items
                    .iter_mut()
                    .for_each(|item| prune_nulls(registry, each, item));
            }
        }
        _ => {}
    }
}

fn resolve<'a>(registry: &'a Registry, schema: &'a Schema) -> &'a Schema {
    match &schema.reference {
        Some(name) => registry.definition(name).unwrap_or(schema),
        None => schema,
    }
}

/// Istio's "at most one of these fields" idiom: `oneOf: [not: {anyOf: [required: [a], …]},
/// required: [a], required: [b], …]`. Returns the field names.
fn exclusive_fields(branches: &[Schema]) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    for b in branches {
        match (&b.not, b.required.as_slice()) {
            (Some(_), []) => {}
            (None, [one]) => fields.push(one.clone()),
            _ => return None,
        }
    }
    (!fields.is_empty()).then_some(fields)
}

fn is_integer(value: &Value) -> bool {
    value.is_i64() || value.is_u64()
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "integer" => is_integer(value),
        "number" => value.is_number(),
        "boolean" => value.is_boolean(),
        _ => true,
    }
}

fn string_format_problem(format: &str, s: &str) -> Option<String> {
    match format {
        "byte" => base64::decode(s).err().map(|e| e.to_string()),
        "date-time" => (!is_rfc3339(s))
            .then(|| "must be an RFC 3339 date-time, e.g. \"2024-05-01T10:00:00Z\"".to_owned()),
        "ipv4" => s
            .parse::<std::net::Ipv4Addr>()
            .is_err()
            .then(|| "must be a valid IPv4 address".to_owned()),
        "ipv6" => s
            .parse::<std::net::Ipv6Addr>()
            .is_err()
            .then(|| "must be a valid IPv6 address".to_owned()),
        _ => None,
    }
}

fn is_rfc3339(s: &str) -> bool {
    static RE: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    RE.get_or_init(|| {
        regex::Regex::new(
            r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$",
        )
        .ok()
    })
    .as_ref()
    .is_none_or(|re| re.is_match(s))
}

/// A value as kubectl quotes it in messages, long strings shortened.
fn short(value: &Value) -> String {
    match value {
        Value::String(s) => short_str(s),
        other => {
            let text = other.to_string();
            if text.chars().count() > 60 {
                format!("{}…", text.chars().take(60).collect::<String>())
            } else {
                text
            }
        }
    }
}

fn short_str(s: &str) -> String {
    if s.chars().count() > 40 {
        format!("{}…", Value::String(s.chars().take(40).collect::<String>()))
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

fn num(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        n.to_string()
    }
}
