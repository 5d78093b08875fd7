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

use std::path::PathBuf;

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

/// Kv in files under `<root>/<pack id>/kv/<hex of key>`, shared by every
/// version of a pack so data survives upgrades (`pack call`, and the state
/// pack's own kv inside an environment).
#[derive(Clone, Debug)]
pub struct FileKv {
    root: PathBuf,
}

impl FileKv {
    /// Kv under `root`.
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, pack: &PackLabel, key: &str) -> PathBuf {
        self.dir(pack).join(hex::encode(key))
    }

    fn dir(&self, pack: &PackLabel) -> PathBuf {
        self.root.join(pack.descriptor.id().to_string()).join("kv")
    }
}

fn internal(e: impl std::fmt::Display) -> HostError {
    PackError::new(PackErrorKind::Internal, e.to_string()).into()
}

impl KvStore for FileKv {
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        let path = self.path(pack, key);
        match std::fs::read(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(internal(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), HostError> {
        fsutil::write_atomic(&self.path(pack, key), value).map_err(internal)
    }

    fn delete(&self, pack: &PackLabel, key: &str) -> Result<bool, HostError> {
        let path = self.path(pack, key);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(internal(format!("cannot remove {}: {e}", path.display()))),
        }
    }

    fn list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, HostError> {
        let dir = self.dir(pack);
        let entries = match std::fs::read_dir(&dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(internal(format!("cannot list {}: {e}", dir.display()))),
        };
        let mut keys: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| hex::decode(e.file_name().to_string_lossy().as_bytes()).ok())
            .filter_map(|k| String::from_utf8(k).ok())
            .filter(|k| k.starts_with(prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }
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
}
