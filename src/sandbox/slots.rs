//! Address slots: each running sandbox on the machine holds one (an exclusive lock on a file in
//! the temp directory), so two sandboxes never hand out the same loopback addresses. The lock
//! goes with the process, so a crashed sandbox frees its slot.

use std::fs::{self, File, OpenOptions};
use std::path::PathBuf;

use super::ipam::MAX_SLOTS;

#[derive(Debug, thiserror::Error)]
pub enum SlotError {
    #[error(
        "all {MAX_SLOTS} sandbox address slots are taken; stop a sandbox with `mesh down --name NAME`"
    )]
    AllTaken,
    #[error("cannot use the slot lock directory {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held slot; dropping it frees the slot.
#[derive(Debug)]
pub struct Slot {
    pub number: u8,
    _lock: File,
}

fn dir() -> PathBuf {
    std::env::temp_dir().join(format!("mesh-slots-{}", uid()))
}

/// The user's id, from the owner of `/proc/self` (no libc needed).
fn uid() -> u32 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata("/proc/self").map(|m| m.uid()).unwrap_or(0)
}

impl Slot {
    /// Takes the first free slot.
    pub fn acquire() -> Result<Slot, SlotError> {
        let dir = dir();
        fs::create_dir_all(&dir).map_err(|source| SlotError::Io {
            path: dir.clone(),
            source,
        })?;
        for number in 0..MAX_SLOTS {
            let path = dir.join(format!("slot-{number}.lock"));
            let file = OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&path)
                .map_err(|source| SlotError::Io {
                    path: path.clone(),
                    source,
                })?;
            if file.try_lock().is_ok() {
                return Ok(Slot {
                    number,
                    _lock: file,
                });
            }
        }
        Err(SlotError::AllTaken)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_slots_are_not_handed_out_twice() {
        let a = Slot::acquire().unwrap();
        let b = Slot::acquire().unwrap();
        assert_ne!(a.number, b.number);
    }
}
