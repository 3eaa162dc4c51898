//! Golden tests: inputs and the exact expected output under `tests/golden/istioctl/`
//! (`README.md` there says where each file comes from).

mod gateway;
mod istio_testdata;

use std::path::Path;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use super::{AdminClusters, ConfigDump};

pub(super) fn read(path: &str) -> String {
    let full = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/golden/istioctl")
        .join(path);
    std::fs::read_to_string(&full).unwrap_or_else(|err| panic!("{}: {err}", full.display()))
}

pub(super) fn dump(path: &str) -> ConfigDump {
    ConfigDump::parse(&read(path)).unwrap()
}

pub(super) fn admin_clusters(path: &str) -> AdminClusters {
    AdminClusters::parse(&read(path)).unwrap()
}

/// A fixed "now" for VALID CERT: 2025-06-01T00:00:00Z.
pub(super) fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_748_736_000)
}

/// Compares with the golden file, showing trailing spaces as `·` on failure.
#[track_caller]
pub(super) fn assert_golden(got: &str, path: &str) {
    let want = read(path);
    if got != want {
        let show = |s: &str| {
            s.lines()
                .map(|l| {
                    let trimmed = l.trim_end_matches(' ');
                    format!("{trimmed}{}|", "·".repeat(l.len() - trimmed.len()))
                })
                .collect::<Vec<_>>()
                .join("\n")
        };
        panic!(
            "output differs from {path}\n--- got ---\n{}\n--- want ---\n{}\n",
            show(got),
            show(&want)
        );
    }
}
