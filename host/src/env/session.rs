//! Using an environment: load its packs pinned by the lock, instantiate them
//! with its grants, route their kv to its state pack and their secret reads
//! to its secrets pack, and send host events to its telemetry pack.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use envpack_descriptor::Slot;
use envpack_manifest::Capability;

use super::EnvDir;
use super::model::{EnvMeta, EnvName, Lock};
use super::ops::load;
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::packs;
use crate::runtime::{
    Granter, HostServices, InstanceContext, Level, LoadedPack, LocalServices, PackError,
    PackErrorKind, PackInstance, PackLabel, Runtime, TelemetryEvent,
};
use crate::store::Store;

type Events = Arc<Mutex<Vec<TelemetryEvent>>>;

/// Creates a slot's instance on first use.
type Loader = Mutex<Option<Box<dyn FnOnce() -> Result<PackInstance> + Send>>>;

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

fn event(events: &Events, name: &str, level: Level, attributes: Vec<(String, String)>) {
    if let Ok(mut e) = events.lock()
        && e.len() < 1000
    {
        e.push(TelemetryEvent {
            name: name.into(),
            level,
            timestamp_ms: now_ms(),
            attributes,
        });
    }
}

/// An open environment for the length of one command.
pub struct Session<'r> {
    core: Core,
    infra: Arc<Infra>,
    _runtime: std::marker::PhantomData<&'r Runtime>,
}

/// What loading and instantiating the environment's packs needs; cheap to
/// clone, so the state and secrets packs can be loaded lazily, only when a
/// command actually reaches them.
#[derive(Clone)]
struct Core {
    store: Store,
    runtime: Runtime,
    dir: EnvDir,
    meta: EnvMeta,
    lock: Lock,
    events: Events,
}

/// The state and secrets packs other packs' imports are routed to,
/// instantiated on first use and shared for the session.
struct Infra {
    state: Mutex<Option<PackInstance>>,
    secrets: Mutex<Option<PackInstance>>,
    state_loader: Loader,
    secrets_loader: Loader,
    dir: EnvDir,
}

fn unavailable(message: impl Into<String>) -> PackError {
    PackError::new(PackErrorKind::Unavailable, message)
}

impl Infra {
    /// Runs `f` on the lazily created instance of a slot. A busy instance
    /// (a pack reaching itself through its own imports) is refused rather
    /// than deadlocking.
    fn with<R>(
        instance: &Mutex<Option<PackInstance>>,
        loader: &Loader,
        slot: Slot,
        f: impl FnOnce(&mut PackInstance) -> Result<R>,
    ) -> Result<R> {
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
        f(inst)
    }
}

/// A host error, as the WIT error a host import returns to a pack.
fn to_pack_error(e: Error) -> PackError {
    let kind = match e.kind() {
        Kind::NotFound => PackErrorKind::NotFound,
        Kind::Conflict => PackErrorKind::Conflict,
        Kind::InvalidInput => PackErrorKind::InvalidInput,
        Kind::Denied => PackErrorKind::Denied,
        Kind::Timeout => PackErrorKind::Timeout,
        _ => PackErrorKind::Unavailable,
    };
    PackError::new(kind, e.message().to_string())
}

/// Host services inside an environment, for one pack.
struct EnvServices {
    infra: Arc<Infra>,
    config: BTreeMap<String, String>,
    /// The pack's slot: the state pack's own kv and the secrets pack's own
    /// secret reads cannot route through themselves.
    slot: Slot,
    local: LocalServices,
    events: Events,
}

/// Keys of a pack's private kv inside the state pack.
fn kv_key(pack: &PackLabel, key: &str) -> String {
    format!("packs/{}/kv/{key}", pack.descriptor.id())
}

impl HostServices for EnvServices {
    fn config(
        &self,
        _pack: &PackLabel,
        key: &str,
    ) -> std::result::Result<Option<String>, PackError> {
        Ok(self.config.get(key).cloned())
    }

    fn secret(
        &self,
        _pack: &PackLabel,
        name: &str,
    ) -> std::result::Result<Option<String>, PackError> {
        if self.slot == Slot::Secrets {
            return Err(unavailable(
                "a secrets pack cannot read secrets through the host",
            ));
        }
        Infra::with(
            &self.infra.secrets,
            &self.infra.secrets_loader,
            Slot::Secrets,
            |i| i.secrets_get(name),
        )
        .map_err(to_pack_error)
    }

    fn kv_get(
        &self,
        pack: &PackLabel,
        key: &str,
    ) -> std::result::Result<Option<Vec<u8>>, PackError> {
        if self.slot == Slot::State {
            return self.local.kv_get(pack, key);
        }
        Infra::with(
            &self.infra.state,
            &self.infra.state_loader,
            Slot::State,
            |i| Ok(i.state_get(&kv_key(pack, key))?.map(|e| e.value)),
        )
        .map_err(to_pack_error)
    }

    fn kv_set(
        &self,
        pack: &PackLabel,
        key: &str,
        value: &[u8],
    ) -> std::result::Result<(), PackError> {
        if self.slot == Slot::State {
            return self.local.kv_set(pack, key, value);
        }
        let _lock = self.infra.dir.state_lock().map_err(to_pack_error)?;
        Infra::with(
            &self.infra.state,
            &self.infra.state_loader,
            Slot::State,
            |i| i.state_put(&kv_key(pack, key), value, None).map(|_| ()),
        )
        .map_err(to_pack_error)
    }

    fn kv_delete(&self, pack: &PackLabel, key: &str) -> std::result::Result<bool, PackError> {
        if self.slot == Slot::State {
            return self.local.kv_delete(pack, key);
        }
        let _lock = self.infra.dir.state_lock().map_err(to_pack_error)?;
        Infra::with(
            &self.infra.state,
            &self.infra.state_loader,
            Slot::State,
            |i| i.state_delete(&kv_key(pack, key), None),
        )
        .map_err(to_pack_error)
    }

    fn kv_list(
        &self,
        pack: &PackLabel,
        prefix: &str,
    ) -> std::result::Result<Vec<String>, PackError> {
        if self.slot == Slot::State {
            return self.local.kv_list(pack, prefix);
        }
        let base = kv_key(pack, "");
        Infra::with(
            &self.infra.state,
            &self.infra.state_loader,
            Slot::State,
            |i| {
                Ok(i.state_list(&format!("{base}{prefix}"))?
                    .into_iter()
                    .filter_map(|k| k.strip_prefix(&base).map(str::to_string))
                    .collect())
            },
        )
        .map_err(to_pack_error)
    }

    fn process_start(
        &self,
        _pack: &PackLabel,
        spec: &crate::env::ProcessSpec,
    ) -> std::result::Result<crate::env::ProcessInfo, PackError> {
        crate::env::Processes::new(&self.infra.dir)
            .start(spec)
            .map_err(to_pack_error)
    }

    fn process_stop(
        &self,
        _pack: &PackLabel,
        revision: &str,
    ) -> std::result::Result<bool, PackError> {
        crate::env::Processes::new(&self.infra.dir)
            .stop(revision)
            .map_err(to_pack_error)
    }

    fn process_status(
        &self,
        _pack: &PackLabel,
        revision: &str,
    ) -> std::result::Result<Option<crate::env::ProcessInfo>, PackError> {
        crate::env::Processes::new(&self.infra.dir)
            .status(revision)
            .map_err(to_pack_error)
    }

    fn process_list(
        &self,
        _pack: &PackLabel,
    ) -> std::result::Result<Vec<crate::env::ProcessInfo>, PackError> {
        crate::env::Processes::new(&self.infra.dir)
            .list()
            .map_err(to_pack_error)
    }

    fn log(&self, pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
        crate::runtime::emit_log(pack, level, message, fields);
        if level >= Level::Warn {
            let mut attrs = vec![
                ("pack".to_string(), pack.descriptor.to_string()),
                ("message".into(), message.into()),
            ];
            attrs.extend(fields.iter().cloned());
            event(&self.events, "pack.log", level, attrs);
        }
    }
}

impl Core {
    /// Loads the pack bound to `slot`: the file must match the lock's digest,
    /// and the lock's grants must cover everything the pack requests.
    fn load(&self, slot: Slot) -> Result<LoadedPack> {
        let name = self.dir.name();
        let b = self.lock.slots.get(&slot).ok_or_else(|| {
            Error::not_found(format!("the {slot} slot of environment {name:?} is not bound"))
                .hint(format!("envpack env init {name} (binds the default), or envpack env bind {name} {slot} <DESCRIPTOR>"))
        })?;
        let loaded = packs::load(&self.store, &self.runtime, &b.descriptor, Some(&b.digest)).map_err(|e| {
            if e.kind() == Kind::Integrity {
                e.hint(format!(
                    "envpack env doctor {name} (reinstall the original file; or, if {} was reinstalled on purpose, accept it: envpack env bind {name} {slot} {})",
                    b.descriptor,
                    b.requirement
                ))
            } else {
                e
            }
        })?;
        let missing = loaded.manifest().requested().not_covered_by(&b.grants);
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

    fn context(
        &self,
        loaded: &LoadedPack,
        slot: Slot,
        infra: Arc<Infra>,
    ) -> Result<InstanceContext> {
        let name = self.dir.name();
        let b = self
            .lock
            .slots
            .get(&slot)
            .ok_or_else(|| Error::internal(format!("{slot} is not bound")))?;
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
        let services = Arc::new(EnvServices {
            infra,
            config: self
                .meta
                .config
                .get(&id.to_string())
                .cloned()
                .unwrap_or_default(),
            slot,
            local: LocalServices::new(
                Some(self.dir.local_kv_root()),
                BTreeMap::new(),
                BTreeMap::new(),
            ),
            events: self.events.clone(),
        });
        Ok(InstanceContext {
            granter,
            services,
            scratch_dir: Some(self.dir.scratch_dir(&id)?),
        })
    }
}

impl<'r> Session<'r> {
    /// Opens environment `name`.
    pub fn open(home: &Home, runtime: &'r Runtime, name: &EnvName) -> Result<Self> {
        let dir = EnvDir::new(home, name);
        let (meta, lock) = load(&dir)?;
        let events: Events = Arc::default();
        let infra = Arc::new(Infra {
            state: Mutex::new(None),
            secrets: Mutex::new(None),
            state_loader: Mutex::new(None),
            secrets_loader: Mutex::new(None),
            dir: dir.clone(),
        });
        let session = Self {
            core: Core {
                store: Store::open(home),
                runtime: runtime.clone(),
                dir,
                meta,
                lock,
                events,
            },
            infra,
            _runtime: std::marker::PhantomData,
        };
        // The state and secrets packs serve other packs' imports. Nothing is
        // loaded until a command reaches them; the loader holds a weak link
        // back so an unused loader does not keep the session alive.
        for slot in [Slot::State, Slot::Secrets] {
            if session.core.lock.slots.contains_key(&slot) {
                let core = session.core.clone();
                let weak = Arc::downgrade(&session.infra);
                let loader: Box<dyn FnOnce() -> Result<PackInstance> + Send> =
                    Box::new(move || {
                        let infra = weak.upgrade().ok_or_else(|| {
                            Error::internal("the session ended before its packs loaded")
                        })?;
                        let loaded = core.load(slot)?;
                        let ctx = core.context(&loaded, slot, infra)?;
                        loaded.instantiate(ctx)
                    });
                let cell = match slot {
                    Slot::State => &session.infra.state_loader,
                    _ => &session.infra.secrets_loader,
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
        self.core.dir.name()
    }

    /// Its metadata and policy, as read when the session opened.
    pub fn meta(&self) -> &EnvMeta {
        &self.core.meta
    }

    /// Its lock.
    pub fn lock(&self) -> &Lock {
        &self.core.lock
    }

    /// Its files.
    pub fn dir(&self) -> &EnvDir {
        &self.core.dir
    }

    /// Records a host event for the telemetry pack.
    pub fn event(&self, name: &str, level: Level, attributes: Vec<(String, String)>) {
        event(&self.core.events, name, level, attributes);
    }

    /// Loads the pack bound to `slot`: the file must match the lock's digest,
    /// and the lock's grants must cover everything the pack requests.
    pub fn load(&self, slot: Slot) -> Result<LoadedPack> {
        self.core.load(slot)
    }

    /// A fresh instance of the pack bound to `slot`.
    pub fn instance(&self, slot: Slot) -> Result<PackInstance> {
        let loaded = self.core.load(slot)?;
        let ctx = self.core.context(&loaded, slot, self.infra.clone())?;
        loaded.instantiate(ctx)
    }

    /// Runs `f` on the session's shared state-pack instance; writes hold
    /// the environment's state lock, so compare-and-swap is atomic across
    /// processes.
    pub fn with_state<R>(
        &self,
        write: bool,
        f: impl FnOnce(&mut PackInstance) -> Result<R>,
    ) -> Result<R> {
        let _lock = if write {
            Some(self.core.dir.state_lock()?)
        } else {
            None
        };
        Infra::with(&self.infra.state, &self.infra.state_loader, Slot::State, f)
    }

    /// Runs `f` on the session's shared secrets-pack instance.
    pub fn with_secrets<R>(&self, f: impl FnOnce(&mut PackInstance) -> Result<R>) -> Result<R> {
        Infra::with(
            &self.infra.secrets,
            &self.infra.secrets_loader,
            Slot::Secrets,
            f,
        )
    }

    /// Runs a pack-contributed command, recording it for telemetry.
    pub fn run_command(
        &self,
        slot: Slot,
        command: &str,
        args: &[(String, Vec<String>)],
    ) -> Result<crate::runtime::CommandOutput> {
        let started = Instant::now();
        let result = self
            .instance(slot)
            .and_then(|mut i| i.run_command(command, args));
        let pack = self
            .core
            .lock
            .slots
            .get(&slot)
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
        let session = Self::open(home, runtime, name)?;
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
    /// showing what it prints on stderr. Telemetry never fails a command: a
    /// broken telemetry pack is reported as a warning.
    pub fn finish(self) {
        let events = self
            .core
            .events
            .lock()
            .map(|mut e| std::mem::take(&mut *e))
            .unwrap_or_default();
        if events.is_empty() || !self.core.lock.slots.contains_key(&Slot::Telemetry) {
            return;
        }
        let sent = self.instance(Slot::Telemetry).and_then(|mut t| {
            let r = t.telemetry_emit(&events);
            let out = t.take_stdout();
            if !out.is_empty() {
                eprint!("{}", String::from_utf8_lossy(&out));
            }
            r
        });
        if let Err(e) = sent {
            tracing::warn!("telemetry for environment {} failed: {e}", self.name());
        }
    }
}

/// The capability a secret read needs, for doctor.
pub(crate) fn secret_cap(name: &str) -> Capability {
    Capability::Secret(name.to_string())
}
