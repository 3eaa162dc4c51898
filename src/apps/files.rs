//! The files a container sees through its volume mounts (Secrets and ConfigMaps the sandbox
//! mounts), held in memory: no container has a filesystem of its own here, so an app that
//! reads `/etc/certs/tls.crt` (fake-service's `TLS_CERT_LOCATION`) looks it up in [`Files`].

use std::collections::BTreeMap;
use std::sync::Arc;

/// Absolute, cleaned path → contents. Cheap to clone; empty by default (no volumes).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Files(Arc<BTreeMap<String, Vec<u8>>>);

impl Files {
    /// The contents at `path`, as `open(2)` would find them: `/etc/certs//tls.crt` and
    /// `/etc/certs/./tls.crt` are the same file; a relative path is taken from `/` (the
    /// working directory of the images we run).
    pub fn read(&self, path: &str) -> Option<&[u8]> {
        self.0.get(&clean(path)).map(Vec::as_slice)
    }

    /// Every mounted file's path, sorted (for error messages that say what *is* there).
    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<(String, Vec<u8>)> for Files {
    fn from_iter<I: IntoIterator<Item = (String, Vec<u8>)>>(files: I) -> Self {
        Files(Arc::new(
            files
                .into_iter()
                .map(|(path, bytes)| (clean(&path), bytes))
                .collect(),
        ))
    }
}

impl From<BTreeMap<String, Vec<u8>>> for Files {
    fn from(files: BTreeMap<String, Vec<u8>>) -> Self {
        files.into_iter().collect()
    }
}

/// Go's `path.Clean` for a path made absolute: no empty, `.` or `..` segments.
fn clean(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    format!("/{}", parts.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_by_cleaned_absolute_path() {
        let files: Files = [
            ("/etc/certs/tls.crt".to_owned(), b"crt".to_vec()),
            ("etc/certs/../certs/tls.key".to_owned(), b"key".to_vec()),
        ]
        .into_iter()
        .collect();
        assert_eq!(files.read("/etc/certs/tls.crt"), Some(&b"crt"[..]));
        assert_eq!(files.read("/etc//certs/./tls.crt"), Some(&b"crt"[..]));
        assert_eq!(files.read("/etc/certs/tls.key"), Some(&b"key"[..]));
        assert_eq!(files.read("/etc/certs"), None);
        assert_eq!(
            files.paths().collect::<Vec<_>>(),
            ["/etc/certs/tls.crt", "/etc/certs/tls.key"]
        );
        assert!(Files::default().is_empty());
        assert_eq!(Files::default().read("/etc/certs/tls.crt"), None);
    }
}
