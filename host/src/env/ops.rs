//! Environment operations: list, show, remove, policy, config. Every
//! mutation holds the environment's lease and writes with a backup.

use serde::Serialize;

use super::audit::{AuditLog, Change, audited};
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

/// Whether `env rm` may remove `dir`: no environment promotes from it and
/// it holds no deployed revisions, unless `force`.
pub fn check_removable(home: &Home, dir: &EnvRecords, force: bool) -> Result<()> {
    let name = dir.name();
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
    Ok(())
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
    check_removable(home, &dir, force)?;
    let change = Change {
        verb: "env.rm",
        target: name.to_string(),
        before: json(&show(home, name).ok()),
        after: serde_json::Value::Null,
    };
    let backend = dir.backend().clone();
    let removed = audited(AuditLog::Home(backend.as_ref(), Some(name)), change, || {
        backend.remove(name)
    });
    drop(guard);
    removed
}

/// What `env policy` changed (or, with `dry_run`, would change).
#[derive(Clone, Debug, Serialize)]
pub struct PolicyChange {
    /// Before.
    pub before: Policy,
    /// After.
    pub after: Policy,
    /// Nothing was written: a dry run.
    pub dry_run: bool,
}

/// An edit of an environment's policy; `None` and empty lists leave that
/// part as it is.
#[derive(Clone, Debug, Default)]
pub struct PolicyEdit {
    /// Production or not.
    pub production: Option<bool>,
    /// Replace the allowed sources with these.
    pub set_sources: Vec<SourceKind>,
    /// Allow these sources too.
    pub add_sources: Vec<SourceKind>,
    /// Stop allowing these sources.
    pub remove_sources: Vec<SourceKind>,
    /// The previous rung: `Some(None)` removes it.
    pub after: Option<Option<EnvName>>,
    /// Evidence promotions must carry, added.
    pub add_evidence: Vec<String>,
    /// Evidence no longer required.
    pub remove_evidence: Vec<String>,
    /// The soak: `Some(None)` removes it.
    pub soak: Option<Option<super::model::Soak>>,
    /// Whether promotions need no drift in the previous rung.
    pub no_drift: Option<bool>,
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
    /// The Kinetic layer-conflict policy.
    pub layer_conflicts: Option<super::model::LayerConflicts>,
    /// Whether a production environment may keep the development secrets
    /// store.
    pub allow_dev_secrets: Option<bool>,
}

impl PolicyEdit {
    fn apply(&self, policy: &mut Policy, name: &EnvName) -> Result<()> {
        if let Some(p) = self.production {
            policy.production = p;
        }
        if !self.set_sources.is_empty() {
            policy.allowed_sources = self.set_sources.iter().copied().collect();
        }
        policy
            .allowed_sources
            .extend(self.add_sources.iter().copied());
        for s in &self.remove_sources {
            policy.allowed_sources.remove(s);
        }
        if let Some(a) = &self.after {
            policy.after = a.clone();
        }
        self.apply_gate(&mut policy.gate);
        self.apply_signing(policy, name)
    }

    fn apply_gate(&self, gate: &mut super::model::Gate) {
        gate.evidence.extend(self.add_evidence.iter().cloned());
        for e in &self.remove_evidence {
            gate.evidence.remove(e);
        }
        if let Some(s) = self.soak {
            gate.soak = s;
        }
        if let Some(d) = self.no_drift {
            gate.no_drift = d;
        }
    }

    fn apply_signing(&self, policy: &mut Policy, name: &EnvName) -> Result<()> {
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
        if let Some(c) = self.layer_conflicts {
            policy.layer_conflicts = c;
        }
        if let Some(a) = self.allow_dev_secrets {
            policy.allow_dev_secrets = a;
        }
        Ok(())
    }
}

/// `env policy`: changes an environment's policy, audited with before and
/// after; with `dry_run`, only says what would change.
pub fn policy(
    home: &Home,
    name: &EnvName,
    edit: &PolicyEdit,
    dry_run: bool,
) -> Result<PolicyChange> {
    let dir = EnvRecords::new(home, name);
    dir.load()?;
    let _guard = dir.lock(LockScope::Env)?;
    let (mut meta, lock) = dir.load()?;
    let before = meta.policy.clone();
    if let Some(a) = &edit.after {
        check_after(home, name, a.as_ref())?;
    }
    edit.apply(&mut meta.policy, name)?;
    let secrets = lock
        .slots
        .get(&envpack_descriptor::Slot::Secrets)
        .map(|b| &b.descriptor);
    super::dev_secrets::check_policy(name, &before, &meta.policy, secrets)?;
    if meta.policy != before && !dry_run {
        let change = Change {
            verb: "env.policy",
            target: name.to_string(),
            before: json(&before),
            after: json(&meta.policy),
        };
        audited(AuditLog::Env(&dir), change, || {
            dir.write(&RecordKey::Meta, &meta, Precondition::Any)
        })?;
    }
    Ok(PolicyChange {
        before,
        after: meta.policy,
        dry_run,
    })
}

/// A value as JSON for an audit event.
pub(crate) fn json(v: &impl Serialize) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or_default()
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
    let change = Change {
        verb: if value.is_some() {
            "env.config.set"
        } else {
            "env.config.unset"
        },
        target: format!("{pack} {key}"),
        before: json(&old),
        after: json(&value),
    };
    audited(AuditLog::Env(&dir), change, || {
        dir.write(&RecordKey::Meta, &meta, Precondition::Any)
    })?;
    Ok(old)
}

/// `env limits`: changes an environment's per-pack quotas with `change`
/// (under the environment lease, audited) and returns them.
pub fn set_limits(
    home: &Home,
    name: &EnvName,
    change: impl FnOnce(&mut super::model::PackLimits),
) -> Result<super::model::PackLimits> {
    edit_meta(home, name, "env.limits", |m| &mut m.limits, change)
}

/// `env retention`: changes how long revisions at 0% keep running (under
/// the environment lease, audited) and returns the retention.
pub fn set_retention(
    home: &Home,
    name: &EnvName,
    change: impl FnOnce(&mut super::model::Retention),
) -> Result<super::model::Retention> {
    edit_meta(home, name, "env.retention", |m| &mut m.retention, change)
}

/// `env mode`: changes where an environment's revisions run (under the
/// environment lease, audited) and returns the mode. Refused while
/// revisions run, since they would be stranded on the old target.
pub fn set_mode(home: &Home, name: &EnvName, mode: super::Mode) -> Result<super::Mode> {
    let dir = EnvRecords::new(home, name);
    let (meta, _) = dir.load()?;
    if meta.mode != mode && dir.has_deployments() {
        return Err(Error::conflict(format!(
            "environment {name:?} has deployments in mode {}; moving it to {mode} would strand them",
            meta.mode
        ))
        .hint(format!(
            "envpack env init {name}-{mode} --after {name} --mode {mode}   (a new rung; to move {name} itself: envpack env rm {name} --force, then envpack env init {name} --mode {mode})"
        )));
    }
    edit_meta(home, name, "env.mode", |m| &mut m.mode, |m| *m = mode)
}

/// Changes one part of `env.json` with `change` under the environment
/// lease; a change that changes something is audited as `verb` with both
/// values. Returns the part as it is now.
fn edit_meta<T: Clone + PartialEq + Serialize>(
    home: &Home,
    name: &EnvName,
    verb: &'static str,
    part: impl Fn(&mut EnvMeta) -> &mut T,
    change: impl FnOnce(&mut T),
) -> Result<T> {
    let dir = EnvRecords::new(home, name);
    dir.load()?;
    let _guard = dir.lock(LockScope::Env)?;
    let (mut meta, _lock) = dir.load()?;
    let before = part(&mut meta).clone();
    change(part(&mut meta));
    let after = part(&mut meta).clone();
    if after != before {
        let change = Change {
            verb,
            target: name.to_string(),
            before: json(&before),
            after: json(&after),
        };
        audited(AuditLog::Env(&dir), change, || {
            dir.write(&RecordKey::Meta, &meta, Precondition::Any)
        })?;
    }
    Ok(after)
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
                .bindings()
                .filter(|(_, b)| &b.descriptor == d)
                .map(|(seat, _)| format!("{} ({})", v.name, seat.unbind_args()))
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
    let change = Change {
        verb: "pack.remove",
        target: d.to_string(),
        before: json(&users),
        after: serde_json::Value::Null,
    };
    let backend = crate::backend::open(home);
    audited(AuditLog::Home(backend.as_ref(), None), change, || {
        crate::store::Store::open(home).remove(d)
    })
}

/// `pack install`: installs and precompiles pack files, audited in the
/// home's log.
pub fn install_packs(
    home: &Home,
    runtime: &crate::runtime::Runtime,
    files: &[std::path::PathBuf],
) -> Result<Vec<crate::store::InstallOutcome>> {
    let change = Change {
        verb: "pack.install",
        target: files
            .iter()
            .map(|f| f.display().to_string())
            .collect::<Vec<_>>()
            .join(" "),
        before: serde_json::Value::Null,
        after: json(&files),
    };
    let backend = crate::backend::open(home);
    audited(AuditLog::Home(backend.as_ref(), None), change, || {
        crate::packs::install(&crate::store::Store::open(home), runtime, files)
    })
}
