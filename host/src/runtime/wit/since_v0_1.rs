//! API version 0.1.0 (`wit/v0.1.0`): its generated bindings, the
//! conversions between them and the host's domain types, its host imports
//! (each delegating to the latest version's), and typed wrappers around its
//! exports, where the host supplies what 0.1 packs lack (the deployer's
//! `validate`, `prepare`, `decommission`). Nothing outside this module
//! touches its generated types.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "host-view",
    imports: { default: trappable },
    trappable_error_type: {
        "greentic:envpack/types.error" => crate::runtime::HostError,
    },
});

use exports::greentic::envpack as guest;
use greentic::envpack as host;

use envpack_descriptor::Slot;
use wasmtime::Store;
use wasmtime::component::{HasSelf, Instance, InstancePre, Linker};

use super::latest;
use super::{CallResult, Guests, MissingExport, SlotGuest};
use crate::runtime::slots::command::CommandOutput;
use crate::runtime::slots::deployer as d;
use crate::runtime::slots::state::{Expect, StateEntry};
use crate::runtime::slots::telemetry::TelemetryEvent;
use crate::runtime::store_data::StoreData;
use crate::runtime::{HostBug, HostError};

/// This module's API version.
pub(crate) const VERSION: semver::Version = semver::Version::new(0, 1, 0);

/// Adds this version's host imports.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    HostView::add_to_linker::<_, HasSelf<StoreData>>(linker, |s| s)
}

mod convert;

// Host imports: unchanged in 0.2, so each delegates to the latest
// version's implementation (converting this version's records), as Zed's
// `since_v0_X` modules do; only `convert_error` is this version's own.

impl host::types::Host for StoreData {
    fn convert_error(&mut self, err: HostError) -> wasmtime::Result<host::types::Error> {
        match err {
            HostError::Pack(e) => Ok(e.into()),
            HostError::Bug(message) => Err(wasmtime::Error::new(HostBug(message))),
        }
    }
}

impl host::log::Host for StoreData {
    fn write(
        &mut self,
        level: host::types::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> Result<(), HostError> {
        let level = crate::runtime::Level::from(level).into();
        latest::host::log::Host::write(self, level, message, fields)
    }
}

impl host::config::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<String>, HostError> {
        latest::host::config::Host::get(self, key)
    }
}

impl host::secrets_access::Host for StoreData {
    fn get(&mut self, name: String) -> Result<Option<String>, HostError> {
        latest::host::secrets_access::Host::get(self, name)
    }
}

impl host::kv::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, HostError> {
        latest::host::kv::Host::get(self, key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), HostError> {
        latest::host::kv::Host::set(self, key, value)
    }

    fn delete(&mut self, key: String) -> Result<bool, HostError> {
        latest::host::kv::Host::delete(self, key)
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, HostError> {
        latest::host::kv::Host::list_keys(self, prefix)
    }
}

fn process_info(i: latest::host::process::Info) -> host::process::Info {
    host::process::Info {
        revision: i.revision,
        pid: i.pid,
        port: i.port,
        running: i.running,
        output_tail: i.output_tail,
        bundle: i.bundle,
    }
}

impl host::process::Host for StoreData {
    fn start(&mut self, spec: host::process::Spec) -> Result<host::process::Info, HostError> {
        let spec = latest::host::process::Spec {
            revision: spec.revision,
            argv: spec.argv,
            env: spec.env,
        };
        latest::host::process::Host::start(self, spec).map(process_info)
    }

    fn stop(&mut self, revision: String) -> Result<bool, HostError> {
        latest::host::process::Host::stop(self, revision)
    }

    fn status(&mut self, revision: String) -> Result<Option<host::process::Info>, HostError> {
        latest::host::process::Host::status(self, revision).map(|i| i.map(process_info))
    }

    fn list(&mut self) -> Result<Vec<host::process::Info>, HostError> {
        latest::host::process::Host::list(self).map(|v| v.into_iter().map(process_info).collect())
    }
}

// Exports.

enum SlotIndices {
    State(guest::state::GuestIndices),
    Secrets(guest::secrets::GuestIndices),
    Telemetry(guest::telemetry::GuestIndices),
    Deployer(guest::deployer::GuestIndices),
}

/// Export indices of a loaded 0.1 pack.
pub(crate) struct Exports {
    command: guest::command::GuestIndices,
    slot: SlotIndices,
}

impl Exports {
    /// Looks up `command` and the export of `slot`.
    pub(crate) fn new(pre: &InstancePre<StoreData>, slot: Slot) -> Result<Self, MissingExport> {
        let command = guest::command::GuestIndices::new(pre)
            .map_err(|e| MissingExport::new("command", Some(e)))?;
        let missing = |e| MissingExport::new(slot.as_str(), Some(e));
        let slot = match slot {
            Slot::State => {
                SlotIndices::State(guest::state::GuestIndices::new(pre).map_err(missing)?)
            }
            Slot::Secrets => {
                SlotIndices::Secrets(guest::secrets::GuestIndices::new(pre).map_err(missing)?)
            }
            Slot::Telemetry => {
                SlotIndices::Telemetry(guest::telemetry::GuestIndices::new(pre).map_err(missing)?)
            }
            Slot::Deployer => {
                SlotIndices::Deployer(guest::deployer::GuestIndices::new(pre).map_err(missing)?)
            }
            Slot::Kinetic | Slot::Command => {
                return Err(MissingExport::new(slot.as_str(), None));
            }
        };
        Ok(Self { command, slot })
    }

    /// Loads and type-checks the exports of one instance.
    pub(crate) fn load(
        &self,
        store: &mut Store<StoreData>,
        instance: &Instance,
    ) -> wasmtime::Result<Guests> {
        let command = Box::new(Command(self.command.load(&mut *store, instance)?));
        let slot = match &self.slot {
            SlotIndices::State(i) => {
                SlotGuest::State(Box::new(State(i.load(&mut *store, instance)?)))
            }
            SlotIndices::Secrets(i) => {
                SlotGuest::Secrets(Box::new(Secrets(i.load(&mut *store, instance)?)))
            }
            SlotIndices::Telemetry(i) => {
                SlotGuest::Telemetry(Box::new(Telemetry(i.load(&mut *store, instance)?)))
            }
            SlotIndices::Deployer(i) => {
                SlotGuest::Deployer(Box::new(Deployer(i.load(&mut *store, instance)?)))
            }
        };
        Ok(Guests { command, slot })
    }
}

/// Converts a guest call's result: traps stay traps, WIT errors become
/// [`PackError`]s, values become domain types.
fn done<T, U: From<T>>(r: wasmtime::Result<Result<T, host::types::Error>>) -> CallResult<U> {
    Ok(r?.map(Into::into).map_err(Into::into))
}

/// `command`.
pub(crate) struct Command(guest::command::Guest);

impl super::CommandGuest for Command {
    fn run(
        &self,
        store: &mut Store<StoreData>,
        name: &str,
        args: &[(String, Vec<String>)],
    ) -> CallResult<CommandOutput> {
        let args: Vec<guest::command::Arg> = args
            .iter()
            .map(|(n, v)| guest::command::Arg {
                name: n.clone(),
                values: v.clone(),
            })
            .collect();
        done(self.0.call_run(store, name, &args))
    }
}

/// `state`.
pub(crate) struct State(guest::state::Guest);

impl super::StateGuest for State {
    fn get(&self, store: &mut Store<StoreData>, key: &str) -> CallResult<Option<StateEntry>> {
        Ok(self
            .0
            .call_get(store, key)?
            .map(|e| e.map(Into::into))
            .map_err(Into::into))
    }

    fn put(
        &self,
        store: &mut Store<StoreData>,
        key: &str,
        value: &[u8],
        expect: Option<Expect>,
    ) -> CallResult<u64> {
        done(self.0.call_put(store, key, value, expect.map(Into::into)))
    }

    fn delete(
        &self,
        store: &mut Store<StoreData>,
        key: &str,
        expect: Option<Expect>,
    ) -> CallResult<bool> {
        done(self.0.call_delete(store, key, expect.map(Into::into)))
    }

    fn list(&self, store: &mut Store<StoreData>, prefix: &str) -> CallResult<Vec<String>> {
        done(self.0.call_list(store, prefix))
    }
}

/// `secrets`.
pub(crate) struct Secrets(guest::secrets::Guest);

impl super::SecretsGuest for Secrets {
    fn get(&self, store: &mut Store<StoreData>, name: &str) -> CallResult<Option<String>> {
        done(self.0.call_get(store, name))
    }

    fn put(&self, store: &mut Store<StoreData>, name: &str, value: &str) -> CallResult<()> {
        done(self.0.call_put(store, name, value))
    }

    fn delete(&self, store: &mut Store<StoreData>, name: &str) -> CallResult<bool> {
        done(self.0.call_delete(store, name))
    }

    fn list(&self, store: &mut Store<StoreData>) -> CallResult<Vec<String>> {
        done(self.0.call_list(store))
    }
}

/// `telemetry`.
pub(crate) struct Telemetry(guest::telemetry::Guest);

impl super::TelemetryGuest for Telemetry {
    /// `emit`, then `flush` when emitting worked.
    fn emit(&self, store: &mut Store<StoreData>, events: &[TelemetryEvent]) -> CallResult<()> {
        let events: Vec<guest::telemetry::Event> = events.iter().map(Into::into).collect();
        match self.0.call_emit(&mut *store, &events)? {
            Ok(()) => done(self.0.call_flush(store)),
            Err(e) => Ok(Err(e.into())),
        }
    }
}

/// `deployer`.
pub(crate) struct Deployer(guest::deployer::Guest);

impl super::DeployerGuest for Deployer {
    fn describe(&self, store: &mut Store<StoreData>) -> CallResult<d::TargetInfo> {
        Ok(Ok(self.0.call_describe(store)?.into()))
    }

    fn plan(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
        bundle: &d::BundleRef,
    ) -> CallResult<d::Plan> {
        done(self.0.call_plan(store, &revision.into(), &bundle.into()))
    }

    fn apply(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
        bundle: &d::BundleRef,
        plan: &d::Plan,
    ) -> CallResult<d::ApplyReport> {
        done(
            self.0
                .call_apply(store, &revision.into(), &bundle.into(), &plan.into()),
        )
    }

    fn health(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
    ) -> CallResult<d::Health> {
        done(self.0.call_health(store, &revision.into()))
    }

    fn set_traffic(
        &self,
        store: &mut Store<StoreData>,
        split: &d::TrafficSplit<'_>,
    ) -> CallResult<d::TrafficReport> {
        let weights: Vec<_> = split.weights.iter().map(Into::into).collect();
        done(self.0.call_set_traffic(
            store,
            split.environment,
            split.deployment,
            split.generation,
            &weights,
        ))
    }

    fn teardown(&self, store: &mut Store<StoreData>, revision: &d::RevisionRef) -> CallResult<()> {
        done(self.0.call_teardown(store, &revision.into()))
    }

    fn observe(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::Observed>> {
        Ok(self
            .0
            .call_observe(store, environment)?
            .map(|v| v.into_iter().map(Into::into).collect())
            .map_err(Into::into))
    }

    /// 0.1 has no `validate`: one check, `describe`, from the target's
    /// own description (a pack that answers is at least loaded and
    /// callable).
    fn validate(
        &self,
        store: &mut Store<StoreData>,
        _environment: &str,
    ) -> CallResult<Vec<d::Check>> {
        let info: d::TargetInfo = self.0.call_describe(store)?.into();
        Ok(Ok(vec![d::Check {
            name: "describe".into(),
            ok: true,
            detail: format!(
                "{}: {} (an API 0.1.0 deployer, which defines no checks of its own)",
                info.target, info.description
            ),
            fix: None,
        }]))
    }

    /// 0.1 has no `prepare`: nothing to do.
    fn prepare(
        &self,
        _store: &mut Store<StoreData>,
        _environment: &str,
    ) -> CallResult<Vec<d::StepResult>> {
        Ok(Ok(Vec::new()))
    }

    /// 0.1 has no `decommission`: nothing to do.
    fn decommission(
        &self,
        _store: &mut Store<StoreData>,
        _environment: &str,
    ) -> CallResult<Vec<d::StepResult>> {
        Ok(Ok(Vec::new()))
    }
}
