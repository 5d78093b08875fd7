//! The capabilities a pack gets inside an environment: kv routed to the
//! state pack, secret reads routed to the secrets pack, config from the
//! environment's metadata, logs that also become telemetry events.

use std::sync::Arc;

use envpack_descriptor::Slot;

use super::session::{Events, SlotPacks};
use crate::runtime::capabilities::kv::{FileKv, KvStore};
use crate::runtime::capabilities::log::{LogSink, emit};
use crate::runtime::capabilities::secrets::SecretSource;
use crate::runtime::slots::state::StateClient;
use crate::runtime::slots::telemetry::TelemetryEvent;
use crate::runtime::{HostError, Level, PackError, PackErrorKind, PackLabel};

/// Keys of a pack's private kv inside the state pack.
fn kv_key(pack: &PackLabel, key: &str) -> String {
    format!("packs/{}/kv/{key}", pack.descriptor.id())
}

/// Secret reads through the environment's secrets pack.
pub(crate) struct SecretsViaPack {
    pub(crate) packs: Arc<SlotPacks>,
}

impl SecretSource for SecretsViaPack {
    fn get(&self, _pack: &PackLabel, name: &str) -> Result<Option<String>, HostError> {
        Ok(self
            .packs
            .with(Slot::Secrets, false, |i| i.secrets()?.get(name))?)
    }
}

/// What the secrets pack may read through `secrets-access`: only this
/// home's age identity, as secret [`IDENTITY_SECRET`], from the local file
/// (`greentic.secrets.sealed` opens values with it). It never goes through
/// the backend, so a shared backend never holds it. Any other name: a
/// secrets pack cannot read secrets through itself.
pub(crate) struct NoSelfSecrets {
    pub(crate) identity: std::path::PathBuf,
}

/// The secret name the home's identity is served under.
pub const IDENTITY_SECRET: &str = "ENVPACK_IDENTITY";

impl SecretSource for NoSelfSecrets {
    fn get(&self, _pack: &PackLabel, name: &str) -> Result<Option<String>, HostError> {
        if name == IDENTITY_SECRET {
            return match std::fs::read_to_string(&self.identity) {
                Ok(text) => Ok(Some(text)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(PackError::new(
                    PackErrorKind::Unavailable,
                    format!(
                        "cannot read this home's identity {}: {e}",
                        self.identity.display()
                    ),
                )
                .into()),
            };
        }
        Err(PackError::new(
            PackErrorKind::Unavailable,
            "a secrets pack cannot read secrets through the host",
        )
        .into())
    }
}

/// A pack's private kv, stored in the environment's state pack under
/// `packs/<id>/kv/`; writes hold the environment's state lease. The bytes of
/// values each pack holds are kept beside, in `packs/<id>/kv-usage` (out of
/// the pack's reach), so the quota costs one read and one write per change.
pub(crate) struct KvViaState {
    pub(crate) packs: Arc<SlotPacks>,
    pub(crate) quota: u64,
}

/// Where the bytes a pack's kv holds are counted.
fn usage_key(pack: &PackLabel) -> String {
    format!("packs/{}/kv-usage", pack.descriptor.id())
}

/// The bytes `pack`'s kv holds: the stored count, or, the first time, the
/// sum over its values.
fn kv_usage(state: &mut StateClient<'_>, pack: &PackLabel) -> crate::error::Result<u64> {
    if let Some(e) = state.get(&usage_key(pack))? {
        return Ok(String::from_utf8_lossy(&e.value).parse().unwrap_or(0));
    }
    let mut total = 0;
    for key in state.list(&kv_key(pack, ""))? {
        total += state.get(&key)?.map_or(0, |e| e.value.len() as u64);
    }
    Ok(total)
}

impl KvViaState {
    /// Replaces (or with `None` removes) `key`'s value, keeping the usage
    /// count and refusing growth past the quota.
    fn change(&self, pack: &PackLabel, key: &str, value: Option<&[u8]>) -> Result<bool, HostError> {
        Ok(self.packs.with(Slot::State, true, |i| {
            let mut state = i.state()?;
            let full = kv_key(pack, key);
            let old = state.get(&full)?.map(|e| e.value.len() as u64);
            let new = value.map_or(0, |v| v.len() as u64);
            if old.is_none() && value.is_none() {
                return Ok(false);
            }
            let held = kv_usage(&mut state, pack)?;
            let after = held.saturating_sub(old.unwrap_or(0)).saturating_add(new);
            if new > old.unwrap_or(0) && after > self.quota {
                return Err(crate::error::Error::new(
                    crate::error::Kind::Unavailable,
                    format!(
                        "kv quota exceeded: {pack} may keep {} MiB of kv values and holds {} MiB; this value of {new} bytes does not fit (delete keys, or the operator can raise ENVPACK_KV_QUOTA_MB)",
                        self.quota >> 20,
                        held >> 20
                    ),
                ));
            }
            let existed = match value {
                Some(v) => state.put(&full, v, None).map(|_| true)?,
                None => state.delete(&full, None)?,
            };
            state.put(&usage_key(pack), after.to_string().as_bytes(), None)?;
            Ok(existed)
        })?)
    }
}

impl KvStore for KvViaState {
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.packs.with(Slot::State, false, |i| {
            Ok(i.state()?.get(&kv_key(pack, key))?.map(|e| e.value))
        })?)
    }

    fn set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), HostError> {
        self.change(pack, key, Some(value)).map(|_| ())
    }

    fn delete(&self, pack: &PackLabel, key: &str) -> Result<bool, HostError> {
        self.change(pack, key, None)
    }

    fn list(&self, pack: &PackLabel, prefix: &str) -> Result<Vec<String>, HostError> {
        let base = kv_key(pack, "");
        Ok(self.packs.with(Slot::State, false, |i| {
            Ok(i.state()?
                .list(&format!("{base}{prefix}"))?
                .into_iter()
                .filter_map(|k| k.strip_prefix(&base).map(str::to_string))
                .collect())
        })?)
    }
}

/// The state pack's own kv: files on this machine (it cannot store its kv
/// in itself).
pub(crate) fn own_kv(root: std::path::PathBuf, quota: u64) -> FileKv {
    FileKv::with_quota(root, quota)
}

/// Log lines go to `tracing`; warnings and errors also become `pack.log`
/// telemetry events.
pub(crate) struct EnvLog {
    pub(crate) events: Events,
}

impl LogSink for EnvLog {
    fn write(&self, pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
        emit(pack, level, message, fields);
        if level >= Level::Warn {
            let mut attrs = vec![
                ("pack".to_string(), pack.descriptor.to_string()),
                ("message".into(), message.into()),
            ];
            attrs.extend(fields.iter().cloned());
            self.events
                .pack(TelemetryEvent::now("pack.log", level, attrs));
        }
    }
}
