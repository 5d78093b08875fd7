//! Where envpack keeps its files.
//!
//! ```text
//! $ENVPACK_HOME/                  (default: the platform data dir, e.g. ~/.local/share/envpack)
//!   store/
//!     blobs/sha256/<hex>          pack files, named by their digest, read-only
//!     refs/<ns.slot.name>/<ver>   descriptor -> digest
//!     cache/<engine>/<hex>.cwasm  precompiled artifacts, per engine build
//!     store.lock                  serialises installs and removals
//!   packs/<hex>/scratch           scratch directory of packs run with `pack call`
//!   packs/<pack id>/kv/           private kv of packs run with `pack call`
//!   envs/<name>/                  environments
//!   config/age-identity.txt       this home's age identity (sealed secrets), owner-only,
//!                                 never copied to a shared backend
//! ```

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// The envpack home directory.
#[derive(Clone, Debug)]
pub struct Home {
    root: PathBuf,
}

impl Home {
    /// `$ENVPACK_HOME` if set, else the platform's data directory.
    pub fn discover() -> Result<Self> {
        if let Some(dir) = std::env::var_os("ENVPACK_HOME").filter(|v| !v.is_empty()) {
            return Ok(Self::at(PathBuf::from(dir)));
        }
        let dirs =
            directories::ProjectDirs::from("dev", "greentic", "envpack").ok_or_else(|| {
                Error::internal("cannot find a home directory for envpack's data")
                    .hint("set ENVPACK_HOME to a writable directory")
            })?;
        Ok(Self::at(dirs.data_dir().to_path_buf()))
    }

    /// A home at `root`.
    pub fn at(root: PathBuf) -> Self {
        Self { root }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The pack store.
    pub fn store_dir(&self) -> PathBuf {
        self.root.join("store")
    }

    /// Per-pack private data (scratch dir, kv) outside any environment.
    pub fn pack_data_dir(&self, digest: &envpack_manifest::Digest) -> PathBuf {
        self.root.join("packs").join(digest.hex())
    }

    /// Environments.
    pub fn envs_dir(&self) -> PathBuf {
        self.root.join("envs")
    }

    /// This home's age identity, which opens sealed secrets
    /// (`greentic.secrets.sealed`). Local to the home, whatever the backend.
    pub fn identity_file(&self) -> PathBuf {
        self.root.join("config").join("age-identity.txt")
    }
}
