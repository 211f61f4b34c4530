//! The local state store: a JSON file beside the configuration, written atomically, with a backup of the previous
//! serial and a lock file.
//!
//! Files: `asrform.state.json` (mode 0600), `asrform.state.json.backup` (the version before the last write) and
//! `asrform.state.json.lock`. The lock is an OS file lock (`flock`) on the lock file, which the kernel drops when
//! the holding process dies, so a lock left by a killed process is detected as stale without guessing from pids;
//! the file's content is the holder's [`LockInfo`], shown to whoever waits. This module does file I/O only for
//! these three paths and must not interpret the state's content beyond its serial.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::{LockGuard, LockInfo, State, StateError, StateStore, Stored, Version};

/// Default state file name, created in the configuration directory.
pub const DEFAULT_FILE: &str = "asrform.state.json";

/// State in a local file.
#[derive(Debug, Clone)]
pub struct LocalStore {
    path: PathBuf,
}

impl LocalStore {
    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into() }
    }

    /// The state file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The backup of the previous version.
    pub fn backup_path(&self) -> PathBuf {
        with_suffix(&self.path, ".backup")
    }

    /// The lock file.
    pub fn lock_path(&self) -> PathBuf {
        with_suffix(&self.path, ".lock")
    }

    fn io(&self, what: &str, e: std::io::Error) -> StateError {
        StateError::Io {
            origin: self.path.display().to_string(),
            message: format!("{what}: {e}"),
        }
    }

    fn read_sync(&self) -> Result<Option<Stored>, StateError> {
        let text = match fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(self.io("cannot read", e)),
        };
        let state = State::from_json(&self.path.display().to_string(), &text)?;
        let version = version_of(state.serial, &text);
        Ok(Some(Stored { state, version }))
    }

    /// Writes an already serialized state (serial `serial`) if the stored version is `expected`.
    fn write_text(
        &self,
        serial: u64,
        text: String,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        let current = match fs::read(&self.path) {
            Ok(bytes) => Some(bytes),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(self.io("cannot read", e)),
        };
        // The version's digest names the content, so comparing digests is the version check; the document is
        // parsed (for its serial) only to word a refusal. A large state is written thousands of times in one apply.
        let unchanged = match (&current, expected) {
            (None, None) => true,
            (Some(bytes), Some(v)) => v.0.split_once('-').map(|(_, d)| d) == Some(&digest(bytes)),
            _ => false,
        };
        if !unchanged {
            let found = self.read_sync()?.map(|s| s.version);
            return Err(StateError::Conflict {
                origin: self.path.display().to_string(),
                expected: expected.map_or_else(|| "no state".to_string(), |v| v.0.clone()),
                found: found.map_or_else(|| "no state".to_string(), |v| v.0),
            });
        }
        if let Some(dir) = self.path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| self.io("cannot create directory", e))?;
        }
        // Keep the previous version as the backup first; each step is an atomic rename, so at every instant the
        // state file holds either the old or the new document, never a torn one.
        if current.is_some() {
            let tmp = with_suffix(&self.path, &format!(".backup.tmp-{}", std::process::id()));
            fs::copy(&self.path, &tmp).map_err(|e| self.io("cannot copy to backup", e))?;
            fs::set_permissions(&tmp, fs::Permissions::from_mode(0o600))
                .map_err(|e| self.io("cannot set backup mode", e))?;
            fs::rename(&tmp, self.backup_path()).map_err(|e| self.io("cannot write backup", e))?;
        }
        let tmp = with_suffix(&self.path, &format!(".tmp-{}", std::process::id()));
        {
            let mut f = OpenOptions::new()
                .write(true)
                .create(true)
                .truncate(true)
                .mode(0o600)
                .open(&tmp)
                .map_err(|e| self.io("cannot create temporary file", e))?;
            f.set_permissions(fs::Permissions::from_mode(0o600))
                .map_err(|e| self.io("cannot set mode", e))?;
            f.write_all(text.as_bytes())
                .map_err(|e| self.io("cannot write", e))?;
            f.sync_all().map_err(|e| self.io("cannot sync", e))?;
        }
        fs::rename(&tmp, &self.path).map_err(|e| self.io("cannot replace state file", e))?;
        Ok(version_of(serial, &text))
    }

    fn try_lock_sync(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        let path = self.lock_path();
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            fs::create_dir_all(dir).map_err(|e| self.io("cannot create directory", e))?;
        }
        // A holder unlinks the lock file when it releases; a waiter that opened the old file just before could then
        // lock an unlinked inode. Re-checking that the path still names the locked inode closes that race.
        for _ in 0..8 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .mode(0o600)
                .open(&path)
                .map_err(|e| self.io("cannot open lock file", e))?;
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let holder = read_info(&mut file).unwrap_or_else(|| LockInfo {
                        id: "unknown".into(),
                        who: "unknown".into(),
                        host: "unknown".into(),
                        pid: 0,
                        operation: "(holder info not written yet)".into(),
                        created: info.created,
                    });
                    return Err(StateError::Locked {
                        holder: Box::new(holder),
                    });
                }
                Err(fs::TryLockError::Error(e)) => return Err(self.io("cannot lock", e)),
            }
            let same = match (file.metadata(), fs::metadata(&path)) {
                (Ok(a), Ok(b)) => a.ino() == b.ino() && a.dev() == b.dev(),
                _ => false,
            };
            if !same {
                continue;
            }
            let replaced = read_info(&mut file);
            file.set_len(0)
                .map_err(|e| self.io("cannot truncate lock file", e))?;
            file.seek(SeekFrom::Start(0))
                .map_err(|e| self.io("cannot write lock file", e))?;
            let body = serde_json::to_vec_pretty(info).expect("lock info always serialises");
            file.write_all(&body)
                .map_err(|e| self.io("cannot write lock file", e))?;
            file.sync_all()
                .map_err(|e| self.io("cannot sync lock file", e))?;
            return Ok(Box::new(LocalLockGuard {
                file: Some(file),
                path,
                info: info.clone(),
                replaced,
            }));
        }
        Err(self.io(
            "cannot lock",
            std::io::Error::other("lock file keeps being replaced"),
        ))
    }

    fn force_unlock_sync(&self, id: &str) -> Result<LockInfo, StateError> {
        let path = self.lock_path();
        let mut file = match OpenOptions::new().read(true).write(true).open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(StateError::Unlock {
                    message: format!("no lock is held on {}", self.path.display()),
                });
            }
            Err(e) => return Err(self.io("cannot open lock file", e)),
        };
        let info = read_info(&mut file);
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                let holder =
                    info.map_or_else(|| "an unknown process".to_string(), |i| i.to_string());
                return Err(StateError::Unlock {
                    message: format!(
                        "the lock is held by a running process: {holder}; stop it instead"
                    ),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(self.io("cannot lock", e)),
        }
        match info {
            Some(info) if info.id == id => {
                fs::remove_file(&path).map_err(|e| self.io("cannot remove lock file", e))?;
                Ok(info)
            }
            Some(info) => Err(StateError::Unlock {
                message: format!("lock id `{id}` does not match the lock on record ({info})"),
            }),
            None => Err(StateError::Unlock {
                message: "the lock file holds no holder info".into(),
            }),
        }
    }
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(suffix);
    PathBuf::from(s)
}

fn version_of(serial: u64, text: &str) -> Version {
    Version(format!("{serial}-{}", digest(text.as_bytes())))
}

/// The short content digest in a version.
fn digest(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn read_info(file: &mut File) -> Option<LockInfo> {
    let mut text = String::new();
    file.seek(SeekFrom::Start(0)).ok()?;
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(&text).ok()
}

/// A held local lock.
#[derive(Debug)]
pub struct LocalLockGuard {
    file: Option<File>,
    path: PathBuf,
    info: LockInfo,
    replaced: Option<LockInfo>,
}

#[async_trait::async_trait]
impl LockGuard for LocalLockGuard {
    async fn release(self: Box<Self>) -> Result<(), StateError> {
        drop(self);
        Ok(())
    }
    fn info(&self) -> &LockInfo {
        &self.info
    }
    fn replaced(&self) -> Option<&LockInfo> {
        self.replaced.as_ref()
    }
    fn abandon(mut self: Box<Self>) {
        // The kernel drops the OS lock with the descriptor; the lock file and its holder info stay.
        self.file.take();
    }
}

impl Drop for LocalLockGuard {
    fn drop(&mut self) {
        if let Some(file) = self.file.take() {
            // Unlink while still holding the OS lock, so nobody can lock the old inode and believe they hold it.
            let _ = fs::remove_file(&self.path);
            drop(file);
        }
    }
}

#[async_trait::async_trait]
impl StateStore for LocalStore {
    async fn read(&self) -> Result<Option<Stored>, StateError> {
        self.read_sync()
    }
    async fn write(
        &self,
        state: &State,
        expected: Option<&Version>,
    ) -> Result<Version, StateError> {
        // Serialize here (the state is borrowed) and do the file work off the async workers: with an fsync per
        // write, a blocked worker would stall every operation of the apply, and while this write waits the apply's
        // writer gathers the commits that arrive into the next one.
        let (store, serial, text) = (self.clone(), state.serial, state.to_json());
        let expected = expected.cloned();
        tokio::task::spawn_blocking(move || store.write_text(serial, text, expected.as_ref()))
            .await
            .map_err(|e| self.io("state write task failed", std::io::Error::other(e)))?
    }
    async fn try_lock(&self, info: &LockInfo) -> Result<Box<dyn LockGuard>, StateError> {
        self.try_lock_sync(info)
    }
    async fn force_unlock(&self, id: &str) -> Result<LockInfo, StateError> {
        self.force_unlock_sync(id)
    }
    fn describe(&self) -> String {
        format!("local file {}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::conformance;

    fn store() -> (tempfile::TempDir, LocalStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = LocalStore::new(dir.path().join(DEFAULT_FILE));
        (dir, store)
    }

    #[tokio::test]
    async fn conformance_suite() {
        let (_dir, s) = store();
        conformance::run_all(&s, &crate::clock::SystemClock).await;
    }

    #[tokio::test(start_paused = true)]
    async fn lock_timeout() {
        let (_dir, s) = store();
        conformance::lock_timeout_waits_then_names_holder(std::sync::Arc::new(s)).await;
    }

    #[tokio::test]
    async fn file_is_private_and_backup_keeps_previous_serial() {
        let (_dir, s) = store();
        let mut st = State::new();
        let v1 = s.write(&st, None).await.unwrap();
        st.serial = 1;
        s.write(&st, Some(&v1)).await.unwrap();
        let mode = fs::metadata(s.path()).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let backup = State::from_json("b", &fs::read_to_string(s.backup_path()).unwrap()).unwrap();
        assert_eq!(backup.serial, 0);
        assert_eq!(
            fs::metadata(s.backup_path()).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }

    #[tokio::test]
    async fn corrupt_file_is_reported_with_its_path() {
        let (_dir, s) = store();
        fs::write(s.path(), "{ not json").unwrap();
        let err = s.read().await.unwrap_err();
        assert!(err.to_string().contains(DEFAULT_FILE), "{err}");
    }
}
