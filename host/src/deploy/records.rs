//! Deployment records: loading, saving, listing and locking the
//! deployments of an environment, its stored bundles and promotion
//! reports, all through the environment's backend. Every save is a
//! compare-and-swap against the version that was loaded, written durably
//! with a backup (a damaged record never replaces a good backup).

use std::ops::{Deref, DerefMut};

use envpack_manifest::Digest;
use sha2::{Digest as _, Sha256};

use super::bundle::Verified;
use super::bundle::signature::SignatureFile;
use super::model::{Deployment, Revision};
use crate::backend::{BlobKey, Etag, Lease, LockScope, Precondition, RecordKey};
use crate::env::{EnvName, EnvRecords, Read};
use crate::error::{Error, Result};
use crate::runtime::slots::deployer::{BundleFileRef, BundleRef, RevisionRef};

/// A record together with the version it was loaded at, so saving it is a
/// compare-and-swap.
#[derive(Debug)]
pub struct Tracked<T> {
    value: T,
    etag: Option<Etag>,
}

impl<T> Tracked<T> {
    /// A record that is not stored yet.
    pub fn new(value: T) -> Self {
        Self { value, etag: None }
    }

    /// The record.
    pub fn into_inner(self) -> T {
        self.value
    }
}

impl<T> Deref for Tracked<T> {
    type Target = T;
    fn deref(&self) -> &T {
        &self.value
    }
}

impl<T> DerefMut for Tracked<T> {
    fn deref_mut(&mut self) -> &mut T {
        &mut self.value
    }
}

/// The deployments of one environment.
#[derive(Clone, Debug)]
pub struct DeploymentRecords {
    env: EnvRecords,
}

impl DeploymentRecords {
    /// The deployments of `env`.
    pub fn new(env: &EnvRecords) -> Self {
        Self { env: env.clone() }
    }

    /// The environment.
    pub fn env(&self) -> &EnvRecords {
        &self.env
    }

    /// The environment's name.
    pub fn name(&self) -> &EnvName {
        self.env.name()
    }

    /// Takes the lease every deployment verb holds for its whole run, so
    /// verbs on one environment serialise and generations have no gaps.
    pub fn lock(&self) -> Result<Lease> {
        self.env.lock(LockScope::Deployments)
    }

    /// A deployment, if it exists.
    pub fn load(&self, name: &str) -> Result<Option<Tracked<Deployment>>> {
        let key = RecordKey::Deployment(name.to_string());
        match self.env.read::<Deployment>(&key)? {
            Read::Absent => Ok(None),
            Read::Ok(value, etag) => Ok(Some(Tracked {
                value,
                etag: Some(etag),
            })),
            Read::Corrupt(e) => Err(Error::integrity(format!(
                "deployment record {key} of environment {} is damaged: {e}",
                self.name()
            ))
            .hint(format!(
                "restore it from its backup ({key}.bak in the environment's directory)"
            ))),
        }
    }

    /// Saves a deployment if nobody saved it since it was loaded.
    pub fn save(&self, d: &mut Tracked<Deployment>) -> Result<()> {
        let key = RecordKey::Deployment(d.name.clone());
        let condition = match &d.etag {
            Some(e) => Precondition::Matches(e.clone()),
            None => Precondition::Absent,
        };
        d.etag = Some(self.env.write(&key, &d.value, condition)?);
        Ok(())
    }

    /// Every deployment, by name.
    pub fn all(&self) -> Result<Vec<Tracked<Deployment>>> {
        let mut out = Vec::new();
        for name in self.env.backend().deployments(self.name())? {
            if let Some(d) = self.load(&name)? {
                out.push(d);
            }
        }
        Ok(out)
    }

    /// The deployment a verb means: the named one, or the only one.
    pub fn find(&self, name: Option<&str>) -> Result<Tracked<Deployment>> {
        let env = self.name();
        match name {
            Some(n) => self.load(n)?.ok_or_else(|| {
                Error::not_found(format!("environment {env} has no deployment {n:?}"))
                    .hint(format!("envpack revisions list --env {env}"))
            }),
            None => {
                let mut all = self.all()?;
                match all.len() {
                    1 => Ok(all.remove(0)),
                    0 => Err(
                        Error::not_found(format!("environment {env} has no deployments"))
                            .hint(format!("envpack deploy <BUNDLE> --env {env}")),
                    ),
                    _ => Err(Error::invalid(format!(
                        "environment {env} has several deployments ({}); name one",
                        all.iter()
                            .map(|d| d.name.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ))
                    .hint("add --deployment NAME")),
                }
            }
        }
    }

    /// The deployment holding revision `id` (or unique prefix), and it.
    pub fn find_revision(&self, id: &str) -> Result<(Deployment, Revision)> {
        let mut found = Vec::new();
        for d in self.all()? {
            let d = d.into_inner();
            for r in d.revisions.iter().filter(|r| r.id.starts_with(id)) {
                found.push((d.clone(), r.clone()));
            }
        }
        let env = self.name();
        match found.len() {
            1 => Ok(found.remove(0)),
            0 => Err(
                Error::not_found(format!("environment {env} has no revision {id:?}"))
                    .hint(format!("envpack revisions list --env {env}")),
            ),
            _ => Err(Error::invalid(format!(
                "revision prefix {id:?} is ambiguous in environment {env}"
            ))),
        }
    }

    /// Keeps a deployed bundle's bytes in the environment.
    pub fn store_bundle(&self, id: &Digest, bytes: &[u8]) -> Result<()> {
        self.env
            .backend()
            .put_blob(self.name(), &BlobKey::Bundle(*id), bytes)
    }

    /// Keeps a deployed bundle's signature next to it, so a promotion
    /// carries it to the next rung.
    pub fn store_signature(&self, sig: &SignatureFile) -> Result<()> {
        let json = serde_json::to_vec_pretty(sig)
            .map_err(|e| Error::internal(format!("cannot encode a signature: {e}")))?;
        self.env
            .backend()
            .put_blob(self.name(), &BlobKey::BundleSignature(sig.bundle), &json)
    }

    /// The stored signature of bundle `id`, if it was deployed signed.
    pub fn signature(&self, id: &Digest) -> Result<Option<SignatureFile>> {
        let key = BlobKey::BundleSignature(*id);
        match self.env.backend().blob(self.name(), &key)? {
            None => Ok(None),
            Some(bytes) => super::bundle::signature::parse(
                &bytes,
                &format!("of {id} stored in environment {}", self.name()),
            )
            .map(Some),
        }
    }

    /// A stored bundle's bytes.
    pub fn bundle(&self, id: &Digest) -> Result<Vec<u8>> {
        self.env
            .backend()
            .blob(self.name(), &BlobKey::Bundle(*id))?
            .ok_or_else(|| {
                Error::not_found(format!(
                    "environment {} does not hold bundle {id}",
                    self.name()
                ))
                .hint(format!(
                    "envpack revisions list --env {} (shows the revisions that run it; deploy that bundle file again to restore it)",
                    self.name()
                ))
            })
    }

    /// The files (path -> sha256) of the bundle stored as `id`: the intent
    /// behind a revision's payload.
    pub fn bundle_files(&self, id: &Digest) -> Result<std::collections::BTreeMap<String, String>> {
        let (verified, _) = self.open_bundle(id)?;
        Ok(verified
            .manifest
            .files
            .iter()
            .map(|f| (f.path.clone(), f.sha256.clone()))
            .collect())
    }

    /// Opens a stored bundle, verifying it again (but for the secret scan
    /// it passed when it was deployed here; see
    /// [`super::bundle::open_stored`]).
    pub fn open_bundle(&self, id: &Digest) -> Result<(Verified, Vec<u8>)> {
        self.open_checked(id, false)
    }

    /// [`Self::open_bundle`] with the secret scan too: for a bundle on its
    /// way into another environment (`promote`).
    pub fn open_bundle_scanned(&self, id: &Digest) -> Result<(Verified, Vec<u8>)> {
        self.open_checked(id, true)
    }

    fn open_checked(&self, id: &Digest, scan: bool) -> Result<(Verified, Vec<u8>)> {
        let bytes = self.bundle(id)?;
        let name = format!("{id} stored in environment {}", self.name());
        let verified = if scan {
            super::bundle::open_bytes(&bytes, &name, None)?
        } else {
            super::bundle::open_stored(&bytes, &name, None)?
        };
        if verified.id != *id {
            return Err(Error::integrity(format!(
                "the bundle stored in {} as {id} no longer matches its id ({})",
                self.name(),
                verified.id
            )));
        }
        Ok((verified, bytes))
    }

    /// Keeps an artifact (bytes the host must be able to give back, such
    /// as a layer exported before it is cleared) under its content address,
    /// and returns that address.
    pub fn store_artifact(&self, bytes: &[u8]) -> Result<Digest> {
        let id = Digest::of(bytes);
        self.env
            .backend()
            .put_blob(self.name(), &BlobKey::Artifact(id), bytes)?;
        Ok(id)
    }

    /// A kept artifact's bytes, if the environment holds it.
    pub fn artifact(&self, id: &Digest) -> Result<Option<Vec<u8>>> {
        self.env
            .backend()
            .blob(self.name(), &BlobKey::Artifact(*id))
    }

    /// Stores a promotion report as `promotions/<name>.json`.
    pub fn store_report(&self, name: &str, report: &impl serde::Serialize) -> Result<()> {
        let json = serde_json::to_vec_pretty(report)
            .map_err(|e| Error::internal(format!("cannot encode report: {e}")))?;
        self.env
            .backend()
            .put_blob(self.name(), &BlobKey::Promotion(name.to_string()), &json)
    }
}

/// A sortable unique revision id: creation time, then randomness.
pub fn new_revision_id(sequence: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(sequence.to_le_bytes());
    format!(
        "r{:011x}{}",
        now.as_millis(),
        &hex::encode(h.finalize())[..6]
    )
}

/// A verified bundle as the deployer sees it.
pub fn bundle_ref(v: &Verified) -> BundleRef {
    let m = &v.manifest;
    BundleRef {
        id: v.id.to_string(),
        name: m.name.clone(),
        version: m.version.to_string(),
        source: m.source.kind,
        source_ref: m.source.reference.clone(),
        commit: m.source.commit.clone(),
        files: m
            .files
            .iter()
            .map(|f| BundleFileRef {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                size: f.size,
            })
            .collect(),
        payload_dir: None,
        attributes: m
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

/// A revision as the deployer sees it.
pub fn rev_ref(env: &EnvName, deployment: &str, r: &Revision) -> RevisionRef {
    RevisionRef {
        environment: env.to_string(),
        deployment: deployment.to_string(),
        id: r.id.clone(),
        sequence: r.sequence,
    }
}
