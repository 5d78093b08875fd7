//! The content-addressed pack store.
//!
//! Pack files live under `blobs/sha256/<hex>`, named by their digest and
//! verified while written; `refs/<ns.slot.name>/<version>` maps each
//! installed descriptor to its digest, so several versions of a pack live
//! side by side. Precompiled artifacts live under `cache/<engine key>/`.
//!
//! Installs and removals hold `store.lock`, so concurrent `envpack`
//! processes never see a half-installed pack; a blob is written to a temp
//! file, hashed, fsynced and renamed into place before its ref is written.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use envpack_descriptor::{Descriptor, PackId, Requirement};
use envpack_manifest::{Digest, PackManifest, read_manifest};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Kind, Result};
use crate::fsutil::{self, LockGuard};
use crate::home::Home;
use crate::types::{PackLabel, PackOrigin};

/// The pack store.
#[derive(Clone, Debug)]
pub struct Store {
    dir: PathBuf,
}

/// What a ref file records.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct RefRecord {
    digest: Digest,
    size: u64,
    installed_at: String,
    source: String,
    /// The registry reference and manifest it was pulled from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    origin: Option<PackOrigin>,
}

/// An installed pack.
#[derive(Clone, Debug, Serialize)]
pub struct InstalledPack {
    /// Descriptor.
    pub descriptor: Descriptor,
    /// Digest of the file.
    pub digest: Digest,
    /// Size in bytes.
    pub size: u64,
    /// When installed (RFC 3339, UTC).
    pub installed_at: String,
    /// Where it was installed from.
    pub source: String,
    /// The registry reference and manifest digest, when pulled from one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<PackOrigin>,
}

/// A pack whose bytes were just read and checked against their digest.
/// Only the store constructs one.
#[derive(Clone, Debug)]
pub struct VerifiedPack {
    bytes: Arc<Vec<u8>>,
    label: PackLabel,
    manifest: Arc<PackManifest>,
}

impl VerifiedPack {
    /// The pack file.
    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Descriptor and digest.
    pub fn label(&self) -> &PackLabel {
        &self.label
    }

    /// The manifest.
    pub fn manifest(&self) -> &Arc<PackManifest> {
        &self.manifest
    }
}

/// The result of installing one file.
#[derive(Clone, Debug, Serialize)]
pub struct InstallOutcome {
    /// The pack.
    pub descriptor: Descriptor,
    /// Its digest.
    pub digest: Digest,
    /// `installed`, or `unchanged` when the same bytes were already there.
    pub outcome: &'static str,
}

/// A problem `pack verify` found.
#[derive(Clone, Debug, Serialize)]
pub struct Finding {
    /// `error` or `warning`.
    pub severity: &'static str,
    /// What is wrong.
    pub message: String,
    /// The command that fixes it.
    pub fix: String,
}

/// Current UTC time as RFC 3339 with seconds, for records.
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Store {
    /// The store under `home`.
    pub fn open(home: &Home) -> Self {
        Self {
            dir: home.store_dir(),
        }
    }

    fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.dir.join("blobs/sha256").join(digest.hex())
    }

    fn ref_path(&self, d: &Descriptor) -> PathBuf {
        self.dir
            .join("refs")
            .join(d.id().to_string())
            .join(format!("{}.json", d.version()))
    }

    /// Where the precompiled artifact of `digest` for `engine_key` lives.
    pub fn artifact_path(&self, digest: &Digest, engine_key: &str) -> PathBuf {
        self.dir
            .join("cache")
            .join(engine_key)
            .join(format!("{}.cwasm", digest.hex()))
    }

    fn lock(&self) -> Result<LockGuard> {
        LockGuard::acquire(&self.dir.join("store.lock"))
    }

    /// Installs the pack file at `path`.
    pub fn install_file(&self, path: &Path) -> Result<(InstallOutcome, VerifiedPack)> {
        let bytes = fs::read(path).map_err(|e| Error::io("read pack file", path, e))?;
        self.install_bytes(bytes, &path.display().to_string())
    }

    /// Installs a pack from its bytes. Installing the same bytes again is a
    /// no-op; installing different bytes under an installed descriptor is a
    /// conflict (versions are immutable).
    pub fn install_bytes(
        &self,
        bytes: Vec<u8>,
        source: &str,
    ) -> Result<(InstallOutcome, VerifiedPack)> {
        self.install_from(bytes, source, None)
    }

    /// Installs a pack pulled from a registry, recording its origin (also
    /// on a pack already installed with the same bytes: where it can be
    /// fetched again is news).
    pub fn install_pulled(
        &self,
        bytes: Vec<u8>,
        origin: PackOrigin,
    ) -> Result<(InstallOutcome, VerifiedPack)> {
        let source = origin.reference.to_string();
        self.install_from(bytes, &source, Some(origin))
    }

    fn install_from(
        &self,
        bytes: Vec<u8>,
        source: &str,
        origin: Option<PackOrigin>,
    ) -> Result<(InstallOutcome, VerifiedPack)> {
        if let Some(why) = envpack_manifest::too_big(&bytes) {
            return Err(Error::invalid(format!(
                "cannot install {source}: it is too big to compile safely: {why}"
            ))
            .hint("split the pack, or build it with optimisations: envpack pack build PACK_DIR (release, opt-level \"s\")"));
        }
        let manifest = read_manifest(&bytes)
            .map_err(|e| Error::invalid(format!("cannot install {source}: {e}")))?;
        let digest = Digest::of(&bytes);
        let descriptor = manifest.descriptor.clone();
        let _guard = self.lock()?;
        let ref_path = self.ref_path(&descriptor);
        if let Some(existing) = self.read_ref(&ref_path)? {
            if existing.digest == digest && self.blob_path(&digest).exists() {
                if origin.is_some() && existing.origin != origin {
                    let record = RefRecord {
                        origin,
                        source: source.to_string(),
                        ..existing
                    };
                    self.write_ref(&ref_path, &record)?;
                }
                let pack = self.verified(bytes, digest, manifest);
                return Ok((
                    InstallOutcome {
                        descriptor,
                        digest,
                        outcome: "unchanged",
                    },
                    pack,
                ));
            }
            if existing.digest != digest {
                return Err(Error::conflict(format!(
                    "{descriptor} is already installed with digest {} but {source} has digest {digest}; installed versions are immutable",
                    existing.digest
                ))
                .hint(format!(
                    "bump the pack's version, or run `envpack pack remove {descriptor}` first"
                )));
            }
        }
        self.write_blob(&bytes, &digest)?;
        let record = RefRecord {
            digest,
            size: bytes.len() as u64,
            installed_at: now_rfc3339(),
            source: source.to_string(),
            origin,
        };
        self.write_ref(&ref_path, &record)?;
        let pack = self.verified(bytes, digest, manifest);
        Ok((
            InstallOutcome {
                descriptor,
                digest,
                outcome: "installed",
            },
            pack,
        ))
    }

    fn write_ref(&self, path: &Path, record: &RefRecord) -> Result<()> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::internal(format!("cannot encode ref: {e}")))?;
        fsutil::write_atomic(path, &json)
    }

    /// Where an installed descriptor was pulled from, if from a registry.
    pub fn origin_of(&self, d: &Descriptor) -> Result<Option<PackOrigin>> {
        Ok(self.read_ref(&self.ref_path(d))?.and_then(|r| r.origin))
    }

    fn verified(&self, bytes: Vec<u8>, digest: Digest, manifest: PackManifest) -> VerifiedPack {
        VerifiedPack {
            label: PackLabel {
                descriptor: manifest.descriptor.clone(),
                digest,
            },
            bytes: Arc::new(bytes),
            manifest: Arc::new(manifest),
        }
    }

    fn write_blob(&self, bytes: &[u8], digest: &Digest) -> Result<()> {
        let path = self.blob_path(digest);
        if path.exists() {
            // Content-addressed: an existing blob with a matching hash is the
            // same file. Re-check rather than trust the name.
            if let Ok(existing) = fs::read(&path)
                && Digest::of(&existing) == *digest
            {
                return Ok(());
            }
        }
        let dir = path
            .parent()
            .ok_or_else(|| Error::internal("blob path has no parent"))?;
        fsutil::create_dir_all(dir)?;
        let mut tmp = tempfile::Builder::new()
            .prefix(&fsutil::temp_prefix())
            .tempfile_in(dir)
            .map_err(|e| Error::io("create a temporary file in", dir, e))?;
        // Hash what is actually written, so a short write or a concurrent
        // writer cannot leave a blob whose name lies about its content.
        let mut hasher = Sha256::new();
        for chunk in bytes.chunks(1 << 16) {
            hasher.update(chunk);
            tmp.write_all(chunk)
                .map_err(|e| Error::io("write", tmp.path(), e))?;
        }
        let written = Digest::from_bytes(hasher.finalize().into());
        if written != *digest {
            return Err(Error::integrity(format!(
                "pack bytes changed while installing (expected {digest}, wrote {written})"
            )));
        }
        let mut perms = tmp
            .as_file()
            .metadata()
            .map_err(|e| Error::io("stat", tmp.path(), e))?
            .permissions();
        perms.set_readonly(true);
        let _ = fs::set_permissions(tmp.path(), perms);
        fsutil::persist(tmp, &path)?;
        // Installs that were killed left their temp files here.
        fsutil::clean_stale_temps(dir);
        Ok(())
    }

    fn read_ref(&self, path: &Path) -> Result<Option<RefRecord>> {
        match fs::read(path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                Error::integrity(format!("the store ref {} is corrupt: {e}", path.display()))
                    .hint("envpack pack verify")
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io("read", path, e)),
        }
    }

    /// Every installed pack, sorted by descriptor.
    pub fn list(&self) -> Result<Vec<InstalledPack>> {
        let refs = self.dir.join("refs");
        let mut out = Vec::new();
        let ids = match fs::read_dir(&refs) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(Error::io("list", &refs, e)),
        };
        for id_entry in ids.filter_map(|e| e.ok()) {
            let Ok(id) = id_entry.file_name().to_string_lossy().parse::<PackId>() else {
                continue;
            };
            let versions = fs::read_dir(id_entry.path())
                .map_err(|e| Error::io("list", &id_entry.path(), e))?;
            for v in versions.filter_map(|e| e.ok()) {
                let name = v.file_name().to_string_lossy().to_string();
                let Some(version) = name.strip_suffix(".json").and_then(|v| v.parse().ok()) else {
                    continue;
                };
                let descriptor = Descriptor::new(id.clone(), version);
                if let Some(r) = self.read_ref(&v.path())? {
                    out.push(InstalledPack {
                        descriptor,
                        digest: r.digest,
                        size: r.size,
                        installed_at: r.installed_at,
                        source: r.source,
                        origin: r.origin,
                    });
                }
            }
        }
        out.sort_by(|a, b| a.descriptor.cmp(&b.descriptor));
        Ok(out)
    }

    /// Installed versions of one pack id.
    pub fn versions(&self, id: &PackId) -> Result<Vec<Descriptor>> {
        let dir = self.dir.join("refs").join(id.to_string());
        let entries = match fs::read_dir(&dir) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io("list", &dir, e)),
        };
        let mut out: Vec<Descriptor> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| {
                let name = e.file_name().to_string_lossy().to_string();
                name.strip_suffix(".json")
                    .and_then(|v| v.parse().ok())
                    .map(|v| Descriptor::new(id.clone(), v))
            })
            .collect();
        out.sort();
        Ok(out)
    }

    /// The newest installed version matching `req`.
    pub fn resolve(&self, req: &Requirement) -> Result<Descriptor> {
        let versions = self.versions(req.id())?;
        if let Some(d) = req.resolve(&versions) {
            return Ok(d.clone());
        }
        let have = if versions.is_empty() {
            "none is installed".to_string()
        } else {
            format!(
                "installed: {}",
                versions
                    .iter()
                    .map(|d| d.version().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        };
        Err(
            Error::not_found(format!("no installed pack matches {req} ({have})"))
                .hint("envpack pack install <FILE.wasm>"),
        )
    }

    /// The bytes of a stored blob, unverified (for reading manifests; use
    /// [`load`](Self::load) to run a pack).
    pub fn blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let path = self.blob_path(digest);
        fs::read(&path).map_err(|e| Error::io("read pack", &path, e))
    }

    /// The digest an installed descriptor points to.
    pub fn digest_of(&self, d: &Descriptor) -> Result<Digest> {
        self.read_ref(&self.ref_path(d))?
            .map(|r| r.digest)
            .ok_or_else(|| {
                Error::not_found(format!("{d} is not installed"))
                    .hint("envpack pack list, or envpack pack install <FILE.wasm>")
            })
    }

    /// Reads an installed pack, checking its bytes against `expected` (the
    /// digest a lock recorded) or else against its ref. Refuses on mismatch.
    pub fn load(&self, d: &Descriptor, expected: Option<&Digest>) -> Result<VerifiedPack> {
        let recorded = self.digest_of(d)?;
        if let Some(expected) = expected
            && *expected != recorded
        {
            return Err(Error::integrity(format!(
                "{d} in the store has digest {recorded}, but {expected} was locked; refusing to load it"
            ))
            .hint("reinstall the locked file, or rebind to accept the new one"));
        }
        let path = self.blob_path(&recorded);
        let bytes = fs::read(&path).map_err(|e| {
            Error::io("read pack", &path, e)
                .hint(format!("envpack pack install <FILE> to restore {d}"))
        })?;
        let actual = Digest::of(&bytes);
        if actual != recorded {
            return Err(Error::integrity(format!(
                "the stored file of {d} was tampered with: {} has digest {actual}, expected {recorded}; refusing to load it",
                path.display()
            ))
            .hint(format!(
                "envpack pack remove {d} --force && envpack pack install <the original file>"
            )));
        }
        let manifest = read_manifest(&bytes).map_err(|e| {
            Error::integrity(format!(
                "the stored file of {d} has an unreadable manifest: {e}"
            ))
        })?;
        if manifest.descriptor != *d {
            return Err(Error::integrity(format!(
                "the stored file for {d} declares itself {}; refusing to load it",
                manifest.descriptor
            )));
        }
        Ok(self.verified(bytes, actual, manifest))
    }

    /// Removes an installed descriptor, its blob when no other ref uses it,
    /// and its precompiled artifacts.
    pub fn remove(&self, d: &Descriptor) -> Result<Digest> {
        let _guard = self.lock()?;
        let ref_path = self.ref_path(d);
        let digest = self.read_ref(&ref_path)?.map(|r| r.digest).ok_or_else(|| {
            Error::not_found(format!("{d} is not installed")).hint("envpack pack list")
        })?;
        fs::remove_file(&ref_path).map_err(|e| Error::io("remove", &ref_path, e))?;
        if let Some(dir) = ref_path.parent() {
            let _ = fs::remove_dir(dir); // only succeeds when empty
        }
        let still_used = self.list()?.iter().any(|p| p.digest == digest);
        if !still_used {
            let blob = self.blob_path(&digest);
            if let Err(e) = fs::remove_file(&blob)
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(Error::io("remove", &blob, e));
            }
            if let Ok(engines) = fs::read_dir(self.dir.join("cache")) {
                for engine in engines.filter_map(|e| e.ok()) {
                    let _ = fs::remove_file(engine.path().join(format!("{}.cwasm", digest.hex())));
                }
            }
        }
        Ok(digest)
    }

    /// Re-hashes every installed pack and checks every ref, reporting each
    /// problem with the command that fixes it.
    pub fn verify(&self) -> Result<(usize, Vec<Finding>)> {
        let packs = self.list()?;
        let mut findings = Vec::new();
        for p in &packs {
            let d = &p.descriptor;
            if let Err(e) = self.load(d, None) {
                findings.push(Finding {
                    severity: "error",
                    message: e.message().to_string(),
                    fix: format!(
                        "envpack pack remove {d} --force && envpack pack install <the original {d} file>"
                    ),
                });
            }
        }
        // Blobs no ref points to are harmless leftovers of removals that
        // raced; report them so they can be cleaned.
        let used: BTreeMap<String, ()> = packs.iter().map(|p| (p.digest.hex(), ())).collect();
        if let Ok(blobs) = fs::read_dir(self.dir.join("blobs/sha256")) {
            for b in blobs.filter_map(|e| e.ok()) {
                let name = b.file_name().to_string_lossy().to_string();
                if !name.starts_with('.') && !used.contains_key(&name) {
                    findings.push(Finding {
                        severity: "warning",
                        message: format!(
                            "blob sha256:{name} is not referenced by any installed pack"
                        ),
                        fix: format!("rm {}", b.path().display()),
                    });
                }
            }
        }
        Ok((packs.len(), findings))
    }
}

/// Turns a list of findings into the error `pack verify` exits with.
pub fn findings_error(findings: &[Finding]) -> Option<Error> {
    let errors = findings.iter().filter(|f| f.severity == "error").count();
    (errors > 0).then(|| {
        Error::new(
            Kind::Integrity,
            format!("{errors} installed pack(s) failed verification"),
        )
        .hint(
            findings
                .iter()
                .find(|f| f.severity == "error")
                .map_or(String::new(), |f| f.fix.clone()),
        )
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn timestamps_are_rfc3339_utc() {
        let t = super::now_rfc3339();
        assert_eq!(t.len(), 20, "{t}");
        assert!(t.ends_with('Z') && t.as_bytes()[10] == b'T', "{t}");
    }
}
