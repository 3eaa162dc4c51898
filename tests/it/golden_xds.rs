//! Golden files for translation: what the control plane makes of the chapter-4 scenario, as the
//! gateway's and webapp's sidecar's own `/config_dump` report it (listeners, routes, clusters;
//! endpoints separately). Pod names, addresses, versions and times are normalised.
//! `MESH_UPDATE_GOLDEN=1 cargo test golden_xds` rewrites the files; review the diff.

use serde_json::Value;

use crate::util::*;

fn normalise(text: &str) -> String {
    // Pod names end in `-<template hash>-<5 chars>`; addresses depend on the sandbox's slot.
    let pod = regex::Regex::new(
        r"-[bcdfghjklmnpqrstvwxz2456789]{6,10}-[bcdfghjklmnpqrstvwxz2456789]{5}\b",
    )
    .unwrap();
    // No `\b` at the end: listener names go on with `_PORT`.
    let ip = regex::Regex::new(r"\b127\.(1\d|2\d|4\d|9\d|10\d)\.(\d+)\.(\d+)").unwrap();
    let text = pod.replace_all(text, "-HASH-POD");
    let text = ip.replace_all(&text, |c: &regex::Captures| {
        let kind = match c[1].parse::<u8>().unwrap_or(0) {
            10..=19 => "POD",
            20..=29 => "LOCAL",
            40..=49 => "EXT",
            _ => "SVC",
        };
        format!("{kind}.{}.{}", &c[2], &c[3])
    });
    text.into_owned()
}

/// The dump without what changes from run to run.
fn stable(mut v: Value) -> Value {
    fn walk(v: &mut Value) {
        match v {
            Value::Object(m) => {
                for k in [
                    "last_updated",
                    "version_info",
                    "uptime_current_epoch",
                    "uptime_all_epochs",
                ] {
                    m.remove(k);
                }
                m.values_mut().for_each(walk);
            }
            Value::Array(a) => a.iter_mut().for_each(walk),
            _ => {}
        }
    }
    walk(&mut v);
    // The bootstrap is covered by pilot's unit tests, and workload certificates are new each
    // run; keep the pushed configuration.
    if let Some(configs) = v["configs"].as_array_mut() {
        configs.retain(|c| {
            let t = c["@type"].as_str().unwrap_or("");
            !t.ends_with("BootstrapConfigDump") && !t.ends_with("SecretsConfigDump")
        });
    }
    v
}

fn check(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden/xds").join(name);
    if std::env::var_os("MESH_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e} (MESH_UPDATE_GOLDEN=1 writes it)", path.display()));
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(0);
        panic!(
            "{name} differs from the golden file at line {}:\n  golden: {}\n  actual: {}\n(MESH_UPDATE_GOLDEN=1 rewrites it; review the diff)",
            first + 1,
            expected.lines().nth(first).unwrap_or(""),
            actual.lines().nth(first).unwrap_or("")
        );
    }
}

#[test]
fn chapter_4_translation_matches_the_golden_files() {
    let text = std::fs::read_to_string(repo_root().join("scenarios/ch4.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&text));
    sb.synced();
    for (target, ns, file) in [
        ("gateway", None, "ch4-gateway"),
        ("deploy/webapp", Some("istioinaction"), "ch4-webapp-sidecar"),
    ] {
        let admin = sb.admin(target, ns);
        let dump = get(admin, "/config_dump");
        assert_eq!(dump.status, 200);
        let pretty = serde_json::to_string_pretty(&stable(dump.json())).unwrap();
        check(&format!("{file}.json"), &normalise(&pretty));
        let eds = get(
            admin,
            "/config_dump?resource=dynamic_endpoint_configs&include_eds",
        );
        let pretty = serde_json::to_string_pretty(&stable(eds.json())).unwrap();
        check(&format!("{file}-eds.json"), &normalise(&pretty));
    }
}

#[test]
fn egress_translation_matches_the_golden_files() {
    let text = std::fs::read_to_string(repo_root().join("scenarios/egress.yaml")).unwrap();
    let sb = TestSandbox::start(Some(&text));
    sb.apply(
        &[
            "scenarios/egress/httpbin-se.yaml",
            "scenarios/egress/egress-gateway-httpbin.yaml",
        ],
        Some("istioinaction"),
    )
    .unwrap();
    sb.synced();
    for (target, ns, file) in [
        (
            "deploy/istio-egressgateway",
            Some("istio-system"),
            "egress-gateway",
        ),
        (
            "deploy/sleep",
            Some("istioinaction"),
            "egress-sleep-sidecar",
        ),
    ] {
        let admin = sb.admin(target, ns);
        let dump = get(admin, "/config_dump");
        assert_eq!(dump.status, 200);
        let pretty = serde_json::to_string_pretty(&stable(dump.json())).unwrap();
        check(&format!("{file}.json"), &normalise(&pretty));
    }
}
