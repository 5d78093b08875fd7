//! Environments: per-environment slot bindings, a lock of bytes and grants,
//! policy, configuration, and the durable files that hold them.
//!
//! ```text
//! envs/<name>/
//!   env.json        metadata: policy, ladder rung, per-pack config
//!   lock.json       per slot: requirement, resolved descriptor, digest, grants
//!   *.bak           the previous version of each, kept by every write
//!   .lock           serialises writers across processes
//!   state.lock      serialises writes to the environment's state pack
//!   packs/<id>/     each pack's private scratch directory (owner-only)
//! ```

mod defaults;
mod doctor;
mod model;
mod ops;
mod processes;
mod session;

pub use defaults::{DEFAULT_PACKS, default_requirement, install_defaults};
pub use doctor::{DoctorFinding, doctor};
pub use model::{Binding, EnvMeta, EnvName, Lock, Policy, SourceKind};
pub(crate) use ops::load as ops_load;
pub use ops::{
    BindOutcome, EnvView, InitOutcome, PolicyChange, bind, config_set, format_diff, init, list,
    policy, remove, show, unbind,
};
pub use processes::{ProcessInfo, ProcessSpec, Processes};
pub use session::Session;

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::fsutil::{self, LockGuard};
use crate::home::Home;

/// The files of one environment.
#[derive(Clone, Debug)]
pub struct EnvDir {
    dir: PathBuf,
    name: EnvName,
}

impl EnvDir {
    /// The directory of environment `name` (which may not exist yet).
    pub fn new(home: &Home, name: &EnvName) -> Self {
        Self {
            dir: home.envs_dir().join(name.as_str()),
            name: name.clone(),
        }
    }

    /// The environment's name.
    pub fn name(&self) -> &EnvName {
        &self.name
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Whether the environment exists.
    pub fn exists(&self) -> bool {
        self.dir.is_dir()
    }

    /// `env.json`.
    pub fn meta_path(&self) -> PathBuf {
        self.dir.join("env.json")
    }

    /// `lock.json`.
    pub fn lock_path(&self) -> PathBuf {
        self.dir.join("lock.json")
    }

    /// A pack's private scratch directory, created owner-only.
    pub fn scratch_dir(&self, pack: &envpack_descriptor::PackId) -> Result<PathBuf> {
        let dir = self
            .dir
            .join("packs")
            .join(pack.to_string())
            .join("scratch");
        fsutil::create_dir_all(&dir)?;
        restrict(&self.dir.join("packs"))?;
        Ok(dir)
    }

    /// Private kv files of packs that cannot route kv to a state pack.
    pub fn local_kv_root(&self) -> PathBuf {
        self.dir.join("packs-kv")
    }

    /// Takes the environment's writer lock.
    pub fn lock(&self) -> Result<LockGuard> {
        LockGuard::acquire(&self.dir.join(".lock"))
    }

    /// Takes the lock that makes state compare-and-swap atomic.
    pub fn state_lock(&self) -> Result<LockGuard> {
        LockGuard::acquire(&self.dir.join("state.lock"))
    }

    /// Takes the lock that serialises writes to the environment's secrets
    /// pack (separate from the state lock: a secrets pack may use kv, which
    /// writes through the state pack).
    pub fn secrets_lock(&self) -> Result<LockGuard> {
        LockGuard::acquire(&self.dir.join("secrets.lock"))
    }

    /// Writes `bytes` to `path` durably, keeping the previous content in
    /// `<path>.bak`. The caller holds [`lock`](Self::lock).
    pub fn write_with_backup(&self, path: &Path, bytes: &[u8]) -> Result<()> {
        if path.exists() {
            let bak = path.with_extension("json.bak");
            let old = std::fs::read(path).map_err(|e| Error::io("read", path, e))?;
            // A damaged file never replaces a good backup.
            if serde_json::from_slice::<serde_json::Value>(&old).is_ok() {
                fsutil::write_atomic(&bak, &old)?;
            }
        }
        fsutil::write_atomic(path, bytes)
    }

    /// Whether the environment holds deployed revisions.
    pub fn has_deployments(&self) -> bool {
        std::fs::read_dir(self.dir.join("deployments")).is_ok_and(|d| {
            d.filter_map(|e| e.ok())
                .any(|e| e.file_name().to_string_lossy().ends_with(".json"))
        })
    }
}

/// Makes a directory owner-only (0700) so secrets and state inside it are
/// not readable by other users.
pub fn restrict(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| Error::io("restrict permissions of", dir, e))?;
    }
    Ok(())
}
