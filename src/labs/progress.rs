//! Progress through the labs, kept in the state directory (`labs/progress.json`, written
//! atomically): the current lab, its step, which steps passed, which labs are done.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct Progress {
    /// The lab `mesh lab show/check/next` act on.
    #[serde(default)]
    pub current: Option<String>,
    #[serde(default)]
    pub labs: BTreeMap<String, LabProgress>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct LabProgress {
    /// 0-based index of the step shown.
    pub step: usize,
    /// Steps whose checks all passed.
    #[serde(default)]
    pub passed: Vec<usize>,
    #[serde(default)]
    pub done: bool,
    /// The sandbox publishes node ports on free host ports (`lab start --random-ports`).
    #[serde(default)]
    pub random_ports: bool,
}

impl LabProgress {
    pub fn mark_passed(&mut self, step: usize, steps: usize) {
        if !self.passed.contains(&step) {
            self.passed.push(step);
            self.passed.sort_unstable();
        }
        self.done = (0..steps).all(|s| self.passed.contains(&s));
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    #[error("cannot read {path}: {reason} (delete it to start over)")]
    Read { path: String, reason: String },
    #[error("cannot write {path}: {reason}")]
    Write { path: String, reason: String },
}

pub fn file(labs_dir: &Path) -> PathBuf {
    labs_dir.join("progress.json")
}

pub fn load(labs_dir: &Path) -> Result<Progress, ProgressError> {
    let path = file(labs_dir);
    match std::fs::read(&path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| ProgressError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Progress::default()),
        Err(e) => Err(ProgressError::Read {
            path: path.display().to_string(),
            reason: e.to_string(),
        }),
    }
}

pub fn save(labs_dir: &Path, p: &Progress) -> Result<(), ProgressError> {
    let path = file(labs_dir);
    let err = |e: &dyn std::fmt::Display| ProgressError::Write {
        path: path.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(labs_dir).map_err(|e| err(&e))?;
    let tmp = labs_dir.join(".progress.json.tmp");
    let bytes = serde_json::to_vec_pretty(p).map_err(|e| err(&e))?;
    std::fs::write(&tmp, bytes).map_err(|e| err(&e))?;
    std::fs::rename(&tmp, &path).map_err(|e| err(&e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_marks_done() {
        let dir = std::env::temp_dir().join(format!("mesh-progress-{}", std::process::id()));
        let mut p = Progress::default();
        let lab = p.labs.entry("4.2".into()).or_default();
        lab.mark_passed(1, 2);
        assert!(!lab.done);
        lab.mark_passed(0, 2);
        assert!(lab.done);
        p.current = Some("4.2".into());
        save(&dir, &p).expect("saves");
        assert_eq!(load(&dir).expect("loads"), p);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
