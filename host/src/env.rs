//! Environments: per-environment slot bindings, a lock of bytes and grants,
//! policy, configuration, doctor, and the session that runs an
//! environment's packs. What an environment persists goes through the
//! home's [`Backend`](crate::backend::Backend), reached through
//! [`EnvRecords`].

pub mod audit;
pub mod audit_query;
mod bind;
pub mod declared;
mod defaults;
pub mod dev_secrets;
mod doctor;
mod init;
pub mod mode;
mod model;
mod ops;
pub mod plan;
pub mod recipients;
mod services;
mod session;

pub use bind::{
    BindOptions, BindOutcome, bind, capability_diff, effective_grants, format_diff, seat_for,
    unbind,
};
pub use defaults::{DEFAULT_PACKS, default_requirement, install_defaults};
pub use doctor::{DoctorFinding, DoctorReport, doctor};
pub use init::{InitOptions, InitOutcome, init};
pub use mode::Mode;
pub use model::{
    Binding, EnvMeta, EnvName, Gate, LayerConflicts, Lock, PackLimits, Policy, Retention, Seat,
    Soak, SourceKind,
};
pub use ops::{
    EnvView, PolicyChange, PolicyEdit, check_removable, config_set, install_packs, list, policy,
    remove, remove_pack, set_limits, set_mode, set_retention, show,
};
pub use session::Session;

use std::path::PathBuf;
use std::sync::Arc;

use envpack_descriptor::Slot;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::backend::{self, Backend, Etag, Lease, LockScope, Precondition, RecordKey};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::home::Home;

/// Slots every environment has.
pub const SLOTS: [Slot; 4] = [Slot::Deployer, Slot::Secrets, Slot::Telemetry, Slot::State];

/// A record read: absent, parsed, or present but unreadable.
pub(crate) enum Read<T> {
    Absent,
    Ok(T, Etag),
    Corrupt(String),
}

/// Encodes a record as the files have always held it: pretty JSON and a
/// newline.
pub(crate) fn to_json(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes =
        serde_json::to_vec_pretty(v).map_err(|e| Error::internal(format!("cannot encode: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// One environment's persisted records, through the home's backend.
#[derive(Clone, Debug)]
pub struct EnvRecords {
    backend: Arc<dyn Backend>,
    name: EnvName,
}

impl EnvRecords {
    /// Environment `name` of `home` (which may not exist yet).
    pub fn new(home: &Home, name: &EnvName) -> Self {
        Self::with_backend(backend::open(home), name)
    }

    /// Environment `name` in `backend`.
    pub fn with_backend(backend: Arc<dyn Backend>, name: &EnvName) -> Self {
        Self {
            backend,
            name: name.clone(),
        }
    }

    /// The environment's name.
    pub fn name(&self) -> &EnvName {
        &self.name
    }

    /// The backend.
    pub fn backend(&self) -> &Arc<dyn Backend> {
        &self.backend
    }

    /// Whether the environment exists.
    pub fn exists(&self) -> bool {
        self.backend.exists(&self.name)
    }

    /// Takes one of the environment's leases.
    pub fn lock(&self, scope: LockScope) -> Result<Lease> {
        self.backend.lock(&self.name, scope)
    }

    /// Reads and parses a record.
    pub(crate) fn read<T: DeserializeOwned>(&self, key: &RecordKey) -> Result<Read<T>> {
        Ok(match self.backend.read(&self.name, key)? {
            None => Read::Absent,
            Some(s) => match serde_json::from_slice(&s.bytes) {
                Ok(v) => Read::Ok(v, s.etag),
                Err(e) => Read::Corrupt(format!("{key}: {e}")),
            },
        })
    }

    /// Reads and parses the backup of a record.
    pub(crate) fn read_backup<T: DeserializeOwned>(&self, key: &RecordKey) -> Result<Option<T>> {
        Ok(self
            .backend
            .read_backup(&self.name, key)?
            .and_then(|b| serde_json::from_slice(&b).ok()))
    }

    /// Writes a record durably, keeping the previous version as its backup.
    pub(crate) fn write(
        &self,
        key: &RecordKey,
        value: &impl Serialize,
        condition: Precondition,
    ) -> Result<Etag> {
        self.backend
            .write(&self.name, key, &to_json(value)?, condition)
    }

    /// The metadata and lock, failing with the fixing command when either
    /// is missing or damaged.
    pub fn load(&self) -> Result<(EnvMeta, Lock)> {
        let name = &self.name;
        if !self.exists() {
            return Err(self.no_such_environment());
        }
        let damaged = |what: String| {
            Error::integrity(format!("environment {name:?} is damaged: {what}")).hint(format!(
                "envpack env init {name} (repairs it from its backup or defaults)"
            ))
        };
        let meta = match self.read::<EnvMeta>(&RecordKey::Meta)? {
            Read::Ok(m, _) => m,
            Read::Absent => return Err(damaged("env.json is missing".into())),
            Read::Corrupt(e) => return Err(damaged(e)),
        };
        let lock = match self.read::<Lock>(&RecordKey::Lock)? {
            Read::Ok(l, _) => l,
            Read::Absent => return Err(damaged("lock.json is missing".into())),
            Read::Corrupt(e) => return Err(damaged(e)),
        };
        Ok((meta, lock))
    }

    /// "Does not exist", with the closest existing name when the name
    /// looks mistyped.
    pub fn no_such_environment(&self) -> Error {
        let name = &self.name;
        let closest = self
            .backend
            .environments()
            .unwrap_or_default()
            .into_iter()
            .map(|e| (strsim::jaro_winkler(e.as_str(), name.as_str()), e))
            .filter(|(score, _)| *score > 0.8)
            .max_by(|a, b| a.0.total_cmp(&b.0));
        match closest {
            Some((_, near)) => Error::not_found(format!(
                "environment {name:?} does not exist; did you mean {near:?}?"
            ))
            .hint(format!(
                "envpack env show {near} (or, to create {name}: envpack env init {name})"
            )),
            None => Error::not_found(format!("environment {name:?} does not exist"))
                .hint(format!("envpack env init {name}")),
        }
    }

    /// Whether the environment holds deployments.
    pub fn has_deployments(&self) -> bool {
        self.backend
            .deployments(&self.name)
            .is_ok_and(|d| !d.is_empty())
    }

    /// This machine's working directory for the environment.
    pub fn local_dir(&self) -> PathBuf {
        self.backend.local_dir(&self.name)
    }

    /// A pack's private scratch directory, created owner-only. `None` when
    /// the home cannot be written (a read-only mount, a read-only
    /// operator) and the directory does not exist yet: the pack then runs
    /// without `/scratch`, so commands that only read still work.
    pub fn scratch_dir(&self, pack: &envpack_descriptor::PackId) -> Result<Option<PathBuf>> {
        let packs = self.local_dir().join("packs");
        let dir = packs.join(pack.to_string()).join("scratch");
        let read_only = |e: &Error| e.kind() == crate::error::Kind::Denied;
        match fsutil::create_dir_all(&dir) {
            Ok(()) => {}
            Err(e) if read_only(&e) => {
                tracing::debug!("running {pack} without /scratch: {e}");
                return Ok(None);
            }
            Err(e) => return Err(e),
        }
        match fsutil::restrict(&packs) {
            // Made owner-only when it was created; a read-only home cannot
            // have changed that since.
            Err(e) if !read_only(&e) => Err(e),
            _ => Ok(Some(dir)),
        }
    }

    /// A pack's scratch directory if it already exists, never creating it
    /// (dry runs read what packs keep there and create nothing).
    pub fn existing_scratch_dir(&self, pack: &envpack_descriptor::PackId) -> Option<PathBuf> {
        let dir = self
            .local_dir()
            .join("packs")
            .join(pack.to_string())
            .join("scratch");
        dir.is_dir().then_some(dir)
    }

    /// Private kv files of packs that cannot route kv to a state pack (the
    /// state pack itself).
    pub fn local_kv_root(&self) -> PathBuf {
        self.local_dir().join("packs-kv")
    }
}
