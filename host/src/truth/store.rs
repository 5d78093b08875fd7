//! Where snapshots and acceptances live: each snapshot is an immutable,
//! content-addressed blob written before its sighting is appended to the
//! index, so a crash mid-write leaves at most a blob nobody points at, and
//! the previous snapshot stays readable.

use envpack_manifest::Digest;

use super::model::{Acceptance, Sighting, Snapshot};
use crate::backend::{BlobKey, Journal};
use crate::env::EnvRecords;
use crate::error::{Error, Result};

fn encode(v: &impl serde::Serialize) -> Result<Vec<u8>> {
    serde_json::to_vec(v).map_err(|e| Error::internal(format!("cannot encode: {e}")))
}

/// Stores a snapshot (once per content) and records that it was seen `at`.
/// Returns its id and whether this content was stored before.
pub fn save(env: &EnvRecords, snapshot: &Snapshot, at: &str) -> Result<(Digest, bool)> {
    let id = snapshot.id();
    let backend = env.backend();
    let seen_before = known(env, &id)?;
    if !seen_before {
        backend.put_blob(env.name(), &BlobKey::Snapshot(id), &encode(snapshot)?)?;
    }
    let sighting = Sighting {
        id,
        at: at.to_string(),
    };
    backend.append(env.name(), Journal::Snapshots, &encode(&sighting)?)?;
    Ok((id, seen_before))
}

/// Whether the environment keeps a snapshot with this id.
pub fn known(env: &EnvRecords, id: &Digest) -> Result<bool> {
    Ok(env
        .backend()
        .blob(env.name(), &BlobKey::Snapshot(*id))?
        .is_some())
}

/// Every sighting, oldest first.
pub fn sightings(env: &EnvRecords) -> Result<Vec<Sighting>> {
    Ok(env
        .backend()
        .lines(env.name(), Journal::Snapshots)?
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// A snapshot by id or unique hex prefix.
pub fn load(env: &EnvRecords, id: &str) -> Result<(Digest, Snapshot)> {
    let want = id.trim_start_matches("sha256:");
    let mut ids: Vec<Digest> = sightings(env)?
        .into_iter()
        .map(|s| s.id)
        .filter(|d| d.hex().starts_with(want))
        .collect();
    ids.sort();
    ids.dedup();
    let name = env.name();
    match ids.as_slice() {
        [one] => Ok((*one, read(env, one)?)),
        [] => Err(
            Error::not_found(format!("environment {name} has no snapshot {id:?}"))
                .hint(format!("envpack snapshots --env {name}")),
        ),
        _ => Err(Error::invalid(format!(
            "snapshot prefix {id:?} matches {} snapshots in {name}; give more of the id",
            ids.len()
        ))),
    }
}

/// The snapshot stored as `id`, checked against its content address.
pub fn read(env: &EnvRecords, id: &Digest) -> Result<Snapshot> {
    let name = env.name();
    let bytes = env
        .backend()
        .blob(name, &BlobKey::Snapshot(*id))?
        .ok_or_else(|| {
            Error::integrity(format!("snapshot {id} of {name} is listed but missing"))
        })?;
    let snapshot: Snapshot = serde_json::from_slice(&bytes)
        .map_err(|e| Error::integrity(format!("snapshot {id} of {name} is damaged: {e}")))?;
    if snapshot.id() != *id {
        return Err(Error::integrity(format!(
            "snapshot {id} of {name} no longer matches its id"
        )));
    }
    Ok(snapshot)
}

/// The newest snapshot and when it was last seen, if any.
pub fn latest(env: &EnvRecords) -> Result<Option<(Sighting, Snapshot)>> {
    let Some(last) = sightings(env)?.pop() else {
        return Ok(None);
    };
    let snapshot = read(env, &last.id)?;
    Ok(Some((last, snapshot)))
}

/// Records an acceptance.
pub fn accept(env: &EnvRecords, acceptance: &Acceptance) -> Result<()> {
    env.backend()
        .append(env.name(), Journal::DriftAccepted, &encode(acceptance)?)
}

/// Every acceptance, oldest first.
pub fn acceptances(env: &EnvRecords) -> Result<Vec<Acceptance>> {
    Ok(env
        .backend()
        .lines(env.name(), Journal::DriftAccepted)?
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// When each drift entry was first seen: the first sighting of a snapshot
/// whose drift holds it (an entry's id names one difference, so this is
/// when that exact difference appeared). Each snapshot is read once.
pub fn first_seen(env: &EnvRecords) -> Result<std::collections::BTreeMap<String, String>> {
    let mut out = std::collections::BTreeMap::new();
    let mut read_ids = std::collections::BTreeSet::new();
    for s in sightings(env)? {
        if !read_ids.insert(s.id) {
            continue;
        }
        // A snapshot that no longer reads is evidence lost, not a failure
        // of the question.
        let Ok(snapshot) = read(env, &s.id) else {
            continue;
        };
        for d in
            super::drift::compare(&snapshot.expectation, &snapshot.observation).unwrap_or_default()
        {
            out.entry(d.id).or_insert_with(|| s.at.clone());
        }
    }
    Ok(out)
}
