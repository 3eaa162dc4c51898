//! `kubectl get` output (kubectl 1.32) as pure functions of what the sandbox API returns:
//! the tables the API server builds for each kind (built-in printers in [`builtin`], CRD
//! printer columns in [`crd`]) laid out by kubectl's tabwriter (minwidth 6, padding 3), and
//! `-o name|json|yaml` ([`encode`]).
//!
//! What kubectl adds around the tables is reproduced too: NAMESPACE first with `-A`, NAME as
//! `kind.group/name` when several kinds were asked for (or `--show-kind`), one table per kind
//! with a blank line between, kinds without objects left out, and `No resources found in ns
//! namespace.` on stderr when nothing was printed.

mod builtin;
mod crd;
mod encode;
mod meta;

#[cfg(test)]
mod golden;

use std::str::FromStr;
use std::time::SystemTime;

use serde_json::Value;

use super::table::Table;
use encode::compact as gojson_compact;
use meta::{arr, s};

/// One kind's objects, as the sandbox API's `get` returns them.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub kind: String,
    pub group: String,
    pub plural: String,
    pub namespaced: bool,
    /// Full objects (`apiVersion`, `kind`, `metadata`, `spec`, `status`).
    pub items: Vec<Value>,
}

impl Listing {
    /// The listings of a `get` reply: `{"listings": [{"kind", "group", "plural",
    /// "namespaced", "items": [...]}]}`. Missing fields read as empty.
    pub fn from_json(v: &Value) -> Vec<Listing> {
        arr(&v["listings"])
            .iter()
            .map(|l| Listing {
                kind: s(&l["kind"]).to_string(),
                group: s(&l["group"]).to_string(),
                plural: s(&l["plural"]).to_string(),
                namespaced: l["namespaced"].as_bool().unwrap_or(false),
                items: arr(&l["items"]).to_vec(),
            })
            .collect()
    }
}

/// kubectl's `-o` values that `get` supports here.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum Format {
    Table,
    Wide,
    Name,
    Yaml,
    Json,
}

/// An `-o` value kubectl has no printer for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unable to match a printer suitable for the output format {0:?}, allowed formats are: json,name,wide,yaml"
)]
pub struct UnknownFormat(pub String);

impl FromStr for Format {
    type Err = UnknownFormat;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" => Ok(Format::Table),
            "wide" => Ok(Format::Wide),
            "name" => Ok(Format::Name),
            "yaml" => Ok(Format::Yaml),
            "json" => Ok(Format::Json),
            other => Err(UnknownFormat(other.to_string())),
        }
    }
}

/// What `kubectl get` writes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GetOutput {
    pub stdout: String,
    pub stderr: String,
}

/// An object as `kubectl get -o yaml` (and `istioctl manifest generate`) prints it.
pub fn yaml(value: &serde_json::Value) -> String {
    encode::yaml(value)
}

/// Renders a `get` as kubectl does.
///
/// - `all_namespaces`: `-A` (NAMESPACE column, `No resources found` without a namespace).
/// - `namespace`: the namespace asked for, for `No resources found in <ns> namespace.`.
/// - `show_kind`: `--show-kind`; kind prefixes are also used whenever the listings are of
///   more than one kind.
/// - `single`: one object was asked for by name (`get pod x`): `-o json|yaml` then print the
///   object itself rather than a `List`, if exactly one was found.
/// - `now`: the clock for AGE.
pub fn render(
    listings: &[Listing],
    format: Format,
    all_namespaces: bool,
    namespace: &str,
    show_kind: bool,
    single: bool,
    now: SystemTime,
) -> GetOutput {
    match format {
        Format::Table | Format::Wide => tables(
            listings,
            &Cx {
                now: meta::unix_nanos(now),
            },
            format == Format::Wide,
            all_namespaces,
            namespace,
            show_kind,
        ),
        Format::Name => GetOutput {
            stdout: listings
                .iter()
                .flat_map(|l| {
                    l.items
                        .iter()
                        .map(|o| encode::name_line(o, &l.kind, &l.group))
                })
                .collect(),
            stderr: String::new(),
        },
        Format::Json | Format::Yaml => {
            let mut items: Vec<Value> = listings
                .iter()
                .flat_map(|l| l.items.iter().map(encode::without_managed_fields))
                .collect();
            let value = if single && items.len() == 1 {
                items.remove(0)
            } else {
                encode::list(items)
            };
            let stdout = if format == Format::Json {
                encode::json(&value)
            } else {
                encode::yaml(&value)
            };
            GetOutput {
                stdout,
                stderr: String::new(),
            }
        }
    }
}

/// A table column: its name as declared (printed upper-cased) and whether only `-o wide`
/// shows it (`priority: 1`).
#[derive(Debug, Clone, Copy)]
struct Column {
    name: &'static str,
    wide: bool,
}

/// What a row's cells depend on besides the object. (Not `-o wide`: the API server always
/// computes every column, and kubectl leaves the wide ones out.)
struct Cx {
    /// Nanoseconds since the Unix epoch.
    now: i128,
}

/// How the API server turns one kind's objects into rows.
enum KindTable {
    Builtin(builtin::Printer),
    Crd(&'static [crd::CrdColumn]),
}

impl KindTable {
    fn of(group: &str, kind: &str) -> KindTable {
        match builtin::printer(group, kind) {
            Some(p) => KindTable::Builtin(p),
            None => KindTable::Crd(crd::columns(group, kind)),
        }
    }

    fn columns(&self) -> Vec<Column> {
        match self {
            KindTable::Builtin(p) => p.columns.to_vec(),
            KindTable::Crd(cols) => crd::table_columns(cols),
        }
    }

    fn cells(&self, object: &Value, cx: &Cx) -> Vec<String> {
        match self {
            KindTable::Builtin(p) => (p.cells)(object, cx),
            KindTable::Crd(cols) => crd::cells(object, cols, cx.now),
        }
    }
}

/// `kubectl get` with a table printer: one table per kind, blank lines between them.
fn tables(
    listings: &[Listing],
    cx: &Cx,
    wide: bool,
    all_namespaces: bool,
    namespace: &str,
    show_kind: bool,
) -> GetOutput {
    let with_kind = show_kind || several_kinds(listings);
    let mut out = GetOutput::default();
    let mut i = 0;
    while i < listings.len() {
        // Consecutive listings of one kind continue one table (kubectl keeps its printer).
        let first = &listings[i];
        let mut j = i + 1;
        while j < listings.len() && same_kind(&listings[j], first) {
            j += 1;
        }
        let with_namespace = all_namespaces && first.namespaced;
        if let Some(text) = table(&listings[i..j], cx, wide, with_namespace, with_kind) {
            if !out.stdout.is_empty() {
                out.stdout.push('\n');
            }
            out.stdout.push_str(&text);
        }
        i = j;
    }
    if out.stdout.is_empty() {
        let all_namespaced = !all_namespaces && listings.iter().all(|l| l.namespaced);
        out.stderr = if all_namespaced {
            format!("No resources found in {namespace} namespace.\n")
        } else {
            "No resources found\n".to_string()
        };
    }
    out
}

fn same_kind(a: &Listing, b: &Listing) -> bool {
    a.kind == b.kind && a.group == b.group
}

/// kubectl's `multipleGVKsRequested`: NAME cells get their kind once two kinds are involved.
fn several_kinds(listings: &[Listing]) -> bool {
    listings.iter().any(|l| !same_kind(l, &listings[0]))
}

/// One kind's table, or nothing if it has no objects (kubectl prints no header then).
fn table(
    listings: &[Listing],
    cx: &Cx,
    wide: bool,
    with_namespace: bool,
    with_kind: bool,
) -> Option<String> {
    kind_table(listings, cx, wide, with_namespace, with_kind).map(|t| t.render())
}

/// The rows (header first) of `kubectl get KIND -A` for one listing at `now`, for views that
/// lay them out themselves (the TUI); `None` when it has no objects.
pub fn listing_rows(listing: &Listing, now: SystemTime) -> Option<Vec<Vec<String>>> {
    let cx = Cx {
        now: meta::unix_nanos(now),
    };
    kind_table(
        std::slice::from_ref(listing),
        &cx,
        false,
        listing.namespaced,
        false,
    )
    .map(|t| t.rows().to_vec())
}

fn kind_table(
    listings: &[Listing],
    cx: &Cx,
    wide: bool,
    with_namespace: bool,
    with_kind: bool,
) -> Option<Table> {
    let first = listings.first()?;
    let objects: Vec<&Value> = listings.iter().flat_map(|l| &l.items).collect();
    if objects.is_empty() {
        return None;
    }
    let kind_table = KindTable::of(&first.group, &first.kind);
    let columns = kind_table.columns();
    let shown = |i: &usize| !columns[*i].wide || wide;
    let visible: Vec<usize> = (0..columns.len()).filter(shown).collect();
    let prefix = if first.group.is_empty() {
        first.kind.to_lowercase()
    } else {
        format!("{}.{}", first.kind, first.group).to_lowercase()
    };

    let mut t = Table::new(3).min_width(6);
    let mut header: Vec<String> = Vec::new();
    if with_namespace {
        header.push("NAMESPACE".to_string());
    }
    header.extend(visible.iter().map(|&i| columns[i].name.to_uppercase()));
    t.row(header);
    for object in objects {
        let mut cells = kind_table.cells(object, cx);
        if with_kind && let Some(name) = cells.first_mut() {
            *name = format!("{prefix}/{name}");
        }
        let mut row: Vec<String> = Vec::new();
        if with_namespace {
            row.push(escape_cell(s(&object["metadata"]["namespace"])));
        }
        row.extend(
            visible
                .iter()
                .map(|&i| escape_cell(cells.get(i).map_or("", String::as_str))),
        );
        t.row(row);
    }
    Some(t)
}

/// A cell as kubectl's table printer writes it: cut at the first line break (`...` marks
/// the cut), terminal escapes made visible.
fn escape_cell(cell: &str) -> String {
    let (text, cut) = match cell.find(['\n', '\r', '\u{c}']) {
        Some(at) => (&cell[..at], true),
        None => (cell, false),
    };
    let mut out = text.replace('\u{1b}', "^[");
    if cut {
        out.push_str("...");
    }
    out
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, UNIX_EPOCH};

    use serde_json::json;

    use super::*;

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_748_736_000)
    }

    fn listing(kind: &str, group: &str, namespaced: bool, items: Vec<Value>) -> Listing {
        Listing {
            kind: kind.into(),
            group: group.into(),
            plural: format!("{}s", kind.to_lowercase()),
            namespaced,
            items,
        }
    }

    #[test]
    fn formats_parse_like_kubectl() {
        assert_eq!("".parse(), Ok(Format::Table));
        assert_eq!("wide".parse(), Ok(Format::Wide));
        assert_eq!("json".parse(), Ok(Format::Json));
        assert_eq!(
            "table".parse::<Format>().map_err(|e| e.to_string()),
            Err("unable to match a printer suitable for the output format \"table\", allowed formats are: json,name,wide,yaml".to_string())
        );
    }

    #[test]
    fn listings_from_the_api_reply() {
        let body = json!({"listings": [{"kind": "Pod", "group": "", "plural": "pods",
            "namespaced": true, "actedOn": true, "items": [{"metadata": {"name": "a"}}]}]});
        assert_eq!(
            Listing::from_json(&body),
            [listing(
                "Pod",
                "",
                true,
                vec![json!({"metadata": {"name": "a"}})]
            )]
        );
    }

    #[test]
    fn nothing_found() {
        let pods = [listing("Pod", "", true, vec![])];
        let got = render(
            &pods,
            Format::Table,
            false,
            "istioinaction",
            false,
            false,
            now(),
        );
        assert_eq!(got.stdout, "");
        assert_eq!(
            got.stderr,
            "No resources found in istioinaction namespace.\n"
        );
        let got = render(&pods, Format::Wide, true, "default", false, false, now());
        assert_eq!(got.stderr, "No resources found\n");
        let ns = [listing("Namespace", "", false, vec![])];
        let got = render(&ns, Format::Table, false, "default", false, false, now());
        assert_eq!(got.stderr, "No resources found\n");
        let got = render(&pods, Format::Name, false, "default", false, false, now());
        assert_eq!(got, GetOutput::default());
    }

    #[test]
    fn cells_are_cut_at_line_breaks() {
        assert_eq!(escape_cell("a\nb"), "a...");
        assert_eq!(escape_cell("\u{1b}[31mred"), "^[[31mred");
        assert_eq!(escape_cell("plain"), "plain");
    }

    #[test]
    fn wide_columns_and_kind_prefixes() {
        let cm = json!({"metadata": {"name": "istio", "namespace": "istio-system",
            "creationTimestamp": "2025-05-31T23:47:00Z"}, "data": {"mesh": "", "meshNetworks": ""}});
        let got = render(
            &[listing("ConfigMap", "", true, vec![cm])],
            Format::Table,
            true,
            "default",
            true,
            false,
            now(),
        );
        assert_eq!(
            got.stdout,
            "NAMESPACE      NAME              DATA   AGE\nistio-system   configmap/istio   2      13m\n"
        );
    }
}
