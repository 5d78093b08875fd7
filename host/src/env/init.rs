//! `env init`: create an environment bound to the default packs, or heal
//! one (missing slots, a damaged lock or metadata, missing precompiled
//! artifacts), or leave a healthy one untouched.

use std::collections::BTreeMap;

use envpack_descriptor::Slot;
use serde::Serialize;

use super::audit::{AuditEvent, AuditLog, Change, audited};
use super::defaults::{default_requirement, install_defaults};
use super::model::{Binding, EnvMeta, EnvName, FORMAT, Lock, Policy, SourceKind};
use super::ops::{EnvView, check_after};
use super::{EnvRecords, Read, SLOTS};
use crate::backend::{LockScope, Precondition, RecordKey};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::packs;
use crate::runtime::Runtime;
use crate::store::{Store, now_rfc3339};

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

/// The policy a new environment starts with. On an existing environment,
/// a policy that differs from its own is refused (init never changes
/// policy).
#[derive(Clone, Debug, Default)]
pub struct InitOptions {
    /// A production environment.
    pub production: Option<bool>,
    /// Allowed sources (empty: the default for the kind of environment).
    pub sources: Vec<SourceKind>,
    /// The previous rung.
    pub after: Option<EnvName>,
    /// Where its revisions run (`local` when not given).
    pub mode: Option<super::Mode>,
    /// The secrets pack to bind instead of the default (a first-party
    /// pack built into envpack, such as `greentic.secrets.sealed@^0.1`).
    pub secrets: Option<envpack_descriptor::Requirement>,
    /// A production environment may keep the development secrets store
    /// (the operator's explicit say-so, kept in the policy).
    pub allow_dev_secrets: bool,
}

impl InitOptions {
    fn given(&self) -> bool {
        self.production.is_some() || !self.sources.is_empty() || self.after.is_some()
    }

    fn policy(&self, production: bool, after: Option<EnvName>) -> Policy {
        let mut p = Policy::default_for(production);
        if !self.sources.is_empty() {
            p.allowed_sources = self.sources.iter().copied().collect();
        }
        p.after = after;
        p.allow_dev_secrets = production && self.allow_dev_secrets;
        p
    }
}

/// The requirement `env init` binds `slot` to: the default, or the
/// secrets pack the operator chose.
fn init_requirement(slot: Slot, opts: &InitOptions) -> Result<envpack_descriptor::Requirement> {
    match (&opts.secrets, slot) {
        (Some(r), Slot::Secrets) => Ok(r.clone()),
        _ => default_requirement(slot).ok_or_else(|| {
            Error::internal(format!("no default pack is built in for the {slot} slot"))
        }),
    }
}

/// `--secrets`: a first-party secrets pack built into envpack (it gets what
/// it requests, as the defaults do; any other pack is bound with `env bind`
/// and explicit grants).
fn check_secrets_choice(
    store: &Store,
    name: &EnvName,
    req: &envpack_descriptor::Requirement,
) -> Result<envpack_descriptor::Descriptor> {
    let hint = || {
        format!("envpack env init {name} (then: envpack env bind {name} secrets {req} --grant ...)")
    };
    if req.id().slot() != Slot::Secrets {
        return Err(Error::invalid(format!("--secrets {req}: not a secrets pack")).hint(hint()));
    }
    let descriptor = store.resolve(req)?;
    let pack = store.load(&descriptor, None)?;
    let built_in = super::DEFAULT_PACKS
        .iter()
        .any(|(_, bytes)| envpack_manifest::Digest::of(bytes) == pack.label().digest);
    if !built_in {
        return Err(Error::invalid(format!(
            "--secrets {req}: {descriptor} is not built into envpack; init grants only built-in packs what they request"
        ))
        .hint(hint()));
    }
    Ok(descriptor)
}

fn default_binding(store: &Store, slot: Slot, opts: &InitOptions) -> Result<Binding> {
    let requirement = init_requirement(slot, opts)?;
    let descriptor = store.resolve(&requirement)?;
    let pack = store.load(&descriptor, None)?;
    Ok(Binding {
        requirement,
        digest: pack.label().digest,
        // First-party defaults get exactly what they request.
        grants: pack.manifest().requested(),
        descriptor,
        bound_at: now_rfc3339(),
        origin: None,
    })
}

/// `env init`.
pub fn init(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    opts: &InitOptions,
) -> Result<InitOutcome> {
    let records = EnvRecords::new(home, name);
    let backend = records.backend();
    let existed = backend.read(name, &RecordKey::Meta)?.is_some()
        || backend.read(name, &RecordKey::Lock)?.is_some();
    if !existed {
        // Validate before creating anything, so bad input leaves no
        // half-made environment behind.
        check_after(home, name, opts.after.as_ref())?;
        let secrets = check_secrets(home, runtime, name, opts)?;
        if opts.production == Some(true) {
            super::dev_secrets::check_init(name, secrets.as_ref(), opts.allow_dev_secrets)?;
        }
        let mut after = serde_json::json!({
            "production": opts.production,
            "sources": opts.sources,
            "after": opts.after,
            "mode": opts.mode.clone().unwrap_or_default(),
        });
        if let Some(s) = &secrets {
            after["secrets"] = serde_json::json!(s);
        }
        if opts.production == Some(true) && opts.allow_dev_secrets {
            after["allow_dev_secrets"] = serde_json::json!(true);
        }
        let change = Change {
            verb: "env.init",
            target: name.to_string(),
            before: serde_json::Value::Null,
            after,
        };
        let log = AuditLog::Home(backend.as_ref(), Some(name));
        let created = audited(log, change, || {
            Init::new(home, runtime, records.clone(), opts, false).run()
        });
        // A failed creation (a full disk between env.json and lock.json)
        // leaves no half environment behind. A conflict means another
        // operator's creation won the race: its environment stays.
        if let Err(e) = &created
            && e.kind() != Kind::Conflict
        {
            let _ = backend.remove(name);
        }
        return created;
    }
    let outcome = Init::new(home, runtime, records.clone(), opts, true).run()?;
    if !outcome.repairs.is_empty() {
        let mut event = AuditEvent::new("env.init", name.to_string(), "ok");
        event.after = Some(serde_json::json!({ "repaired": outcome.repairs }));
        super::audit::audit(&records, &event)?;
    }
    Ok(outcome)
}

/// The secrets pack a new environment will be bound to: the operator's
/// choice (checked), or the default.
fn check_secrets(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    opts: &InitOptions,
) -> Result<Option<envpack_descriptor::Descriptor>> {
    let store = Store::open(home);
    install_defaults(&store, runtime)?;
    match &opts.secrets {
        Some(req) => check_secrets_choice(&store, name, req).map(Some),
        None => Ok(default_requirement(Slot::Secrets).and_then(|r| store.resolve(&r).ok())),
    }
}

/// One run of init, collecting what it repaired.
struct Init<'a> {
    home: &'a Home,
    runtime: &'a Runtime,
    records: EnvRecords,
    opts: &'a InitOptions,
    existed: bool,
    repairs: Vec<String>,
}

impl<'a> Init<'a> {
    fn new(
        home: &'a Home,
        runtime: &'a Runtime,
        records: EnvRecords,
        opts: &'a InitOptions,
        existed: bool,
    ) -> Self {
        Self {
            home,
            runtime,
            records,
            opts,
            existed,
            repairs: Vec::new(),
        }
    }

    fn run(mut self) -> Result<InitOutcome> {
        let store = Store::open(self.home);
        let installed = install_defaults(&store, self.runtime)?;
        self.records.backend().create(self.records.name())?;
        let _guard = self.records.lock(LockScope::Env)?;
        self.check_still_new()?;
        let meta = self.meta()?;
        let lock = self.lock(&store, &meta.mode)?;
        // Precompile whatever the bindings need for this engine, so commands
        // never compile; a wasmtime upgrade shows up here as a repair.
        for (_, b) in lock.bindings() {
            if !packs::artifact_exists(&store, self.runtime, &b.digest)
                && let Ok(pack) = store.load(&b.descriptor, Some(&b.digest))
            {
                packs::ensure_artifact(&store, self.runtime, &pack)?;
                if self.existed {
                    self.repairs
                        .push(format!("precompiled {} for this engine", b.descriptor));
                }
            }
        }
        if self.existed {
            for i in installed.iter().filter(|i| i.outcome == "installed") {
                self.repairs
                    .push(format!("reinstalled the default pack {}", i.descriptor));
            }
        }
        let outcome = if !self.existed {
            "created"
        } else if self.repairs.is_empty() {
            "untouched"
        } else {
            "healed"
        };
        Ok(InitOutcome {
            outcome,
            repairs: self.repairs,
            env: EnvView {
                name: self.records.name().clone(),
                meta,
                lock,
            },
        })
    }

    /// A creation decided before the lease was taken: if another operator
    /// created the environment meanwhile, stop rather than report
    /// `created` twice or quietly keep their policy under our name.
    fn check_still_new(&self) -> Result<()> {
        if self.existed {
            return Ok(());
        }
        let name = self.records.name();
        let backend = self.records.backend();
        if backend.read(name, &RecordKey::Meta)?.is_none()
            && backend.read(name, &RecordKey::Lock)?.is_none()
        {
            return Ok(());
        }
        Err(Error::conflict(format!(
            "environment {name:?} was created by another operator at the same time; this init changed nothing"
        ))
        .hint(format!("envpack env show {name}")))
    }

    /// The metadata: kept, checked against a given policy, or restored from
    /// its backup, or recreated.
    fn meta(&mut self) -> Result<EnvMeta> {
        let name = self.records.name().clone();
        let found = self.records.read::<EnvMeta>(&RecordKey::Meta)?;
        if let Read::Ok(m, _) = found {
            if let Some(mode) = &self.opts.mode
                && mode != &m.mode
            {
                return Err(Error::conflict(format!(
                    "environment {name:?} exists in mode {}; init does not change its mode",
                    m.mode
                ))
                .hint(format!("envpack env mode {name} {mode}")));
            }
            if self.opts.given() {
                let mut wanted = self.opts.policy(
                    self.opts.production.unwrap_or(m.policy.production),
                    self.opts.after.clone().or(m.policy.after.clone()),
                );
                if !self.opts.allow_dev_secrets {
                    wanted.allow_dev_secrets = m.policy.allow_dev_secrets;
                }
                if wanted != m.policy {
                    return Err(Error::conflict(format!(
                        "environment {name:?} exists with a different policy; init does not change policy"
                    ))
                    .hint(format!("envpack env policy {name} ...")));
                }
            }
            return Ok(m);
        }
        if let Read::Corrupt(e) = &found {
            self.repairs.push(format!("env.json was unreadable ({e})"));
        } else if self.existed {
            self.repairs.push("env.json was missing".into());
        }
        let restored = if self.existed {
            self.records.read_backup::<EnvMeta>(&RecordKey::Meta)?
        } else {
            None
        };
        let m = match restored {
            Some(m) => {
                self.repairs
                    .push("restored env.json from its backup".into());
                m
            }
            None => {
                check_after(self.home, &name, self.opts.after.as_ref())?;
                if self.existed {
                    self.repairs
                        .push("recreated env.json with the default policy".into());
                }
                EnvMeta {
                    format: FORMAT,
                    name: name.clone(),
                    created_at: now_rfc3339(),
                    policy: self.opts.policy(
                        self.opts.production.unwrap_or(false),
                        self.opts.after.clone(),
                    ),
                    config: BTreeMap::new(),
                    limits: Default::default(),
                    retention: Default::default(),
                    mode: self.opts.mode.clone().unwrap_or_default(),
                }
            }
        };
        self.records
            .write(&RecordKey::Meta, &m, Precondition::Any)?;
        Ok(m)
    }

    /// The lock: kept, or restored from its backup, with every empty slot
    /// bound to its default. The deployer slot gets the built-in deployer
    /// only in the mode it serves (`local`): another mode's deployer needs
    /// grants (its API server) that only the operator can give.
    fn lock(&mut self, store: &Store, mode: &super::Mode) -> Result<Lock> {
        let empty = || Lock {
            format: FORMAT,
            ..Lock::default()
        };
        let found = self.records.read::<Lock>(&RecordKey::Lock)?;
        let present = !matches!(found, Read::Absent);
        let mut lock = match found {
            Read::Ok(l, _) => l,
            Read::Absent if !self.existed => empty(),
            other => {
                self.repairs.push(match other {
                    Read::Corrupt(e) => format!("lock.json was unreadable ({e})"),
                    _ => "lock.json was missing".into(),
                });
                match self.records.read_backup::<Lock>(&RecordKey::Lock)? {
                    Some(l) => {
                        self.repairs
                            .push("restored lock.json from its backup".into());
                        l
                    }
                    None => empty(),
                }
            }
        };
        let mut changed = !present || !self.repairs.is_empty();
        let defaulted = SLOTS
            .into_iter()
            .filter(|s| *s != Slot::Deployer || mode == &super::Mode::local());
        for slot in defaulted {
            if let std::collections::btree_map::Entry::Vacant(e) = lock.slots.entry(slot) {
                let b = default_binding(store, slot, self.opts)?;
                if self.existed {
                    self.repairs
                        .push(format!("bound the empty {slot} slot to {}", b.descriptor));
                }
                e.insert(b);
                changed = true;
            }
        }
        if changed {
            lock.generation += 1;
            self.records
                .write(&RecordKey::Lock, &lock, Precondition::Any)?;
        }
        Ok(lock)
    }
}
