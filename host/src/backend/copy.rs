//! `envpack backend copy`: moves every environment (each record with its
//! backup, every journal line, every blob) and the home audit from one
//! backend into an empty one, then reads both back and compares every
//! record, line and blob. The source's leases are held while an
//! environment is copied, so no verb changes it half-way.

use serde::Serialize;

use super::{Backend, Journal, LockScope, Precondition, RecordKey};
use crate::error::{Error, Result};
use crate::types::EnvName;

const JOURNALS: [Journal; 4] = [
    Journal::Audit,
    Journal::History,
    Journal::Snapshots,
    Journal::DriftAccepted,
];

/// What one environment's copy moved.
#[derive(Clone, Debug, Serialize)]
pub struct EnvCopied {
    /// The environment.
    pub name: String,
    /// Records (with their backups).
    pub records: usize,
    /// Journal lines, every journal.
    pub journal_lines: usize,
    /// Blobs (bundles, signatures, promotion reports, snapshots).
    pub blobs: usize,
}

/// What a copy moved, verified.
#[derive(Clone, Debug, Serialize)]
pub struct Copied {
    /// The source, as shown.
    pub from: String,
    /// The target, as shown.
    pub to: String,
    /// Each environment.
    pub environments: Vec<EnvCopied>,
    /// Lines of the home audit.
    pub home_audit_lines: usize,
    /// Every record, line and blob compared equal after the copy.
    pub verified: bool,
}

fn record_keys(b: &dyn Backend, env: &EnvName) -> Result<Vec<RecordKey>> {
    let mut keys = vec![RecordKey::Meta, RecordKey::Lock];
    keys.extend(b.deployments(env)?.into_iter().map(RecordKey::Deployment));
    Ok(keys)
}

fn refuse_non_empty(to: &dyn Backend) -> Result<()> {
    let envs = to.environments()?;
    let audit = to.home_audit_lines()?.len();
    if envs.is_empty() && audit == 0 {
        return Ok(());
    }
    let names: Vec<String> = envs.iter().map(ToString::to_string).collect();
    Err(Error::conflict(format!(
        "the target {} is not empty (environments: [{}], {audit} home audit lines); a copy goes into an empty backend only, so nothing is merged or overwritten",
        to.describe(),
        names.join(", ")
    ))
    .hint("envpack backend copy --from fs --to 'postgres://USER@HOST:PORT/DB?schema=NEW_SCHEMA'"))
}

fn copy_env(from: &dyn Backend, to: &dyn Backend, env: &EnvName) -> Result<EnvCopied> {
    let _env_lease = from.lock(env, LockScope::Env)?;
    let _deployments_lease = from.lock(env, LockScope::Deployments)?;
    to.create(env)?;
    let keys = record_keys(from, env)?;
    let mut records = 0;
    for key in &keys {
        // The backup first: writing the current bytes over it keeps it as
        // the target's backup.
        if let Some(backup) = from.read_backup(env, key)? {
            to.write(env, key, &backup, Precondition::Any)?;
        }
        if let Some(current) = from.read(env, key)? {
            to.write(env, key, &current.bytes, Precondition::Any)?;
            records += 1;
        }
    }
    let mut journal_lines = 0;
    for journal in JOURNALS {
        for line in from.lines(env, journal)? {
            to.append(env, journal, &line)?;
            journal_lines += 1;
        }
    }
    let blobs = from.blobs(env)?;
    for key in &blobs {
        if let Some(bytes) = from.blob(env, key)? {
            to.put_blob(env, key, &bytes)?;
        }
    }
    Ok(EnvCopied {
        name: env.to_string(),
        records,
        journal_lines,
        blobs: blobs.len(),
    })
}

/// Copies everything `from` holds into `to` (which must be empty), then
/// verifies it.
pub fn copy(from: &dyn Backend, to: &dyn Backend) -> Result<Copied> {
    refuse_non_empty(to)?;
    let mut environments = Vec::new();
    for env in from.environments()? {
        environments.push(copy_env(from, to, &env)?);
    }
    let audit = from.home_audit_lines()?;
    for line in &audit {
        to.append_home_audit(line)?;
    }
    verify(from, to)?;
    Ok(Copied {
        from: from.describe(),
        to: to.describe(),
        environments,
        home_audit_lines: audit.len(),
        verified: true,
    })
}

/// Every difference between what `a` and `b` hold, as lines.
pub fn differences(a: &dyn Backend, b: &dyn Backend) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let (ea, eb) = (a.environments()?, b.environments()?);
    if ea != eb {
        out.push(format!("environments: {ea:?} vs {eb:?}"));
    }
    for env in ea.iter().filter(|e| eb.contains(e)) {
        env_differences(a, b, env, &mut out)?;
    }
    if a.home_audit_lines()? != b.home_audit_lines()? {
        out.push("the home audit".into());
    }
    Ok(out)
}

fn env_differences(
    a: &dyn Backend,
    b: &dyn Backend,
    env: &EnvName,
    out: &mut Vec<String>,
) -> Result<()> {
    let (ka, kb) = (record_keys(a, env)?, record_keys(b, env)?);
    if ka != kb {
        out.push(format!("{env}: records {ka:?} vs {kb:?}"));
    }
    for key in ka.iter().filter(|k| kb.contains(k)) {
        let bytes = |x: &dyn Backend| x.read(env, key).map(|s| s.map(|s| s.bytes));
        if bytes(a)? != bytes(b)? {
            out.push(format!("{env}: {key}"));
        }
        if a.read_backup(env, key)? != b.read_backup(env, key)? {
            out.push(format!("{env}: the backup of {key}"));
        }
    }
    for journal in JOURNALS {
        if a.lines(env, journal)? != b.lines(env, journal)? {
            out.push(format!("{env}: journal {journal:?}"));
        }
    }
    let (ba, bb) = (a.blobs(env)?, b.blobs(env)?);
    if ba != bb {
        out.push(format!("{env}: blobs {ba:?} vs {bb:?}"));
    }
    for key in ba.iter().filter(|k| bb.contains(k)) {
        if a.blob(env, key)? != b.blob(env, key)? {
            out.push(format!("{env}: blob {key:?}"));
        }
    }
    Ok(())
}

/// Fails with every difference, if any.
pub fn verify(a: &dyn Backend, b: &dyn Backend) -> Result<()> {
    let diffs = differences(a, b)?;
    if diffs.is_empty() {
        return Ok(());
    }
    Err(Error::integrity(format!(
        "{} and {} differ after the copy: {}",
        a.describe(),
        b.describe(),
        diffs.join("; ")
    ))
    .hint("envpack backend show (the home still uses its old backend; nothing was switched)"))
}
