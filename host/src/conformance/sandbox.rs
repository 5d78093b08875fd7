//! Where a pack under test runs: the real sandbox, with the capabilities
//! its manifest requests granted, outside any environment.
//!
//! Everything the pack can write lives in one temporary directory, removed
//! afterwards: its kv (`kv/`), its scratch directory (`scratch/`) and, for a
//! deployer that requests `process`, a local process table (`local/`) like
//! an environment's. Every instance of one sandbox shares them, as the
//! instances of successive `envpack` commands share an environment's, so a
//! suite can check that data outlives an instance and that
//! compare-and-swap holds between two of them.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use envpack_manifest::Capability;

use crate::error::{Error, Result};
use crate::local::Processes;
use crate::runtime::capabilities::kv::FileKv;
use crate::runtime::{Granter, InstanceContext, LoadedPack, PackInstance, Runtime, Services};

/// The program of the harness's test bundle: waits until stopped.
const RUN_SCRIPT: &str =
    "#!/bin/sh\n# envpack pack test: a revision that waits until it is stopped.\nexec sleep 600\n";

/// One pack's temporary world.
pub struct Sandbox<'a> {
    pack: &'a LoadedPack,
    dir: tempfile::TempDir,
    services: Services,
    processes: Option<Processes>,
    attributes: Vec<(String, String)>,
    /// The host serialises writes to an environment's state (one lock per
    /// environment); suites take this around writes that race.
    writes: Mutex<()>,
}

impl std::fmt::Debug for Sandbox<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sandbox")
            .field("pack", self.pack.label())
            .field("dir", &self.dir.path())
            .finish_non_exhaustive()
    }
}

impl<'a> Sandbox<'a> {
    /// A fresh sandbox for `pack`, with the config, secrets and bundle
    /// attributes of `opts`.
    pub fn new(runtime: &Runtime, pack: &'a LoadedPack, opts: &super::Options<'_>) -> Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("envpack-pack-test-")
            .tempdir()
            .map_err(|e| Error::internal(format!("cannot create a temporary directory: {e}")))?;
        let processes = pack
            .manifest()
            .requested()
            .covers(&Capability::Process)
            .then(|| Processes::new(&dir.path().join("local")));
        let mut services = Services {
            config: Arc::new(opts.config.clone()),
            secrets: Arc::new(opts.secrets.clone()),
            kv: Arc::new(FileKv::with_quota(
                dir.path().join("kv"),
                runtime.limits().kv_quota,
            )),
            ..Services::default()
        };
        if let Some(p) = &processes {
            services.processes = Arc::new(p.clone());
        }
        Ok(Self {
            pack,
            dir,
            services,
            processes,
            attributes: opts.attributes.clone(),
            writes: Mutex::new(()),
        })
    }

    /// The pack under test.
    pub fn pack(&self) -> &LoadedPack {
        self.pack
    }

    /// A new instance, sharing this sandbox's kv, scratch and processes.
    pub fn instance(&self) -> Result<PackInstance> {
        let requested = self.pack.manifest().requested();
        let granter = Arc::new(Granter::new(
            self.pack.label().clone(),
            requested.clone(),
            requested,
            "the conformance harness grants what the manifest requests; request {cap} in pack.toml",
        ));
        self.pack.instantiate(InstanceContext {
            granter,
            services: self.services.clone(),
            scratch_dir: Some(self.dir.path().join("scratch")),
            scratch_quota: None,
        })
    }

    /// Holds the write lock the host holds around state writes.
    pub fn write_lock(&self) -> MutexGuard<'_, ()> {
        self.writes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Every file the pack can change, by path, with its bytes' sha256.
    pub fn snapshot(&self) -> BTreeMap<String, String> {
        use sha2::Digest as _;
        let mut out = BTreeMap::new();
        let mut stack = vec![self.dir.path().to_path_buf()];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).into_iter().flatten().flatten() {
                let path = entry.path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    let bytes = std::fs::read(&path).unwrap_or_default();
                    out.insert(
                        self.relative(&path),
                        hex::encode(sha2::Sha256::digest(bytes)),
                    );
                }
            }
        }
        out
    }

    /// What differs between two snapshots, for people.
    pub fn changes(
        before: &BTreeMap<String, String>,
        after: &BTreeMap<String, String>,
    ) -> Vec<String> {
        let mut out: Vec<String> = after
            .keys()
            .chain(before.keys())
            .filter(|k| before.get(*k) != after.get(*k))
            .map(|k| Self::describe_path(k))
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// A snapshot path for people: a kv file as the key it holds.
    pub fn describe_path(path: &str) -> String {
        let mut parts = path.rsplitn(2, '/');
        let name = parts.next().unwrap_or(path);
        if path.starts_with("kv/")
            && let Some(key) = hex::decode(name)
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
        {
            return format!("kv key {key:?}");
        }
        path.to_string()
    }

    fn relative(&self, path: &Path) -> String {
        path.strip_prefix(self.dir.path())
            .unwrap_or(path)
            .to_string_lossy()
            .into_owned()
    }

    /// Extra attributes of the test bundle (`--attr`).
    pub fn attributes(&self) -> &[(String, String)] {
        &self.attributes
    }

    /// Whether revisions run as local processes here (the pack requests
    /// `process`).
    pub fn runs_processes(&self) -> bool {
        self.processes.is_some()
    }

    /// The test bundle's payload (`run`, a script that waits) and its
    /// sha256, as the host would extract it before `apply`.
    pub fn payload() -> (&'static str, &'static [u8]) {
        ("run", RUN_SCRIPT.as_bytes())
    }

    /// Extracts the test payload for `revision` of bundle `bundle_id`, as
    /// the host does before `apply` for a deployer granted `process`.
    pub fn stage_payload(&self, revision: &str, bundle_id: &str) -> Result<()> {
        let Some(p) = &self.processes else {
            return Ok(());
        };
        let dir: PathBuf = p.payload_dir(revision);
        crate::fsutil::create_dir_all(&dir)?;
        let (name, bytes) = Self::payload();
        let file = dir.join(name);
        std::fs::write(&file, bytes).map_err(|e| Error::io("write", &file, e))?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o755))
                .map_err(|e| Error::io("make executable", &file, e))?;
        }
        p.set_bundle(revision, bundle_id)
    }

    /// Stops every process a deployer under test left running.
    pub fn sweep(&self) {
        let Some(p) = &self.processes else {
            return;
        };
        for info in p.list().unwrap_or_default() {
            if info.running
                && let Err(e) = p.stop(&info.revision)
            {
                tracing::warn!(revision = %info.revision, "cannot stop a test revision: {e}");
            }
        }
    }
}

impl Drop for Sandbox<'_> {
    fn drop(&mut self) {
        self.sweep();
    }
}
