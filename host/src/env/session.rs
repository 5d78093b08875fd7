//! Using an environment: the composition root that loads its packs pinned
//! by the lock, instantiates them with its grants and the capabilities of
//! `services`, and sends host events to its telemetry pack.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use envpack_descriptor::Slot;

use super::EnvRecords;
use super::model::{EnvMeta, EnvName, Lock, Seat};
use super::services::{EnvLog, KvViaState, NoSelfSecrets, SecretsViaPack, own_kv};
use crate::backend::LockScope;
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::local;
use crate::packs;
use crate::runtime::capabilities::process::NoProcesses;
use crate::runtime::slots::command::CommandOutput;
use crate::runtime::slots::telemetry::{EventBuffer, TelemetryEvent};
use crate::runtime::{
    Granter, InstanceContext, Level, LoadedPack, PackInstance, Runtime, Services,
};
use crate::store::Store;

/// Host events of one session, for the telemetry pack.
pub(crate) type Events = Arc<EventBuffer>;

/// Events sent to the telemetry pack per call.
const EMIT_BATCH: usize = 16;

/// Records a host event.
pub(crate) fn event(events: &Events, name: &str, level: Level, attributes: Vec<(String, String)>) {
    events.host(TelemetryEvent::now(name, level, attributes));
}

/// Creates a slot's instance on first use.
type Loader = Mutex<Option<Box<dyn FnOnce() -> Result<PackInstance> + Send>>>;

/// An open environment for the length of one command.
pub struct Session<'r> {
    env: Env,
    packs: Arc<SlotPacks>,
    _runtime: std::marker::PhantomData<&'r Runtime>,
}

/// What loading and instantiating the environment's packs needs; cheap to
/// clone, so the state and secrets packs can be loaded lazily, only when a
/// command actually reaches them.
#[derive(Clone)]
struct Env {
    home: Home,
    store: Store,
    runtime: Runtime,
    records: EnvRecords,
    meta: EnvMeta,
    lock: Lock,
    events: Events,
    /// A dry run: packs get their /scratch only if it exists already, so
    /// the session creates nothing.
    dry_run: bool,
    /// This home's age identity file (served to the secrets pack only).
    identity: std::path::PathBuf,
}

/// The state and secrets packs other packs' imports are routed to,
/// instantiated on first use and shared for the session.
pub(crate) struct SlotPacks {
    state: Mutex<Option<PackInstance>>,
    secrets: Mutex<Option<PackInstance>>,
    state_loader: Loader,
    secrets_loader: Loader,
    records: EnvRecords,
}

impl SlotPacks {
    /// Runs `f` on the lazily created instance of `slot` (state or
    /// secrets); `write` holds the slot's lease so read-modify-write is
    /// atomic across processes. A busy instance (a pack reaching itself
    /// through its own imports) is refused rather than deadlocking.
    pub(crate) fn with<R>(
        &self,
        slot: Slot,
        write: bool,
        f: impl FnOnce(&mut PackInstance) -> Result<R>,
    ) -> Result<R> {
        let (instance, loader, scope) = match slot {
            Slot::State => (&self.state, &self.state_loader, LockScope::State),
            Slot::Secrets => (&self.secrets, &self.secrets_loader, LockScope::Secrets),
            other => {
                return Err(Error::internal(format!(
                    "the {other} pack does not serve other packs"
                )));
            }
        };
        let _lease = if write {
            Some(self.records.lock(scope)?)
        } else {
            None
        };
        let mut guard = instance.try_lock().map_err(|_| {
            Error::unavailable(format!(
                "the {slot} pack is busy (a pack cannot reach itself through its imports)"
            ))
        })?;
        if guard.is_none() {
            let load = loader
                .lock()
                .ok()
                .and_then(|mut l| l.take())
                .ok_or_else(|| {
                    Error::unavailable(format!("the environment's {slot} pack could not be loaded"))
                })?;
            *guard = Some(load()?);
        }
        let inst = guard.as_mut().ok_or_else(|| {
            Error::unavailable(format!("the environment's {slot} pack is not loaded"))
        })?;
        let out = f(inst);
        match out {
            Err(e) if write && e.kind() == Kind::Internal => Err(self.explain_write_error(slot, e)),
            other => other,
        }
    }

    /// A state or secrets pack that fails a write on a full disk sees only
    /// "I/O error" (WASI streams carry no errno), so the host says what it
    /// can see: the disk holding the pack's files is full.
    fn explain_write_error(&self, slot: Slot, e: Error) -> Error {
        let dir = self.records.local_dir();
        if !crate::fsutil::is_full(&dir) {
            return e;
        }
        Error::unavailable(format!(
            "{}; the disk holding the {slot} pack's files ({}) is full",
            e.message(),
            dir.display()
        ))
        .hint(format!(
            "free space on the filesystem holding {0} (df -h {0}), then run the command again",
            dir.display()
        ))
    }
}

impl Env {
    /// Loads the pack bound at `seat`: the file must match the lock's
    /// digest, and the lock's grants must cover everything the pack
    /// requests.
    fn load(&self, seat: &Seat) -> Result<LoadedPack> {
        let name = self.records.name();
        let slot = seat.slot();
        let b = self.lock.binding(seat).ok_or_else(|| match seat {
            Seat::Slot(_) => Error::not_found(format!("the {slot} slot of environment {name:?} is not bound"))
                .hint(format!("envpack env init {name} (binds the default), or envpack env bind {name} {slot} <DESCRIPTOR>")),
            Seat::Commands(id) => Error::not_found(format!("{seat} is not bound in environment {name:?}"))
                .hint(format!("envpack env bind {name} command {id}@<VERSION> --grant-requested")),
        })?;
        let load = || packs::load(&self.store, &self.runtime, &b.descriptor, Some(&b.digest));
        let loaded = match load() {
            // Bound by another home sharing the backend: an embedded default
            // this home has not installed yet is installed now, and a pack
            // pulled from a registry is pulled again, by the pinned manifest
            // digest, and must be the pinned file.
            Err(e) if e.kind() == Kind::NotFound
                && (super::defaults::install_embedded(&self.store, &self.runtime, &b.digest)?
                    || crate::registry::pack::install_pinned(&self.home, &self.runtime, b.origin.as_ref(), &b.digest)?) =>
            {
                load()
            }
            other => other,
        }
        .map_err(|e| {
            if e.kind() == Kind::Integrity {
                e.hint(format!(
                    "envpack env doctor {name} (reinstall the original file; or, if {} was reinstalled on purpose, accept it: envpack env bind {name} {slot} {})",
                    b.descriptor,
                    b.requirement
                ))
            } else if e.kind() == Kind::NotFound {
                // Typically a home sharing the backend: the environment
                // pins a file this home never installed.
                e.and(format!(
                    "; environment {name} is bound to {} with digest {} (bound by another home sharing the backend?)",
                    b.descriptor, b.digest
                ))
                .hint(format!(
                    "envpack pack install <the file with digest {}> (or run the envpack release that bound it; or rebind: envpack env bind {name} {slot} {})",
                    b.digest, b.requirement
                ))
            } else {
                e
            }
        })?;
        let missing = loaded.manifest().requested().unsatisfied_by(&b.grants);
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|c| format!("--grant {c}")).collect();
            return Err(Error::denied(format!(
                "{} requests capabilities environment {name:?} has not granted ({}); refusing to load it",
                b.descriptor,
                missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
            ))
            .hint(format!("envpack env bind {name} {slot} {} {}", b.requirement, flags.join(" "))));
        }
        event(
            &self.events,
            "pack.loaded",
            Level::Debug,
            vec![
                ("pack".into(), b.descriptor.to_string()),
                ("slot".into(), slot.to_string()),
                ("digest".into(), b.digest.to_string()),
            ],
        );
        Ok(loaded)
    }

    /// What an instance of the pack bound at `seat` may touch here.
    fn context(
        &self,
        loaded: &LoadedPack,
        seat: &Seat,
        packs: Arc<SlotPacks>,
    ) -> Result<InstanceContext> {
        let name = self.records.name();
        let slot = seat.slot();
        let b = self
            .lock
            .binding(seat)
            .ok_or_else(|| Error::internal(format!("{seat} is not bound")))?;
        let label = loaded.label().clone();
        let id = label.descriptor.id().clone();
        let granter = Arc::new(
            Granter::new(
                label,
                loaded.manifest().requested(),
                b.grants.clone(),
                format!(
                    "envpack env bind {name} {slot} {} --grant {{cap}}",
                    b.requirement
                ),
            )
            .with_events(self.events.clone()),
        );
        let config: BTreeMap<String, String> = self
            .meta
            .config
            .get(&id.to_string())
            .cloned()
            .unwrap_or_default();
        let services = Services {
            config: Arc::new(config),
            // The state pack's own kv and the secrets pack's own secret
            // reads cannot route through themselves.
            kv: if slot == Slot::State {
                Arc::new(own_kv(self.records.local_kv_root(), self.kv_quota()))
            } else {
                Arc::new(KvViaState {
                    packs: packs.clone(),
                    quota: self.kv_quota(),
                })
            },
            secrets: if slot == Slot::Secrets {
                Arc::new(NoSelfSecrets {
                    identity: self.identity.clone(),
                })
            } else {
                Arc::new(SecretsViaPack { packs })
            },
            // Only a binding granted `process` runs programs on this
            // machine: the local runtime.
            processes: if local::runs_locally(&b.grants) {
                Arc::new(local::processes_of(&self.records))
            } else {
                Arc::new(NoProcesses)
            },
            log: Arc::new(EnvLog {
                events: self.events.clone(),
            }),
        };
        Ok(InstanceContext {
            granter,
            services,
            scratch_dir: if self.dry_run {
                self.records.existing_scratch_dir(&id)
            } else {
                self.records.scratch_dir(&id)?
            },
            scratch_quota: self.meta.limits.scratch_quota_mb.map(|mb| mb << 20),
        })
    }

    /// Bytes of kv values each pack may keep here.
    fn kv_quota(&self) -> u64 {
        self.meta
            .limits
            .kv_quota_mb
            .map_or(self.runtime.limits().kv_quota, |mb| mb << 20)
    }
}

impl<'r> Session<'r> {
    /// Opens environment `name`.
    pub fn open(home: &Home, runtime: &'r Runtime, name: &EnvName) -> Result<Self> {
        Self::open_as(home, runtime, name, false)
    }

    fn open_as(home: &Home, runtime: &'r Runtime, name: &EnvName, dry_run: bool) -> Result<Self> {
        let records = EnvRecords::new(home, name);
        let (meta, lock) = records.load()?;
        let packs = Arc::new(SlotPacks {
            state: Mutex::new(None),
            secrets: Mutex::new(None),
            state_loader: Mutex::new(None),
            secrets_loader: Mutex::new(None),
            records: records.clone(),
        });
        let session = Self {
            env: Env {
                home: home.clone(),
                store: Store::open(home),
                runtime: runtime.clone(),
                records,
                meta,
                lock,
                events: Arc::default(),
                dry_run,
                identity: home.identity_file(),
            },
            packs,
            _runtime: std::marker::PhantomData,
        };
        // The state and secrets packs serve other packs' imports. Nothing is
        // loaded until a command reaches them; the loader holds a weak link
        // back so an unused loader does not keep the session alive.
        for slot in [Slot::State, Slot::Secrets] {
            if session.env.lock.slots.contains_key(&slot) {
                let env = session.env.clone();
                let weak = Arc::downgrade(&session.packs);
                let loader: Box<dyn FnOnce() -> Result<PackInstance> + Send> =
                    Box::new(move || {
                        let packs = weak.upgrade().ok_or_else(|| {
                            Error::internal("the session ended before its packs loaded")
                        })?;
                        let seat = Seat::Slot(slot);
                        let loaded = env.load(&seat)?;
                        let ctx = env.context(&loaded, &seat, packs)?;
                        Ok(loaded.instantiate(ctx)?.in_environment(env.records.name()))
                    });
                let cell = match slot {
                    Slot::State => &session.packs.state_loader,
                    _ => &session.packs.secrets_loader,
                };
                if let Ok(mut c) = cell.lock() {
                    *c = Some(loader);
                }
            }
        }
        Ok(session)
    }

    /// The environment's name.
    pub fn name(&self) -> &EnvName {
        self.env.records.name()
    }

    /// Its metadata and policy, as read when the session opened.
    pub fn meta(&self) -> &EnvMeta {
        &self.env.meta
    }

    /// Its lock.
    pub fn lock(&self) -> &Lock {
        &self.env.lock
    }

    /// Its records.
    pub fn records(&self) -> &EnvRecords {
        &self.env.records
    }

    /// Whether its deployer runs revisions on this machine (holds the
    /// `process` capability).
    pub fn runs_locally(&self) -> bool {
        self.env
            .lock
            .slots
            .get(&Slot::Deployer)
            .is_some_and(|b| local::runs_locally(&b.grants))
    }

    /// This machine's working directory for the environment, when its
    /// deployer runs revisions here (the local runtime); `None` otherwise.
    pub fn local_runtime_dir(&self) -> Option<std::path::PathBuf> {
        self.runs_locally().then(|| self.env.records.local_dir())
    }

    /// Records a host event for the telemetry pack.
    pub fn event(&self, name: &str, level: Level, attributes: Vec<(String, String)>) {
        event(&self.env.events, name, level, attributes);
    }

    /// Loads the pack bound to `slot`: the file must match the lock's digest,
    /// and the lock's grants must cover everything the pack requests.
    pub fn load(&self, slot: Slot) -> Result<LoadedPack> {
        self.env.load(&Seat::Slot(slot))
    }

    /// A fresh instance of the pack bound to `slot`.
    pub fn instance(&self, slot: Slot) -> Result<PackInstance> {
        self.instance_at(&Seat::Slot(slot))
    }

    /// A fresh instance of the pack bound at `seat` (a slot, or a
    /// command-only pack).
    pub fn instance_at(&self, seat: &Seat) -> Result<PackInstance> {
        let loaded = self.env.load(seat)?;
        let ctx = self.env.context(&loaded, seat, self.packs.clone())?;
        Ok(loaded.instantiate(ctx)?.in_environment(self.name()))
    }

    /// Runs `f` on the session's shared state-pack instance; writes hold
    /// the environment's state lease, so compare-and-swap is atomic across
    /// processes.
    pub fn with_state<R>(
        &self,
        write: bool,
        f: impl FnOnce(&mut PackInstance) -> Result<R>,
    ) -> Result<R> {
        self.packs.with(Slot::State, write, f)
    }

    /// Runs `f` on the session's shared secrets-pack instance; writes hold
    /// the secrets lease (secrets packs read-modify-write their store).
    pub fn with_secrets<R>(
        &self,
        write: bool,
        f: impl FnOnce(&mut PackInstance) -> Result<R>,
    ) -> Result<R> {
        self.packs.with(Slot::Secrets, write, f)
    }

    /// Runs a pack-contributed command, recording it for telemetry.
    pub fn run_command(
        &self,
        seat: &Seat,
        command: &str,
        args: &[(String, Vec<String>)],
    ) -> Result<CommandOutput> {
        let started = Instant::now();
        let result = self
            .instance_at(seat)
            .and_then(|mut i| i.command().run(command, args));
        let pack = self
            .env
            .lock
            .binding(seat)
            .map(|b| b.descriptor.to_string())
            .unwrap_or_default();
        self.event(
            "command.run",
            if result.is_ok() {
                Level::Info
            } else {
                Level::Error
            },
            vec![
                ("command".into(), command.into()),
                ("pack".into(), pack),
                ("ok".into(), result.is_ok().to_string()),
                (
                    "duration_ms".into(),
                    started.elapsed().as_millis().to_string(),
                ),
            ],
        );
        result
    }

    /// Opens environment `name`, runs `f`, and [`conclude`]s with its result:
    /// the shape of every verb that works inside an environment.
    ///
    /// [`conclude`]: Self::conclude
    pub fn scoped<T>(
        home: &Home,
        runtime: &'r Runtime,
        name: &EnvName,
        f: impl FnOnce(&Session<'r>) -> Result<T>,
    ) -> Result<T> {
        Self::scoped_as(home, runtime, name, false, f)
    }

    /// [`scoped`](Self::scoped), for a dry run when `dry_run`: a pack whose
    /// /scratch does not exist yet runs without one, so the session creates
    /// nothing in the home.
    pub fn scoped_as<T>(
        home: &Home,
        runtime: &'r Runtime,
        name: &EnvName,
        dry_run: bool,
        f: impl FnOnce(&Session<'r>) -> Result<T>,
    ) -> Result<T> {
        let session = Self::open_as(home, runtime, name, dry_run)?;
        let result = f(&session);
        session.conclude(result)
    }

    /// Records a failed command as an error event, then [`finish`]es.
    ///
    /// [`finish`]: Self::finish
    pub fn conclude<T>(self, result: Result<T>) -> Result<T> {
        if let Err(e) = &result {
            self.event(
                "command.failed",
                Level::Error,
                vec![
                    ("kind".into(), e.kind().as_str().into()),
                    ("message".into(), e.message().into()),
                ],
            );
        }
        self.finish();
        result
    }

    /// Sends the session's host events to the environment's telemetry pack,
    /// handing what it prints to the runtime's reporter. Telemetry never
    /// fails a command: a broken telemetry pack is reported as a warning.
    pub fn finish(self) {
        let events = self.env.events.drain();
        if events.is_empty() || !self.env.lock.slots.contains_key(&Slot::Telemetry) {
            return;
        }
        let mut telemetry = None;
        let mut failures = 0;
        for batch in events.chunks(EMIT_BATCH) {
            let sent = if failures < 2 {
                self.emit_batch(&mut telemetry, batch)
            } else {
                Ok(())
            };
            if let Err(e) = &sent {
                failures += 1;
                tracing::warn!(
                    "telemetry for environment {} failed: {e}; the events follow here instead",
                    self.name()
                );
            }
            if sent.is_err() || failures >= 2 {
                for event in batch {
                    let line = serde_json::to_string(event).unwrap_or_default();
                    tracing::warn!(target: "telemetry", "{line}");
                }
            }
        }
    }

    /// Sends one batch to the telemetry pack (instantiated on first use, and
    /// again after a failed batch), and hands what it printed to the
    /// reporter, so its output capture never fills.
    fn emit_batch(
        &self,
        telemetry: &mut Option<PackInstance>,
        batch: &[TelemetryEvent],
    ) -> Result<()> {
        let t = match telemetry {
            Some(t) => t,
            None => telemetry.insert(self.instance(Slot::Telemetry)?),
        };
        let sent = t.telemetry().and_then(|mut c| c.emit(batch));
        let (out, dropped) = t.take_stdout();
        if !out.is_empty() {
            self.env
                .runtime
                .reporter()
                .pack_output(&String::from_utf8_lossy(&out));
        }
        if dropped > 0 {
            tracing::warn!(
                "the telemetry pack printed {dropped} bytes more than its output limit; they were dropped"
            );
        }
        if sent.is_err() {
            *telemetry = None;
        }
        sent
    }
}
