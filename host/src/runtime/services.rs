//! Backends for the host imports that reach outside the sandbox: config,
//! secrets, the private kv store and logging.
//!
//! The runtime only checks capabilities; where the data lives is decided by
//! the [`HostServices`] given to each instance. [`LocalServices`] keeps kv
//! in files under the pack's data directory; environments route kv to their
//! state pack and secrets to their secrets pack.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::{Level, PackError, PackErrorKind, PackLabel};
use crate::fsutil;

/// Where host imports get and put data.
pub trait HostServices: Send + Sync {
    /// A configuration value for `pack`.
    fn config(&self, pack: &PackLabel, key: &str) -> Result<Option<String>, PackError>;
    /// A secret's value.
    fn secret(&self, pack: &PackLabel, name: &str) -> Result<Option<String>, PackError>;
    /// A private kv value.
    fn kv_get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, PackError>;
    /// Stores a private kv value.
    fn kv_set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), PackError>;
    /// Removes a private kv value; `true` when it existed.
    fn kv_delete(&self, pack: &PackLabel, key: &str) -> Result<bool, PackError>;
    /// Private kv keys with `prefix`, sorted.
    fn kv_list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, PackError>;
    /// Starts a revision process (capability `process`).
    fn process_start(
        &self,
        pack: &PackLabel,
        spec: &crate::env::ProcessSpec,
    ) -> Result<crate::env::ProcessInfo, PackError> {
        let _ = (pack, spec);
        Err(no_processes())
    }
    /// Stops a revision process.
    fn process_stop(&self, pack: &PackLabel, revision: &str) -> Result<bool, PackError> {
        let _ = (pack, revision);
        Err(no_processes())
    }
    /// A revision process's state.
    fn process_status(
        &self,
        pack: &PackLabel,
        revision: &str,
    ) -> Result<Option<crate::env::ProcessInfo>, PackError> {
        let _ = (pack, revision);
        Err(no_processes())
    }
    /// Every revision process.
    fn process_list(&self, pack: &PackLabel) -> Result<Vec<crate::env::ProcessInfo>, PackError> {
        let _ = pack;
        Err(no_processes())
    }
    /// A log line from `pack`.
    fn log(&self, pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
        emit_log(pack, level, message, fields);
    }
}

fn no_processes() -> PackError {
    PackError::new(
        PackErrorKind::Unavailable,
        "revision processes exist only inside an environment (run the pack through an environment's deployer)",
    )
}

/// Writes a pack's log line through `tracing`, attributed to the pack.
pub fn emit_log(pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
    let fields = fields
        .iter()
        .map(|(k, v)| format!("{k}={v:?}"))
        .collect::<Vec<_>>()
        .join(" ");
    let pack = &pack.descriptor;
    match level {
        Level::Trace => tracing::trace!(target: "pack", %pack, "{message} {fields}"),
        Level::Debug => tracing::debug!(target: "pack", %pack, "{message} {fields}"),
        Level::Info => tracing::info!(target: "pack", %pack, "{message} {fields}"),
        Level::Warn => tracing::warn!(target: "pack", %pack, "{message} {fields}"),
        Level::Error => tracing::error!(target: "pack", %pack, "{message} {fields}"),
    }
}

/// Host services without an environment: kv in files under a per-pack data
/// directory, config and secrets from fixed maps.
#[derive(Debug, Default)]
pub struct LocalServices {
    kv_root: Option<PathBuf>,
    config: BTreeMap<String, String>,
    secrets: BTreeMap<String, String>,
}

fn internal(e: impl std::fmt::Display) -> PackError {
    PackError::new(PackErrorKind::Internal, e.to_string())
}

impl LocalServices {
    /// Kv under `<kv_root>/<pack id>/kv/` (shared by every version of a pack,
    /// so data survives upgrades), with the given config and secrets.
    pub fn new(
        kv_root: Option<PathBuf>,
        config: BTreeMap<String, String>,
        secrets: BTreeMap<String, String>,
    ) -> Self {
        Self {
            kv_root,
            config,
            secrets,
        }
    }

    fn dir(&self, pack: &PackLabel) -> Result<PathBuf, PackError> {
        self.kv_root
            .as_ref()
            .map(|r| r.join(pack.descriptor.id().to_string()).join("kv"))
            .ok_or_else(|| PackError::new(PackErrorKind::Unavailable, "no kv store is configured"))
    }
}

impl HostServices for LocalServices {
    fn config(&self, _pack: &PackLabel, key: &str) -> Result<Option<String>, PackError> {
        Ok(self.config.get(key).cloned())
    }

    fn secret(&self, _pack: &PackLabel, name: &str) -> Result<Option<String>, PackError> {
        Ok(self.secrets.get(name).cloned())
    }

    fn kv_get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, PackError> {
        let path = self.dir(pack)?.join(hex::encode(key));
        match std::fs::read(&path) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(internal(format!("cannot read {}: {e}", path.display()))),
        }
    }

    fn kv_set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), PackError> {
        let path = self.dir(pack)?.join(hex::encode(key));
        fsutil::write_atomic(&path, value).map_err(internal)
    }

    fn kv_delete(&self, pack: &PackLabel, key: &str) -> Result<bool, PackError> {
        let path = self.dir(pack)?.join(hex::encode(key));
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(internal(format!("cannot remove {}: {e}", path.display()))),
        }
    }

    fn kv_list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, PackError> {
        let dir = self.dir(pack)?;
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
