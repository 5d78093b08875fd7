//! `kv`: each pack's private key/value store (capability `kv`).
//!
//! | manifest requests | operator granted | any `kv` call           |
//! |-------------------|------------------|-------------------------|
//! | `kv`              | `kv`             | allowed, own keys only  |
//! | `kv`              | -                | `denied`                |
//! | -                 | `kv`             | `denied`                |
//!
//! Keys are namespaced by the store per pack, so no pack can name another
//! pack's keys. Keys are 1 to 512 bytes without control characters; values
//! at most 1 MiB.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Mutex;

use sha2::{Digest as _, Sha256};

use envpack_manifest::Capability;

use super::Granter;
use crate::fsutil;
use crate::runtime::{HostError, PackError, PackErrorKind, PackLabel};

/// Longest key, in bytes.
pub const MAX_KEY: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 1024 * 1024;

/// Where a pack's private kv lives. Implementations namespace keys by
/// `pack`.
pub trait KvStore: Send + Sync {
    /// A value.
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, HostError>;
    /// Stores a value.
    fn set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), HostError>;
    /// Removes a value; `true` when it existed.
    fn delete(&self, pack: &PackLabel, key: &str) -> Result<bool, HostError>;
    /// Keys with `prefix`, sorted.
    fn list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, HostError>;
}

/// No kv store: every call is `unavailable`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoKv;

fn no_kv<T>() -> Result<T, HostError> {
    Err(PackError::new(PackErrorKind::Unavailable, "no kv store is configured").into())
}

impl KvStore for NoKv {
    fn get(&self, _: &PackLabel, _: &str) -> Result<Option<Vec<u8>>, HostError> {
        no_kv()
    }
    fn set(&self, _: &PackLabel, _: &str, _: &[u8]) -> Result<(), HostError> {
        no_kv()
    }
    fn delete(&self, _: &PackLabel, _: &str) -> Result<bool, HostError> {
        no_kv()
    }
    fn list(&self, _: &PackLabel, _: &str) -> Result<Vec<String>, HostError> {
        no_kv()
    }
}

/// Kv in files under `<root>/<pack id>/kv/`, shared by every version of a
/// pack so data survives upgrades (`pack call`, and the state pack's own kv
/// inside an environment). A key of up to [`HEX_KEY`] bytes is stored in a
/// file named by its hex; a longer one, whose hex would not fit in a file
/// name, in `~<sha256 of key>` with the key beside it in `~<sha256>.key`.
/// Each pack may hold at most `quota` bytes of values.
#[derive(Debug)]
pub struct FileKv {
    root: PathBuf,
    quota: u64,
    /// Bytes each pack holds, counted on its first write and kept current.
    usage: Mutex<HashMap<String, u64>>,
}

/// Longest key stored under its hex (254 characters of a 255-byte name).
pub const HEX_KEY: usize = 127;

/// Bytes of values one pack may keep, unless configured:
/// `ENVPACK_KV_QUOTA_MB`.
pub const DEFAULT_QUOTA: u64 = 64 << 20;

impl FileKv {
    /// Kv under `root`, with the default quota.
    pub fn new(root: PathBuf) -> Self {
        Self::with_quota(root, DEFAULT_QUOTA)
    }

    /// Kv under `root`, each pack holding at most `quota` bytes.
    pub fn with_quota(root: PathBuf, quota: u64) -> Self {
        Self {
            root,
            quota,
            usage: Mutex::default(),
        }
    }

    fn path(&self, pack: &PackLabel, key: &str) -> PathBuf {
        self.dir(pack).join(file_name(key))
    }

    fn dir(&self, pack: &PackLabel) -> PathBuf {
        self.root.join(pack.descriptor.id().to_string()).join("kv")
    }

    /// Checks that replacing `old` bytes with `new` keeps the pack within its
    /// quota, and counts the change.
    fn charge(&self, pack: &PackLabel, old: u64, new: u64) -> Result<(), HostError> {
        let mut usage = self.usage.lock().unwrap_or_else(|e| e.into_inner());
        let id = pack.descriptor.id().to_string();
        let held = match usage.get(&id) {
            Some(held) => *held,
            None => fsutil::tree_size(&self.dir(pack)),
        };
        let after = held.saturating_sub(old).saturating_add(new);
        if new > old && after > self.quota {
            usage.insert(id, held);
            return Err(PackError::new(
                PackErrorKind::Unavailable,
                format!(
                    "kv quota exceeded: {pack} may keep {} MiB of kv values and holds {} MiB; this value of {new} bytes does not fit (delete keys, or the operator can raise ENVPACK_KV_QUOTA_MB)",
                    self.quota >> 20,
                    held >> 20
                ),
            )
            .into());
        }
        usage.insert(id, after);
        Ok(())
    }
}

/// The file a key is stored in.
fn file_name(key: &str) -> String {
    if key.len() <= HEX_KEY {
        hex::encode(key)
    } else {
        format!("~{}", hex::encode(Sha256::digest(key.as_bytes())))
    }
}

/// An I/O failure, in full in the host's log and without host paths for
/// the pack.
fn internal(op: &str, pack: &PackLabel, e: impl std::fmt::Display) -> HostError {
    tracing::warn!(pack = %pack.descriptor, "kv {op} failed: {e}");
    PackError::new(
        PackErrorKind::Internal,
        format!("the host could not {op} the kv entry (details are in the operator's log)"),
    )
    .into()
}

fn size_of(path: &std::path::Path) -> u64 {
    std::fs::metadata(path).map_or(0, |m| m.len())
}

impl KvStore for FileKv {
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        match std::fs::read(self.path(pack, key)) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(internal("read", pack, e)),
        }
    }

    fn set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), HostError> {
        let path = self.path(pack, key);
        self.charge(pack, size_of(&path), value.len() as u64)?;
        if key.len() > HEX_KEY {
            fsutil::write_atomic(&path.with_extension("key"), key.as_bytes())
                .map_err(|e| internal("write", pack, e))?;
        }
        fsutil::write_atomic(&path, value).map_err(|e| internal("write", pack, e))
    }

    fn delete(&self, pack: &PackLabel, key: &str) -> Result<bool, HostError> {
        let path = self.path(pack, key);
        let size = size_of(&path);
        let removed = match std::fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(internal("remove", pack, e)),
        };
        if key.len() > HEX_KEY {
            let _ = std::fs::remove_file(path.with_extension("key"));
        }
        if removed {
            self.charge(pack, size, 0)?;
        }
        Ok(removed)
    }

    fn list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, HostError> {
        let dir = self.dir(pack);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(internal("list", pack, e)),
        };
        let mut keys: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| stored_key(&dir, &e.file_name().to_string_lossy()))
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }
}

/// The key a file in `dir` holds the value of, if it holds one.
fn stored_key(dir: &std::path::Path, name: &str) -> Option<String> {
    let bytes = match name.strip_prefix('~') {
        Some(hash) if !hash.contains('.') => {
            std::fs::read(dir.join(format!("~{hash}.key"))).ok()?
        }
        Some(_) => return None,
        None => hex::decode(name.as_bytes()).ok()?,
    };
    String::from_utf8(bytes).ok()
}

pub(crate) fn check_key(key: &str) -> Result<(), PackError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(PackError::new(
            PackErrorKind::InvalidInput,
            format!("kv key must be 1 to {MAX_KEY} bytes, got {}", key.len()),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(PackError::new(
            PackErrorKind::InvalidInput,
            format!("kv key {key:?} contains a control character"),
        ));
    }
    Ok(())
}

/// `kv.get`, checked.
pub(crate) fn get(
    granter: &Granter,
    kv: &dyn KvStore,
    key: &str,
) -> Result<Option<Vec<u8>>, HostError> {
    granter.check(&Capability::Kv)?;
    check_key(key)?;
    kv.get(granter.pack(), key)
}

/// `kv.set`, checked.
pub(crate) fn set(
    granter: &Granter,
    kv: &dyn KvStore,
    key: &str,
    value: &[u8],
) -> Result<(), HostError> {
    granter.check(&Capability::Kv)?;
    check_key(key)?;
    if value.len() > MAX_VALUE {
        return Err(PackError::new(
            PackErrorKind::InvalidInput,
            format!(
                "kv value for {key:?} is {} bytes; the limit is {MAX_VALUE}",
                value.len()
            ),
        )
        .into());
    }
    kv.set(granter.pack(), key, value)
}

/// `kv.delete`, checked.
pub(crate) fn delete(granter: &Granter, kv: &dyn KvStore, key: &str) -> Result<bool, HostError> {
    granter.check(&Capability::Kv)?;
    check_key(key)?;
    kv.delete(granter.pack(), key)
}

/// `kv.list-keys`, checked.
pub(crate) fn list(
    granter: &Granter,
    kv: &dyn KvStore,
    prefix: &str,
) -> Result<Vec<String>, HostError> {
    granter.check(&Capability::Kv)?;
    kv.list(granter.pack(), prefix)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::{denied, granter};

    #[test]
    fn key_rules() {
        assert!(super::check_key("a/b c").is_ok());
        assert!(super::check_key("").is_err());
        assert!(super::check_key("a\nb").is_err());
        assert!(super::check_key(&"x".repeat(513)).is_err());
    }

    /// The table above, for every call.
    #[test]
    fn allows() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = FileKv::new(dir.path().to_path_buf());
        for (requested, granted, want) in [
            (&["kv"][..], &["kv"][..], true),
            (&["kv"][..], &[][..], false),
            (&[][..], &["kv"][..], false),
        ] {
            let g = granter(requested, granted);
            let calls = [
                denied(&set(&g, &kv, "k", b"v")),
                denied(&get(&g, &kv, "k")),
                denied(&list(&g, &kv, "")),
                denied(&delete(&g, &kv, "k")),
            ];
            assert_eq!(calls, [!want; 4], "{requested:?} x {granted:?}");
        }
        let g = granter(&["kv"], &["kv"]);
        assert!(set(&g, &kv, "big", &vec![0; MAX_VALUE + 1]).is_err());
        assert!(matches!(NoKv.get(g.pack(), "k"), Err(HostError::Pack(_))));
    }

    /// Keys too long for a hex file name round-trip; short keys keep the
    /// file names of older stores.
    #[test]
    fn long_keys_round_trip() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = FileKv::new(dir.path().to_path_buf());
        let g = granter(&["kv"], &["kv"]);
        for len in [1, HEX_KEY, HEX_KEY + 1, 200, MAX_KEY] {
            let key = "k".repeat(len);
            set(&g, &kv, &key, key.as_bytes()).expect("set");
            assert_eq!(get(&g, &kv, &key).expect("get"), Some(key.into_bytes()));
        }
        assert_eq!(list(&g, &kv, "").expect("list").len(), 5);
        assert!(kv.dir(g.pack()).join(hex::encode("k")).exists());
        assert!(delete(&g, &kv, &"k".repeat(200)).expect("delete"));
        assert_eq!(list(&g, &kv, "").expect("list").len(), 4);
    }

    /// The quota counts values across calls and instances of the store,
    /// frees on delete and overwrite, and never blocks shrinking.
    #[test]
    fn quota_is_enforced() {
        let dir = tempfile::tempdir().expect("tempdir");
        let kv = FileKv::with_quota(dir.path().to_path_buf(), 10);
        let g = granter(&["kv"], &["kv"]);
        set(&g, &kv, "a", b"123456").expect("fits");
        let over = set(&g, &kv, "b", b"12345").expect_err("over");
        assert!(format!("{over:?}").contains("quota"), "{over:?}");
        set(&g, &kv, "a", b"12").expect("shrinks");
        set(&g, &kv, "b", b"12345678").expect("fits after shrinking");
        let again = FileKv::with_quota(dir.path().to_path_buf(), 10);
        assert!(
            set(&g, &again, "c", b"1").is_err(),
            "usage is read from disk"
        );
        assert!(delete(&g, &again, "b").expect("delete"));
        set(&g, &again, "c", b"1").expect("fits after delete");
    }
}
