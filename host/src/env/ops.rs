//! Environment operations: list, show, remove, policy, config. Every
//! mutation holds the environment's lease and writes with a backup.

use serde::Serialize;

use super::model::{EnvMeta, EnvName, Lock, Policy, SourceKind};
use super::{EnvRecords, Read};
use crate::backend::{LockScope, Precondition, RecordKey};
use crate::error::{Error, Result};
use crate::home::Home;

/// What `env show` and friends print.
#[derive(Clone, Debug, Serialize)]
pub struct EnvView {
    /// Name.
    pub name: EnvName,
    /// Metadata.
    pub meta: EnvMeta,
    /// Lock.
    pub lock: Lock,
}

pub(crate) fn check_after(home: &Home, name: &EnvName, after: Option<&EnvName>) -> Result<()> {
    if let Some(prev) = after {
        if prev == name {
            return Err(Error::invalid(format!(
                "environment {name:?} cannot come after itself"
            )));
        }
        if !EnvRecords::new(home, prev).exists() {
            return Err(Error::not_found(format!(
                "--after {prev:?}: no such environment to promote from"
            ))
            .hint(format!("envpack env init {prev}")));
        }
        // Walk the ladder from `prev` down; finding `name` would make a loop.
        let mut cursor = Some(prev.clone());
        let mut steps = 0;
        while let Some(c) = cursor {
            if &c == name {
                return Err(Error::invalid(format!(
                    "--after {prev:?} would make a promotion loop through {name:?}"
                )));
            }
            steps += 1;
            if steps > 64 {
                break;
            }
            cursor = match EnvRecords::new(home, &c).read::<EnvMeta>(&RecordKey::Meta)? {
                Read::Ok(m, _) => m.policy.after,
                _ => None,
            };
        }
    }
    Ok(())
}

/// Every environment, sorted by name.
pub fn list(home: &Home) -> Result<Vec<EnvView>> {
    crate::backend::open(home)
        .environments()?
        .iter()
        .map(|name| show(home, name))
        .collect()
}

/// One environment.
pub fn show(home: &Home, name: &EnvName) -> Result<EnvView> {
    let (meta, lock) = EnvRecords::new(home, name).load()?;
    Ok(EnvView {
        name: name.clone(),
        meta,
        lock,
    })
}

/// `env rm`: deletes an environment; refuses while it holds deployed
/// revisions unless `force` (the deployment layer stops them first, see
/// `deploy::updown::remove`).
pub fn remove(home: &Home, name: &EnvName, force: bool) -> Result<()> {
    let dir = EnvRecords::new(home, name);
    if !dir.exists() {
        return Err(dir.no_such_environment());
    }
    let guard = dir.lock(LockScope::Env)?;
    let next: Vec<String> = list(home)?
        .into_iter()
        .filter(|v| v.meta.policy.after.as_ref() == Some(name))
        .map(|v| v.name.to_string())
        .collect();
    if !next.is_empty() && !force {
        return Err(Error::conflict(format!(
            "environment {name:?} is the previous rung of {}; removing it would break their promotions",
            next.join(", ")
        ))
        .hint(format!("envpack env policy <ENV> --no-after (or --after another), or `envpack env rm {name} --force`")));
    }
    if dir.has_deployments() && !force {
        return Err(Error::conflict(format!(
            "environment {name:?} holds deployed revisions; removing it would orphan them"
        ))
        .hint(format!(
            "tear them down first, or run `envpack env rm {name} --force`"
        )));
    }
    let removed = dir.backend().remove(name);
    drop(guard);
    removed
}

/// What `env policy` changed.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyChange {
    /// Before.
    pub before: Policy,
    /// After.
    pub after: Policy,
}

/// A change to an environment's policy: each `None` (or empty list) keeps
/// what is there.
#[derive(Clone, Debug, Default)]
pub struct PolicyEdit {
    /// Production or not.
    pub production: Option<bool>,
    /// The allowed sources, replacing the current ones when not empty.
    pub sources: Vec<SourceKind>,
    /// The previous rung (`Some(None)`: none).
    pub after: Option<Option<EnvName>>,
    /// Require provenance read from git or not.
    pub require_provenance: Option<bool>,
    /// Require signatures or not.
    pub require_signature: Option<bool>,
    /// Keys to trust: key id -> public key (hex).
    pub trust_keys: Vec<(String, String)>,
    /// Key ids to stop trusting.
    pub untrust_keys: Vec<String>,
    /// Release-tag patterns (`Some(vec![])`: any tag).
    pub tag_patterns: Option<Vec<String>>,
}

impl PolicyEdit {
    fn apply(&self, policy: &mut Policy, name: &EnvName) -> Result<()> {
        if let Some(p) = self.production {
            policy.production = p;
        }
        if !self.sources.is_empty() {
            policy.allowed_sources = self.sources.iter().copied().collect();
        }
        if let Some(r) = self.require_provenance {
            policy.require_provenance = r;
        }
        if let Some(r) = self.require_signature {
            policy.require_signature = r;
        }
        for (id, key) in &self.trust_keys {
            policy.trusted_keys.insert(id.clone(), key.clone());
        }
        for id in &self.untrust_keys {
            if policy.trusted_keys.remove(id).is_none() {
                return Err(Error::not_found(format!(
                    "environment {name} does not trust key {id:?}"
                ))
                .hint(format!(
                    "envpack env show {name} (lists the trusted key ids)"
                )));
            }
        }
        if let Some(t) = &self.tag_patterns {
            policy.tag_patterns = t.clone();
        }
        Ok(())
    }
}

/// `env policy`: changes an environment's policy.
pub fn policy(home: &Home, name: &EnvName, edit: &PolicyEdit) -> Result<PolicyChange> {
    let dir = EnvRecords::new(home, name);
    dir.load()?;
    let _guard = dir.lock(LockScope::Env)?;
    let (mut meta, _lock) = dir.load()?;
    let before = meta.policy.clone();
    edit.apply(&mut meta.policy, name)?;
    if let Some(a) = &edit.after {
        check_after(home, name, a.as_ref())?;
        meta.policy.after = a.clone();
    }
    if meta.policy != before {
        dir.write(&RecordKey::Meta, &meta, Precondition::Any)?;
    }
    Ok(PolicyChange {
        before,
        after: meta.policy,
    })
}

/// `env config`: sets (or with `None`, unsets) a pack's configuration key.
/// Returns the previous value.
pub fn config_set(
    home: &Home,
    name: &EnvName,
    pack: &envpack_descriptor::PackId,
    key: &str,
    value: Option<&str>,
) -> Result<Option<String>> {
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        return Err(Error::invalid(format!(
            "config key {key:?} must be letters, digits, '_', '-' and '.'"
        )));
    }
    let dir = EnvRecords::new(home, name);
    dir.load()?;
    let _guard = dir.lock(LockScope::Env)?;
    let (mut meta, _lock) = dir.load()?;
    let entry = meta.config.entry(pack.to_string()).or_default();
    let old = match value {
        Some(v) => entry.insert(key.to_string(), v.to_string()),
        None => entry.remove(key),
    };
    if entry.is_empty() {
        meta.config.remove(&pack.to_string());
    }
    dir.write(&RecordKey::Meta, &meta, Precondition::Any)?;
    Ok(old)
}

/// `env limits`: changes an environment's per-pack quotas with `change`
/// (under the environment lease) and returns them.
pub fn set_limits(
    home: &Home,
    name: &EnvName,
    change: impl FnOnce(&mut super::model::PackLimits),
) -> Result<super::model::PackLimits> {
    let dir = EnvRecords::new(home, name);
    dir.load()?;
    let _guard = dir.lock(LockScope::Env)?;
    let (mut meta, _lock) = dir.load()?;
    let before = meta.limits.clone();
    change(&mut meta.limits);
    if meta.limits != before {
        dir.write(&RecordKey::Meta, &meta, Precondition::Any)?;
    }
    Ok(meta.limits)
}

/// `pack remove`: removes an installed pack version unless an environment
/// binds it (or `force`). Returns its digest.
pub fn remove_pack(
    home: &Home,
    d: &envpack_descriptor::Descriptor,
    force: bool,
) -> Result<envpack_manifest::Digest> {
    let users: Vec<String> = list(home)
        .unwrap_or_default()
        .into_iter()
        .flat_map(|v| {
            v.lock
                .slots
                .iter()
                .filter(|(_, b)| &b.descriptor == d)
                .map(|(slot, _)| format!("{} ({slot})", v.name))
                .collect::<Vec<_>>()
        })
        .collect();
    if !users.is_empty() && !force {
        return Err(Error::conflict(format!(
            "{d} is bound in {}; removing it would break them",
            users.join(", ")
        ))
        .hint(format!(
            "rebind those slots first, or `envpack pack remove {d} --force`"
        )));
    }
    crate::store::Store::open(home).remove(d)
}
