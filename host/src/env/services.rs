//! The capabilities a pack gets inside an environment: kv routed to the
//! state pack, secret reads routed to the secrets pack, config from the
//! environment's metadata, logs that also become telemetry events.

use std::sync::Arc;

use envpack_descriptor::Slot;

use super::session::{Events, SlotPacks};
use crate::runtime::capabilities::kv::{FileKv, KvStore};
use crate::runtime::capabilities::log::{LogSink, emit};
use crate::runtime::capabilities::secrets::SecretSource;
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

/// A secrets pack cannot read secrets through itself.
pub(crate) struct NoSelfSecrets;

impl SecretSource for NoSelfSecrets {
    fn get(&self, _pack: &PackLabel, _name: &str) -> Result<Option<String>, HostError> {
        Err(PackError::new(
            PackErrorKind::Unavailable,
            "a secrets pack cannot read secrets through the host",
        )
        .into())
    }
}

/// A pack's private kv, stored in the environment's state pack under
/// `packs/<id>/kv/`; writes hold the environment's state lease.
pub(crate) struct KvViaState {
    pub(crate) packs: Arc<SlotPacks>,
}

impl KvStore for KvViaState {
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<Vec<u8>>, HostError> {
        Ok(self.packs.with(Slot::State, false, |i| {
            Ok(i.state()?.get(&kv_key(pack, key))?.map(|e| e.value))
        })?)
    }

    fn set(&self, pack: &PackLabel, key: &str, value: &[u8]) -> Result<(), HostError> {
        Ok(self.packs.with(Slot::State, true, |i| {
            i.state()?.put(&kv_key(pack, key), value, None).map(|_| ())
        })?)
    }

    fn delete(&self, pack: &PackLabel, key: &str) -> Result<bool, HostError> {
        Ok(self.packs.with(Slot::State, true, |i| {
            i.state()?.delete(&kv_key(pack, key), None)
        })?)
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
