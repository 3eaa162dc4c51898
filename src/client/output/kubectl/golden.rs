//! Golden tests against `tests/golden/kubectl/` (its README says where each file comes
//! from): every line of `cases.txt` is a `kubectl get` run by real kubectl 1.32 against a
//! world file; here the same `get` is answered from the same world and rendered.

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;

use super::meta::parse_time;
use super::{Format, GetOutput, Listing, render};

fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/kubectl")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

fn read_optional(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/kubectl")
        .join(path);
    std::fs::read_to_string(full).unwrap_or_default()
}

/// The parts of a `kubectl get` command line the cases use.
#[derive(Debug, Default)]
struct Get {
    kinds: Vec<String>,
    name: Option<String>,
    namespace: Option<String>,
    all_namespaces: bool,
    output: String,
    selector: Option<String>,
    show_kind: bool,
}

fn parse(args: &str) -> Get {
    let mut get = Get::default();
    let mut words = args.split_whitespace();
    assert_eq!(words.next(), Some("get"), "{args}");
    let mut positional = Vec::new();
    while let Some(word) = words.next() {
        match word {
            "-n" => get.namespace = words.next().map(str::to_string),
            "-A" => get.all_namespaces = true,
            "-o" => get.output = words.next().unwrap_or_default().to_string(),
            "-l" => get.selector = words.next().map(str::to_string),
            "--show-kind" => get.show_kind = true,
            flag if flag.starts_with('-') => panic!("unsupported flag {flag}"),
            other => positional.push(other.to_string()),
        }
    }
    get.kinds = positional[0].split(',').map(str::to_string).collect();
    get.name = positional.get(1).cloned();
    get
}

/// The world's resource that `kubectl get TOKEN` means (plural, singular, short name, or
/// `plural.group`).
fn resolve<'a>(world: &'a Value, token: &str) -> &'a Value {
    let (word, group) = match token.split_once('.') {
        Some((word, group)) => (word, Some(group)),
        None => (token, None),
    };
    world["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| {
            let s = |k: &str| r[k].as_str().unwrap();
            let names_match = s("plural") == word
                || s("kind").to_lowercase() == word
                || r["shortNames"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .any(|n| n.as_str() == Some(word));
            names_match && group.is_none_or(|g| s("group") == g)
        })
        .unwrap_or_else(|| panic!("no resource {token}"))
}

/// What the sandbox API would answer: each kind's matching objects.
fn listings(world: &Value, get: &Get) -> Vec<Listing> {
    let namespace = get.namespace.as_deref().unwrap_or("default");
    get.kinds
        .iter()
        .map(|token| {
            let r = resolve(world, token);
            let namespaced = r["namespaced"].as_bool().unwrap();
            let items = r["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|item| &item["object"])
                .filter(|o| {
                    let meta = &o["metadata"];
                    (!namespaced || get.all_namespaces || meta["namespace"] == namespace)
                        && get.name.as_ref().is_none_or(|n| meta["name"] == n.as_str())
                        && get.selector.as_ref().is_none_or(|sel| {
                            sel.split(',').all(|term| {
                                let (k, v) = term.split_once('=').unwrap();
                                meta["labels"][k] == v
                            })
                        })
                })
                .cloned()
                .collect();
            Listing {
                kind: r["kind"].as_str().unwrap().to_string(),
                group: r["group"].as_str().unwrap().to_string(),
                plural: r["plural"].as_str().unwrap().to_string(),
                namespaced,
                items,
            }
        })
        .collect()
}

fn run(world_name: &str, args: &str) -> GetOutput {
    let world: Value = serde_json::from_str(&read(&format!("{world_name}.json"))).unwrap();
    let now_nanos = parse_time(world["now"].as_str().unwrap()).unwrap();
    let now: SystemTime = UNIX_EPOCH + Duration::from_nanos(u64::try_from(now_nanos).unwrap());
    let get = parse(args);
    let format: Format = get.output.parse().unwrap();
    let single = get.name.is_some() && get.kinds.len() == 1;
    render(
        &listings(&world, &get),
        format,
        get.all_namespaces,
        get.namespace.as_deref().unwrap_or("default"),
        get.show_kind,
        single,
        now,
    )
}

/// Shows trailing spaces as `·` so a failed comparison is readable.
fn show(text: &str) -> String {
    text.lines()
        .map(|l| {
            let trimmed = l.trim_end_matches(' ');
            format!("{trimmed}{}|", "·".repeat(l.len() - trimmed.len()))
        })
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn every_case_matches_kubectl() {
    let cases = read("cases.txt");
    let mut failures = Vec::new();
    let mut count = 0;
    for line in cases.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut parts = line.splitn(3, ' ');
        let (name, world, args) = (
            parts.next().unwrap(),
            parts.next().unwrap(),
            parts.next().unwrap(),
        );
        count += 1;
        let got = run(world, args);
        let want_out = read(&format!("{name}.out"));
        let want_err = read_optional(&format!("{name}.err"));
        if got.stdout != want_out || got.stderr != want_err {
            failures.push(format!(
                "{name} (kubectl {args})\n--- got ---\n{}\n{}\n--- want ---\n{}\n{}",
                show(&got.stdout),
                got.stderr,
                show(&want_out),
                want_err
            ));
        }
    }
    assert!(count > 30, "only {count} cases");
    assert!(
        failures.is_empty(),
        "{} of {count} cases differ:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

#[test]
fn the_seed_captures() {
    // The lab's own `kubectl get` output (shared/seed/istio-week2-envoy-gateway.md).
    let got = run(
        "seed",
        "get pod -n istio-system -l app=istio-ingressgateway",
    );
    assert_eq!(
        got.stdout,
        "NAME                                   READY   STATUS    RESTARTS   AGE\n\
         istio-ingressgateway-996bc6bb6-mktpr   1/1     Running   0          13m\n"
    );
    let got = run("seed", "get gw,vs -n istioinaction");
    assert_eq!(
        got.stdout,
        "NAME                                            AGE\n\
         gateway.networking.istio.io/coolstore-gateway   14s\n"
    );
}

/// The hand-written cells in the world files (what the API server's table would hold) are
/// what our printers compute from the same objects.
#[test]
fn cells_match_the_world_tables() {
    for world_name in ["seed", "ch4"] {
        let world: Value = serde_json::from_str(&read(&format!("{world_name}.json"))).unwrap();
        let now = parse_time(world["now"].as_str().unwrap()).unwrap();
        for r in world["resources"].as_array().unwrap() {
            let table =
                super::KindTable::of(r["group"].as_str().unwrap(), r["kind"].as_str().unwrap());
            let columns: Vec<(String, bool)> = table
                .columns()
                .iter()
                .map(|c| (c.name.to_string(), c.wide))
                .collect();
            let want: Vec<(String, bool)> = r["columns"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c[0].as_str().unwrap().to_string(), c[1] == 1))
                .collect();
            assert_eq!(columns, want, "{}", r["kind"]);
            for item in r["items"].as_array().unwrap() {
                let cells = table.cells(&item["object"], &super::Cx { now });
                let want: Vec<&str> = item["cells"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|c| c.as_str().unwrap())
                    .collect();
                assert_eq!(cells, want, "{}", item["object"]["metadata"]["name"]);
            }
        }
    }
}
