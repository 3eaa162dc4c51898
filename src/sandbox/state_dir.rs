//! Where a sandbox keeps its state: `$MESH_HOME` or `$XDG_STATE_HOME/mesh` or
//! `~/.local/state/mesh`, then `<name>/`: the applied resources (`resources.json`), the local
//! API's address and token (`api.json`, mode 0600). Files are written atomically.

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

pub const RESOURCES_FILE: &str = "resources.json";
pub const API_FILE: &str = "api.json";

/// The directory holding every sandbox's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateRoot(pub PathBuf);

impl StateRoot {
    /// From the environment the CLI read: `MESH_HOME`, else `XDG_STATE_HOME/mesh`, else
    /// `HOME/.local/state/mesh`.
    pub fn from_env(
        mesh_home: Option<PathBuf>,
        xdg_state_home: Option<PathBuf>,
        home: Option<PathBuf>,
    ) -> Option<StateRoot> {
        mesh_home
            .or_else(|| xdg_state_home.map(|x| x.join("mesh")))
            .or_else(|| home.map(|h| h.join(".local/state/mesh")))
            .map(StateRoot)
    }

    pub fn sandbox(&self, name: &str) -> StateDir {
        StateDir(self.0.join(name))
    }

    /// Names of sandboxes with state here.
    pub fn list(&self) -> Vec<String> {
        let Ok(entries) = fs::read_dir(&self.0) else {
            return Vec::new();
        };
        let mut names: Vec<String> = entries
            .flatten()
            .filter(|e| e.path().is_dir())
            .filter_map(|e| e.file_name().into_string().ok())
            .collect();
        names.sort();
        names
    }
}

/// One sandbox's state directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateDir(pub PathBuf);

impl StateDir {
    pub fn path(&self) -> &Path {
        &self.0
    }

    pub fn create(&self) -> io::Result<()> {
        fs::create_dir_all(&self.0)?;
        fs::set_permissions(&self.0, fs::Permissions::from_mode(0o700))
    }

    pub fn resources_file(&self) -> PathBuf {
        self.0.join(RESOURCES_FILE)
    }

    pub fn api_file(&self) -> PathBuf {
        self.0.join(API_FILE)
    }

    /// Writes `contents` to `name` atomically (temp file + rename), with `mode`.
    pub fn write_atomic(&self, name: &str, contents: &[u8], mode: u32) -> io::Result<()> {
        let tmp = self.0.join(format!(".{name}.{}.tmp", std::process::id()));
        {
            let mut f = fs::OpenOptions::new()
                .create(true)
                .truncate(true)
                .write(true)
                .mode(mode)
                .open(&tmp)?;
            f.write_all(contents)?;
            f.sync_all()?;
        }
        fs::rename(&tmp, self.0.join(name))
    }

    pub fn read(&self, name: &str) -> io::Result<Vec<u8>> {
        fs::read(self.0.join(name))
    }

    pub fn remove(&self, name: &str) -> io::Result<()> {
        match fs::remove_file(self.0.join(name)) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            r => r,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_writes_with_mode() {
        let root = std::env::temp_dir().join(format!("mesh-state-{}", std::process::id()));
        let dir = StateRoot(root.clone()).sandbox("demo");
        dir.create().unwrap();
        dir.write_atomic("api.json", b"{}", 0o600).unwrap();
        let meta = fs::metadata(dir.api_file()).unwrap();
        assert_eq!(meta.permissions().mode() & 0o777, 0o600);
        assert_eq!(dir.read("api.json").unwrap(), b"{}");
        assert_eq!(StateRoot(root.clone()).list(), ["demo"]);
        let _ = fs::remove_dir_all(root);
    }

    #[test]
    fn root_precedence() {
        let r = StateRoot::from_env(None, Some("/x".into()), Some("/h".into())).unwrap();
        assert_eq!(r.0, PathBuf::from("/x/mesh"));
        let r = StateRoot::from_env(Some("/m".into()), Some("/x".into()), None).unwrap();
        assert_eq!(r.0, PathBuf::from("/m"));
        let r = StateRoot::from_env(None, None, Some("/h".into())).unwrap();
        assert_eq!(r.0, PathBuf::from("/h/.local/state/mesh"));
    }
}
