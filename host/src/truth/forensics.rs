//! `history ARTIFACT`: the forensic questions about one payload file. When
//! did this content first appear in reality, was it ever in a reviewed
//! bundle, did it exist before the last promotion, which snapshots show it.

use std::collections::BTreeMap;

use envpack_manifest::Digest;
use serde::Serialize;

use super::model::Observation;
use super::store;
use crate::deploy::{DeploymentRecords, journal};
use crate::env::EnvRecords;
use crate::error::{Error, Result};

/// One content of the artifact, as reality showed it.
#[derive(Clone, Debug, Serialize)]
pub struct Sighted {
    /// Its sha256.
    pub sha256: String,
    /// First observed.
    pub first_seen: String,
    /// Last observed.
    pub last_seen: String,
    /// The revisions it was observed in.
    pub revisions: Vec<String>,
    /// The snapshots that show it.
    pub snapshots: Vec<Digest>,
    /// Bundles of this environment that carry exactly this content at
    /// this path (reviewed intent); empty when none ever did.
    pub bundles: Vec<Digest>,
    /// Whether it was observed before the environment's last promotion.
    pub before_last_promotion: Option<bool>,
}

/// What the environment's records say about one artifact.
#[derive(Clone, Debug, Serialize)]
pub struct ArtifactHistory {
    /// The payload path asked about.
    pub path: String,
    /// The content asked about, if one was given (`PATH@SHA256`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// When the environment was last promoted into, if ever.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_promotion: Option<String>,
    /// Every content observed at that path, oldest first.
    pub seen: Vec<Sighted>,
}

/// Answers the forensic questions for `artifact` (`PATH` or `PATH@SHA256`).
pub fn artifact(env: &EnvRecords, artifact: &str) -> Result<ArtifactHistory> {
    let (path, sha) = match artifact.rsplit_once('@') {
        Some((p, s)) if s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit()) => {
            (p.to_string(), Some(s.to_ascii_lowercase()))
        }
        _ => (artifact.to_string(), None),
    };
    if path.is_empty() {
        return Err(Error::invalid(format!(
            "artifact {artifact:?} names no path; expected PATH or PATH@SHA256 (e.g. index.html)"
        )));
    }
    let bundles = bundle_contents(env, &path)?;
    let last_promotion = journal::read_history(env)?
        .into_iter()
        .filter(|h| h.kind == "promote")
        .map(|h| h.at)
        .next_back();
    let mut seen: BTreeMap<String, Sighted> = BTreeMap::new();
    let mut order: Vec<String> = Vec::new();
    let mut loaded: BTreeMap<Digest, Option<super::model::Snapshot>> = BTreeMap::new();
    for s in store::sightings(env)? {
        let snapshot = loaded
            .entry(s.id)
            .or_insert_with(|| store::read(env, &s.id).ok());
        let Some(snapshot) = snapshot else { continue };
        let Observation::Observed { revisions } = &snapshot.observation else {
            continue;
        };
        for r in revisions {
            let Some(digest) = r.files.get(&path) else {
                continue;
            };
            if sha.as_ref().is_some_and(|want| want != digest) {
                continue;
            }
            let entry = seen.entry(digest.clone()).or_insert_with(|| {
                order.push(digest.clone());
                Sighted {
                    sha256: digest.clone(),
                    first_seen: s.at.clone(),
                    last_seen: s.at.clone(),
                    revisions: Vec::new(),
                    snapshots: Vec::new(),
                    bundles: bundles.get(digest).cloned().unwrap_or_default(),
                    before_last_promotion: last_promotion.as_ref().map(|p| s.at < *p),
                }
            });
            entry.last_seen = s.at.clone();
            if !entry.revisions.contains(&r.revision) {
                entry.revisions.push(r.revision.clone());
            }
            if !entry.snapshots.contains(&s.id) {
                entry.snapshots.push(s.id);
            }
        }
    }
    Ok(ArtifactHistory {
        path,
        sha256: sha,
        last_promotion,
        seen: order.into_iter().filter_map(|d| seen.remove(&d)).collect(),
    })
}

/// sha256 at `path` -> the bundles of this environment that carry it.
fn bundle_contents(env: &EnvRecords, path: &str) -> Result<BTreeMap<String, Vec<Digest>>> {
    let records = DeploymentRecords::new(env);
    let mut out: BTreeMap<String, Vec<Digest>> = BTreeMap::new();
    let mut done = Vec::new();
    for dep in records.all()? {
        for r in &dep.revisions {
            if done.contains(&r.bundle_id) {
                continue;
            }
            done.push(r.bundle_id);
            let Ok((verified, _)) = records.open_bundle(&r.bundle_id) else {
                continue;
            };
            for f in verified.manifest.files.iter().filter(|f| f.path == path) {
                out.entry(f.sha256.clone()).or_default().push(verified.id);
            }
        }
    }
    Ok(out)
}
