//! Environment operations: init (create or heal), bind, unbind, policy,
//! config, list, show, remove. Every mutation holds the environment's lock
//! and writes with a backup.

use std::collections::BTreeMap;
use std::path::Path;

use envpack_descriptor::{Descriptor, Requirement, Slot};
use envpack_manifest::{Capability, Grants};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::EnvDir;
use super::defaults::{default_requirement, install_defaults};
use super::model::{Binding, EnvMeta, EnvName, FORMAT, Lock, Policy, SourceKind};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::packs;
use crate::runtime::Runtime;
use crate::store::{Store, now_rfc3339};

/// Slots every environment has.
pub const SLOTS: [Slot; 4] = [Slot::Deployer, Slot::Secrets, Slot::Telemetry, Slot::State];

/// A file read: absent, parsed, or present but unreadable.
enum Read<T> {
    Absent,
    Ok(T),
    Corrupt(String),
}

fn read_json<T: DeserializeOwned>(path: &Path) -> Result<Read<T>> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(match serde_json::from_slice(&bytes) {
            Ok(v) => Read::Ok(v),
            Err(e) => Read::Corrupt(format!("{}: {e}", path.display())),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Read::Absent),
        Err(e) => Err(Error::io("read", path, e)),
    }
}

fn to_json(v: &impl Serialize) -> Result<Vec<u8>> {
    let mut bytes =
        serde_json::to_vec_pretty(v).map_err(|e| Error::internal(format!("cannot encode: {e}")))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Reads an environment's metadata and lock, failing with the fixing
/// command when either is missing or damaged.
pub(crate) fn load(dir: &EnvDir) -> Result<(EnvMeta, Lock)> {
    let name = dir.name();
    if !dir.exists() {
        return Err(
            Error::not_found(format!("environment {name:?} does not exist"))
                .hint(format!("envpack env init {name}")),
        );
    }
    let damaged = |what: String| {
        Error::integrity(format!("environment {name:?} is damaged: {what}")).hint(format!(
            "envpack env init {name} (repairs it from its backup or defaults)"
        ))
    };
    let meta = match read_json::<EnvMeta>(&dir.meta_path())? {
        Read::Ok(m) => m,
        Read::Absent => return Err(damaged("env.json is missing".into())),
        Read::Corrupt(e) => return Err(damaged(e)),
    };
    let lock = match read_json::<Lock>(&dir.lock_path())? {
        Read::Ok(l) => l,
        Read::Absent => return Err(damaged("lock.json is missing".into())),
        Read::Corrupt(e) => return Err(damaged(e)),
    };
    Ok((meta, lock))
}

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

/// What `env init` did.
#[derive(Clone, Debug, Serialize)]
pub struct InitOutcome {
    /// `created`, `healed` or `untouched`.
    pub outcome: &'static str,
    /// What was repaired, for `healed`.
    pub repairs: Vec<String>,
    /// The environment afterwards.
    pub env: EnvView,
}

fn policy_from(production: bool, sources: &[SourceKind], after: Option<EnvName>) -> Policy {
    let mut p = Policy::default_for(production);
    if !sources.is_empty() {
        p.allowed_sources = sources.iter().copied().collect();
    }
    p.after = after;
    p
}

fn check_after(home: &Home, name: &EnvName, after: Option<&EnvName>) -> Result<()> {
    if let Some(prev) = after {
        if prev == name {
            return Err(Error::invalid(format!(
                "environment {name:?} cannot come after itself"
            )));
        }
        if !EnvDir::new(home, prev).exists() {
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
            cursor = match read_json::<EnvMeta>(&EnvDir::new(home, &c).meta_path())? {
                Read::Ok(m) => m.policy.after,
                _ => None,
            };
        }
    }
    Ok(())
}

fn default_binding(store: &Store, slot: Slot) -> Result<Binding> {
    let requirement = default_requirement(slot).ok_or_else(|| {
        Error::internal(format!("no default pack is built in for the {slot} slot"))
    })?;
    let descriptor = store.resolve(&requirement)?;
    let pack = store.load(&descriptor, None)?;
    Ok(Binding {
        requirement,
        digest: pack.label().digest,
        // First-party defaults get exactly what they request.
        grants: pack.manifest().requested(),
        descriptor,
        bound_at: now_rfc3339(),
    })
}

/// `env init`: creates an environment bound to the default packs, or heals
/// one (missing slots, a damaged lock or metadata, missing precompiled
/// artifacts), or leaves a healthy one untouched.
pub fn init(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    production: Option<bool>,
    sources: &[SourceKind],
    after: Option<EnvName>,
) -> Result<InitOutcome> {
    let dir = EnvDir::new(home, name);
    let existed = dir.meta_path().exists() || dir.lock_path().exists();
    if !existed {
        // Validate before creating anything, so bad input leaves no
        // half-made environment behind.
        check_after(home, name, after.as_ref())?;
        let created = init_inner(home, runtime, &dir, name, production, sources, after, false);
        if created.is_err() && !dir.meta_path().exists() {
            let _ = std::fs::remove_dir_all(dir.path());
        }
        return created;
    }
    init_inner(home, runtime, &dir, name, production, sources, after, true)
}

#[allow(clippy::too_many_arguments)]
fn init_inner(
    home: &Home,
    runtime: &Runtime,
    dir: &EnvDir,
    name: &EnvName,
    production: Option<bool>,
    sources: &[SourceKind],
    after: Option<EnvName>,
    existed: bool,
) -> Result<InitOutcome> {
    let store = Store::open(home);
    let installed = install_defaults(&store, runtime)?;
    let mut repairs = Vec::new();
    crate::fsutil::create_dir_all(dir.path())?;
    super::restrict(dir.path())?;
    let _guard = dir.lock()?;

    let policy_given = production.is_some() || !sources.is_empty() || after.is_some();
    let meta = match read_json::<EnvMeta>(&dir.meta_path())? {
        Read::Ok(m) => {
            if policy_given {
                let wanted = policy_from(
                    production.unwrap_or(m.policy.production),
                    sources,
                    after.clone().or(m.policy.after.clone()),
                );
                if wanted != m.policy {
                    return Err(Error::conflict(format!(
                        "environment {name:?} exists with a different policy; init does not change policy"
                    ))
                    .hint(format!("envpack env policy {name} ...")));
                }
            }
            m
        }
        other => {
            if let Read::Corrupt(e) = &other {
                repairs.push(format!("env.json was unreadable ({e})"));
            } else if existed {
                repairs.push("env.json was missing".into());
            }
            let restored = match read_json::<EnvMeta>(&dir.meta_path().with_extension("json.bak"))?
            {
                Read::Ok(m) if existed => {
                    repairs.push("restored env.json from its backup".into());
                    Some(m)
                }
                _ => None,
            };
            let m = match restored {
                Some(m) => m,
                None => {
                    check_after(home, name, after.as_ref())?;
                    if existed {
                        repairs.push("recreated env.json with the default policy".into());
                    }
                    EnvMeta {
                        format: FORMAT,
                        name: name.clone(),
                        created_at: now_rfc3339(),
                        policy: policy_from(production.unwrap_or(false), sources, after.clone()),
                        config: BTreeMap::new(),
                    }
                }
            };
            dir.write_with_backup(&dir.meta_path(), &to_json(&m)?)?;
            m
        }
    };

    let mut lock = match read_json::<Lock>(&dir.lock_path())? {
        Read::Ok(l) => l,
        Read::Absent => {
            let backup = if existed {
                repairs.push("lock.json was missing".into());
                match read_json::<Lock>(&dir.lock_path().with_extension("json.bak"))? {
                    Read::Ok(l) => {
                        repairs.push("restored lock.json from its backup".into());
                        Some(l)
                    }
                    _ => None,
                }
            } else {
                None
            };
            backup.unwrap_or(Lock {
                format: FORMAT,
                ..Lock::default()
            })
        }
        Read::Corrupt(e) => {
            repairs.push(format!("lock.json was unreadable ({e})"));
            match read_json::<Lock>(&dir.lock_path().with_extension("json.bak"))? {
                Read::Ok(l) => {
                    repairs.push("restored lock.json from its backup".into());
                    l
                }
                _ => Lock {
                    format: FORMAT,
                    ..Lock::default()
                },
            }
        }
    };
    let mut lock_changed = !dir.lock_path().exists() || !repairs.is_empty();
    for slot in SLOTS {
        if let std::collections::btree_map::Entry::Vacant(e) = lock.slots.entry(slot) {
            let b = default_binding(&store, slot)?;
            if existed {
                repairs.push(format!("bound the empty {slot} slot to {}", b.descriptor));
            }
            e.insert(b);
            lock_changed = true;
        }
    }
    if lock_changed {
        lock.generation += 1;
        dir.write_with_backup(&dir.lock_path(), &to_json(&lock)?)?;
    }
    // Precompile whatever the bindings need for this engine, so commands
    // never compile; a wasmtime upgrade shows up here as a repair.
    for b in lock.slots.values() {
        if !packs::artifact_exists(&store, runtime, &b.digest)
            && let Ok(pack) = store.load(&b.descriptor, Some(&b.digest))
        {
            packs::ensure_artifact(&store, runtime, &pack)?;
            if existed {
                repairs.push(format!("precompiled {} for this engine", b.descriptor));
            }
        }
    }
    if existed {
        for i in installed.iter().filter(|i| i.outcome == "installed") {
            repairs.push(format!("reinstalled the default pack {}", i.descriptor));
        }
    }
    let outcome = if !existed {
        "created"
    } else if repairs.is_empty() {
        "untouched"
    } else {
        "healed"
    };
    Ok(InitOutcome {
        outcome,
        repairs,
        env: EnvView {
            name: name.clone(),
            meta,
            lock,
        },
    })
}

/// Every environment, sorted by name.
pub fn list(home: &Home) -> Result<Vec<EnvView>> {
    let dir = home.envs_dir();
    let entries = match std::fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &dir, e)),
    };
    let mut out = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let Ok(name) = e.file_name().to_string_lossy().parse::<EnvName>() else {
            continue;
        };
        out.push(show(home, &name)?);
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// One environment.
pub fn show(home: &Home, name: &EnvName) -> Result<EnvView> {
    let (meta, lock) = load(&EnvDir::new(home, name))?;
    Ok(EnvView {
        name: name.clone(),
        meta,
        lock,
    })
}

/// What `env bind` did.
#[derive(Clone, Debug, Serialize)]
pub struct BindOutcome {
    /// The slot.
    pub slot: Slot,
    /// Previously bound.
    pub previous: Option<Descriptor>,
    /// Now bound.
    pub binding: Binding,
    /// Capabilities the new pack requests that the previous one did not.
    pub added: Vec<Capability>,
    /// Capabilities the previous pack requested that the new one does not.
    pub removed: Vec<Capability>,
}

/// Formats a capability diff, one `+ cap` / `- cap` per line.
pub fn format_diff(added: &[Capability], removed: &[Capability]) -> String {
    let mut out = String::new();
    for c in added {
        out.push_str(&format!("  + {c}\n"));
    }
    for c in removed {
        out.push_str(&format!("  - {c}\n"));
    }
    out
}

/// `env bind`: binds `slot` to the newest installed pack matching
/// `requirement`, with the grants given. Every capability the pack requests
/// must be granted, now or (for the same pack) by an earlier bind; the
/// error lists the capability diff and the command that grants it.
pub fn bind(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    slot: Slot,
    requirement: &str,
    grants: &[Capability],
    grant_requested: bool,
) -> Result<BindOutcome> {
    let req: Requirement = requirement.parse()?;
    if req.id().slot() != slot {
        return Err(Error::invalid(format!(
            "{req} is a {} pack and cannot fill the {slot} slot",
            req.id().slot()
        ))
        .hint(format!("envpack env bind {name} {} {req}", req.id().slot())));
    }
    let store = Store::open(home);
    let dir = EnvDir::new(home, name);
    let _guard = dir.lock()?;
    let (_meta, mut lock) = load(&dir)?;
    let descriptor = store.resolve(&req)?;
    let pack = store.load(&descriptor, None)?;
    let requested = pack.manifest().requested();

    let previous = lock.slots.get(&slot).cloned();
    let previous_requested = match &previous {
        Some(b) => store
            .load(&b.descriptor, None)
            .map(|p| p.manifest().requested())
            .unwrap_or_default(),
        None => Grants::none(),
    };
    // Grants carry over only when the same pack (any version) is rebound.
    let mut effective = match &previous {
        Some(b) if b.descriptor.id() == descriptor.id() => b.grants.clone(),
        _ => Grants::none(),
    };
    for g in grants {
        if !requested.iter().any(|r| g.covers(r) || r.covers(g)) {
            return Err(Error::invalid(format!(
                "--grant {g}: {descriptor} does not request anything this covers (it requests: {})",
                list_or_none(&requested)
            )));
        }
        effective.insert(g.clone());
    }
    if grant_requested {
        for r in &requested {
            effective.insert(r.clone());
        }
    }
    let added = requested.not_covered_by(&previous_requested);
    let removed = previous_requested.not_covered_by(&requested);
    let missing = requested.not_covered_by(&effective);
    if !missing.is_empty() {
        let flags: Vec<String> = missing.iter().map(|c| format!("--grant {c}")).collect();
        return Err(Error::new(
            Kind::Denied,
            format!(
                "{descriptor} needs capabilities that environment {name:?} has not granted; capability diff{}:\n{}not granted: {}",
                previous.as_ref().map_or(String::new(), |b| format!(" from {}", b.descriptor)),
                format_diff(&added, &removed),
                missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ),
        )
        .hint(format!(
            "envpack env bind {name} {slot} {requirement} {} (or --grant-requested to grant all it requests)",
            flags.join(" ")
        )));
    }
    packs::ensure_artifact(&store, runtime, &pack)?;
    let binding = Binding {
        requirement: req,
        descriptor: descriptor.clone(),
        digest: pack.label().digest,
        grants: effective,
        bound_at: now_rfc3339(),
    };
    lock.slots.insert(slot, binding.clone());
    lock.generation += 1;
    dir.write_with_backup(&dir.lock_path(), &to_json(&lock)?)?;
    Ok(BindOutcome {
        slot,
        previous: previous.map(|b| b.descriptor),
        binding,
        added,
        removed,
    })
}

fn list_or_none(g: &Grants) -> String {
    if g.is_empty() {
        "nothing".into()
    } else {
        g.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// `env unbind`: empties a slot. Returns what was bound.
pub fn unbind(home: &Home, name: &EnvName, slot: Slot) -> Result<Binding> {
    let dir = EnvDir::new(home, name);
    let _guard = dir.lock()?;
    let (_meta, mut lock) = load(&dir)?;
    let old = lock.slots.remove(&slot).ok_or_else(|| {
        Error::not_found(format!(
            "the {slot} slot of environment {name:?} is not bound"
        ))
    })?;
    lock.generation += 1;
    dir.write_with_backup(&dir.lock_path(), &to_json(&lock)?)?;
    Ok(old)
}

/// `env rm`: deletes an environment; refuses while it holds deployed
/// revisions unless `force`.
pub fn remove(home: &Home, name: &EnvName, force: bool) -> Result<()> {
    let dir = EnvDir::new(home, name);
    if !dir.exists() {
        return Err(
            Error::not_found(format!("environment {name:?} does not exist"))
                .hint("envpack env list"),
        );
    }
    let guard = dir.lock()?;
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
    // Rename first so a crash mid-delete leaves no half environment behind
    // under its name.
    let trash = home
        .envs_dir()
        .join(format!(".removing-{name}-{}", std::process::id()));
    std::fs::rename(dir.path(), &trash).map_err(|e| Error::io("remove", dir.path(), e))?;
    drop(guard);
    std::fs::remove_dir_all(&trash).map_err(|e| Error::io("remove", &trash, e))
}

/// What `env policy` changed.
#[derive(Clone, Debug, Serialize)]
pub struct PolicyChange {
    /// Before.
    pub before: Policy,
    /// After.
    pub after: Policy,
}

/// `env policy`: changes an environment's policy.
pub fn policy(
    home: &Home,
    name: &EnvName,
    production: Option<bool>,
    sources: &[SourceKind],
    after: Option<Option<EnvName>>,
) -> Result<PolicyChange> {
    let dir = EnvDir::new(home, name);
    let _guard = dir.lock()?;
    let (mut meta, _lock) = load(&dir)?;
    let before = meta.policy.clone();
    if let Some(p) = production {
        meta.policy.production = p;
    }
    if !sources.is_empty() {
        meta.policy.allowed_sources = sources.iter().copied().collect();
    }
    if let Some(a) = after {
        check_after(home, name, a.as_ref())?;
        meta.policy.after = a;
    }
    if meta.policy != before {
        dir.write_with_backup(&dir.meta_path(), &to_json(&meta)?)?;
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
    let dir = EnvDir::new(home, name);
    let _guard = dir.lock()?;
    let (mut meta, _lock) = load(&dir)?;
    let entry = meta.config.entry(pack.to_string()).or_default();
    let old = match value {
        Some(v) => entry.insert(key.to_string(), v.to_string()),
        None => entry.remove(key),
    };
    if entry.is_empty() {
        meta.config.remove(&pack.to_string());
    }
    dir.write_with_backup(&dir.meta_path(), &to_json(&meta)?)?;
    Ok(old)
}
