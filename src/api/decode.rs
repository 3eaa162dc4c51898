//! Reading manifests as kubectl does: a file holds YAML (or JSON) documents separated by `---`
//! lines, possibly `kind: List`s of objects. Each object is checked — apiVersion/kind known and
//! served, schema (strict: unknown fields are errors), name rules — and decoded into a
//! [`Resource`]. Every problem of every document is reported, located in the file.

use serde_json::Value;

use super::diag::Diagnostic;
use super::kinds::{self, KindInfo};
use super::names;
use super::resource::{self, Resource};
use super::schema;
use super::tree::{self, Node, PathSeg, Tree, path_string};

/// One decoded object and the line where it starts in its file.
#[derive(Debug, Clone, PartialEq)]
pub struct Decoded {
    pub resource: Resource,
    /// 1-based line of the object's first key.
    pub line: usize,
}

/// Decodes every object of a manifest file. `source` names the file in diagnostics (`-` for
/// standard input). All or nothing: any problem in any document returns every problem found.
pub fn decode(source: &str, text: &str) -> Result<Vec<Decoded>, Vec<Diagnostic>> {
    let mut decoded = Vec::new();
    let mut problems = Vec::new();
    for doc in split_documents(text) {
        match tree::parse(doc.text, doc.first_line) {
            Ok(node) => decode_node(source, &node, &mut decoded, &mut problems),
            Err(err) => problems.push(
                Diagnostic::new(source, err.loc.line, err.loc.column, err.reason)
                    .with_fix("check the YAML syntax: indentation, quoting, `key: value` pairs"),
            ),
        }
    }
    if problems.is_empty() {
        Ok(decoded)
    } else {
        problems.sort_by_key(|d| (d.line, d.column));
        Err(problems)
    }
}

/// Every document of a file as a located tree (for formats decoded outside the resource
/// kinds, such as an IstioOperator's free-form spec), or every syntax error.
pub fn parse_trees(source: &str, text: &str) -> Result<Vec<Node>, Vec<Diagnostic>> {
    let mut nodes = Vec::new();
    let mut problems = Vec::new();
    for doc in split_documents(text) {
        match tree::parse(doc.text, doc.first_line) {
            Ok(node) => nodes.push(node),
            Err(err) => problems.push(Diagnostic::new(
                source,
                err.loc.line,
                err.loc.column,
                err.reason,
            )),
        }
    }
    if problems.is_empty() {
        Ok(nodes)
    } else {
        Err(problems)
    }
}

/// Decodes one JSON object with no file behind it (a stored resource): the same checks.
// A cold path (loading state); a plain `Diagnostic` keeps callers simple.
#[allow(clippy::result_large_err)]
pub fn decode_value(value: Value) -> Result<Resource, Diagnostic> {
    const SOURCE: &str = "<stored object>";
    let node = Node::from_json(&value);
    match decode_object(SOURCE, &node) {
        Ok(resource) => Ok(resource),
        Err(mut problems) => Err(if problems.is_empty() {
            Diagnostic::new(SOURCE, 0, 0, "invalid object")
        } else {
            problems.swap_remove(0)
        }),
    }
}

/// A document's text and the file line it starts on.
struct Document<'a> {
    text: &'a str,
    first_line: usize,
}

/// Splits on `---` lines (and `...` end markers) as kubectl's YAML reader does, skipping
/// documents with nothing but blank lines and comments. A `--- value` line starts a document
/// and stays in it.
fn split_documents(text: &str) -> Vec<Document<'_>> {
    let mut docs = Vec::new();
    let mut start = 0; // byte offset of the current document
    let mut start_line = 1;
    let mut offset = 0;
    for (line_no, line) in (1..).zip(text.split_inclusive('\n')) {
        let bare = line.trim_end();
        let marker = bare.starts_with("---") || bare.starts_with("...");
        let rest = bare.get(3..).unwrap_or("");
        if marker && (rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
            push_document(&text[start..offset], start_line, &mut docs);
            let rest = rest.trim();
            if rest.is_empty() || rest.starts_with('#') {
                start = offset + line.len();
                start_line = line_no + 1;
            } else {
                // `--- {a: 1}`: the marker line carries content; keep it in the new document.
                start = offset;
                start_line = line_no;
            }
        }
        offset += line.len();
    }
    push_document(&text[start..], start_line, &mut docs);
    docs
}

fn push_document<'a>(body: &'a str, first_line: usize, docs: &mut Vec<Document<'a>>) {
    let has_content = body.lines().any(|l| {
        let t = l.trim();
        !t.is_empty() && !t.starts_with('#') && !t.starts_with('%')
    });
    if has_content {
        docs.push(Document {
            text: body,
            first_line,
        });
    }
}

fn decode_node(source: &str, node: &Node, out: &mut Vec<Decoded>, problems: &mut Vec<Diagnostic>) {
    if node.get("kind").and_then(Node::as_str) == Some("List")
        && let Some(items) = node.get("items")
    {
        match &items.tree {
            Tree::Seq(items) => {
                for item in items {
                    decode_node(source, item, out, problems);
                }
            }
            Tree::Null => {}
            _ => problems.push(
                Diagnostic::new(
                    source,
                    items.loc.line,
                    items.loc.column,
                    format!("must be of type array, got {}", items.describe()),
                )
                .with_object(Some("List"), None)
                .with_field("items"),
            ),
        }
        return;
    }
    match decode_object(source, node) {
        Ok(resource) => out.push(Decoded {
            resource,
            line: node.loc.line,
        }),
        Err(found) => problems.extend(found),
    }
}

/// Checks and decodes one object, returning every problem found in it.
fn decode_object(source: &str, node: &Node) -> Result<Resource, Vec<Diagnostic>> {
    let kind_text = node.get("kind").and_then(Node::as_str);
    let name_text = node
        .get("metadata")
        .and_then(|m| m.get("name"))
        .and_then(Node::as_str);
    let at = |loc: tree::Loc, reason: String| {
        Diagnostic::new(source, loc.line, loc.column, reason).with_object(kind_text, name_text)
    };
    if !matches!(node.tree, Tree::Map(_)) {
        return Err(vec![
            at(
                node.loc,
                format!(
                    "expected an object with apiVersion and kind, got {}",
                    node.describe()
                ),
            )
            .with_fix(
                "a manifest document is a YAML mapping: `apiVersion: v1`, `kind: …`, `metadata: …`",
            ),
        ]);
    }
    let duplicates = node.duplicate_keys();
    if !duplicates.is_empty() {
        return Err(duplicates
            .into_iter()
            .map(|(key, loc, first)| {
                at(
                    loc,
                    format!("mapping key \"{key}\" already defined at line {first}"),
                )
                .with_fix("remove one of the two")
            })
            .collect());
    }

    let (info, api_version, kind) = type_meta(node, &at)?;

    let mut problems = Vec::new();
    let mut value = node.to_json();
    let registry = schema::registry();
    let violations = match registry.for_kind(&api_version, &kind) {
        Some(schema) => schema::validate(registry, schema, &mut value),
        // Every registered kind has a schema; were one missing, check metadata at least.
        None => match (registry.object_meta(), value.get_mut("metadata")) {
            (Some(meta_schema), Some(meta)) => schema::validate_at(
                registry,
                meta_schema,
                meta,
                vec![PathSeg::Key("metadata".to_owned())],
            ),
            _ => Vec::new(),
        },
    };
    for v in violations {
        let mut d = at(node.locate(&v.locate, v.at_key), v.reason).with_field(path_string(&v.path));
        d.fix = v.fix;
        problems.push(d);
    }
    check_names(info, node, &value, &at, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }

    let typed = resource::typed(info, value).map_err(|err| {
        let path: Vec<PathSeg> = err
            .path()
            .iter()
            .filter_map(|seg| match seg {
                serde_path_to_error::Segment::Seq { index } => Some(PathSeg::Index(*index)),
                serde_path_to_error::Segment::Map { key } => Some(PathSeg::Key(key.clone())),
                serde_path_to_error::Segment::Enum { variant } => {
                    Some(PathSeg::Key(variant.clone()))
                }
                serde_path_to_error::Segment::Unknown => None,
            })
            .collect();
        vec![at(node.locate(&path, false), err.inner().to_string()).with_field(path_string(&path))]
    })?;
    // What istiod's validating webhook refuses beyond the schema.
    let rejections = match &typed {
        Resource::VirtualService(vs) => super::istio::validate::virtual_service(vs),
        Resource::DestinationRule(dr) => super::istio::validate::destination_rule(dr),
        _ => Vec::new(),
    };
    if rejections.is_empty() {
        return Ok(typed);
    }
    Err(rejections
        .into_iter()
        .map(|r| {
            at(
                node.locate_field(&r.path),
                format!("{}: {}", super::istio::validate::DENIED, r.message),
            )
            .with_field(path_string(&r.path))
        })
        .collect())
}

/// `apiVersion` and `kind`: present, strings, and a kind served in that version.
fn type_meta(
    node: &Node,
    at: &impl Fn(tree::Loc, String) -> Diagnostic,
) -> Result<(&'static KindInfo, String, String), Vec<Diagnostic>> {
    let mut problems = Vec::new();
    let mut field = |name: &str| -> Option<String> {
        match node.get(name) {
            Some(Node {
                tree: Tree::Str(s), ..
            }) if !s.is_empty() => Some(s.clone()),
            Some(other) if !matches!(other.tree, Tree::Null | Tree::Str(_)) => {
                problems.push(
                    at(
                        other.loc,
                        format!("must be of type string, got {}", other.describe()),
                    )
                    .with_field(name),
                );
                None
            }
            _ => {
                let fix = if name == "kind" {
                    "add the object's kind, e.g. `kind: Deployment`"
                } else {
                    "add the object's API version, e.g. `apiVersion: apps/v1`"
                };
                problems.push(
                    at(node.loc, format!("{name} not set"))
                        .with_field(name)
                        .with_fix(fix),
                );
                None
            }
        }
    };
    let api_version = field("apiVersion");
    let kind = field("kind");
    let (Some(api_version), Some(kind)) = (api_version, kind) else {
        return Err(problems);
    };
    match kinds::lookup(&api_version, &kind) {
        Ok(info) => Ok((info, api_version, kind)),
        Err(no_match) => {
            let loc = node
                .get(no_match.wrong_field)
                .map(|n| n.loc)
                .unwrap_or(node.loc);
            let mut d = at(loc, no_match.to_string()).with_field(no_match.wrong_field);
            d.fix = no_match.fix;
            Err(vec![d])
        }
    }
}

/// `metadata.name` set and well-formed for the kind; `metadata.namespace` a valid name; label
/// keys and values (of the object and of its pod template) well-formed.
fn check_names(
    info: &KindInfo,
    node: &Node,
    value: &Value,
    at: &impl Fn(tree::Loc, String) -> Diagnostic,
    problems: &mut Vec<Diagnostic>,
) {
    let name_path = [PathSeg::Key("metadata".into()), PathSeg::Key("name".into())];
    match value.pointer("/metadata/name") {
        Some(Value::String(name)) if !name.is_empty() => {
            if let Some(problem) = names::name_problem(info, name) {
                problems.push(
                    at(
                        node.locate(&name_path, false),
                        format!("Invalid value: {}: {problem}", Value::String(name.clone())),
                    )
                    .with_field("metadata.name")
                    .with_fix(format!("try \"{}\"", names::suggest_name(name))),
                );
            }
        }
        // A `metadata` or `name` of the wrong type was reported by the schema already.
        _ if value.get("metadata").is_some_and(|m| !m.is_object()) => {}
        Some(Value::String(_)) | None => {
            let loc = match node.get("metadata") {
                Some(meta) => meta.loc,
                None => node.loc,
            };
            problems.push(
                at(loc, "resource name may not be empty".to_owned())
                    .with_field("metadata.name")
                    .with_fix("add `metadata: {name: …}`"),
            );
        }
        Some(_) => {}
    }
    for base in ["metadata", "spec.template.metadata"] {
        let mut path: Vec<PathSeg> = base
            .split('.')
            .map(|k| PathSeg::Key(k.to_owned()))
            .collect();
        path.push(PathSeg::Key("labels".to_owned()));
        let pointer = format!("/{}/labels", base.replace('.', "/"));
        let Some(Value::Object(labels)) = value.pointer(&pointer) else {
            continue;
        };
        for (key, label) in labels {
            path.push(PathSeg::Key(key.clone()));
            if let Some(problem) = names::label_key_problem(key) {
                problems.push(
                    at(
                        node.locate(&path, true),
                        format!("Invalid value: {}: {problem}", Value::String(key.clone())),
                    )
                    .with_field(path_string(&path[..path.len() - 1])),
                );
            }
            if let Some(text) = label.as_str()
                && let Some(problem) = names::label_value_problem(text)
            {
                problems.push(
                    at(
                        node.locate(&path, false),
                        format!("Invalid value: {label}: {problem}"),
                    )
                    .with_field(path_string(&path)),
                );
            }
            path.pop();
        }
    }
    if let Some(Value::String(ns)) = value.pointer("/metadata/namespace")
        && !ns.is_empty()
        && let Some(problem) = names::namespace_problem(ns)
    {
        let ns_path = [
            PathSeg::Key("metadata".into()),
            PathSeg::Key("namespace".into()),
        ];
        problems.push(
            at(
                node.locate(&ns_path, false),
                format!("Invalid value: {}: {problem}", Value::String(ns.clone())),
            )
            .with_field("metadata.namespace"),
        );
    }
}
