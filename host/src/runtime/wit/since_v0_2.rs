//! API version 0.2.0 (`wit/v0.2.0`), the latest: its generated bindings,
//! the conversions between them and the host's domain types, its host
//! imports (each forwarding to a checked operation in
//! `runtime::capabilities`; older versions' imports delegate here), and
//! typed wrappers around its exports. Nothing outside `runtime/wit/`
//! touches the generated types.

wasmtime::component::bindgen!({
    path: "../wit/v0.2.0",
    world: "host-view",
    imports: { default: trappable },
    trappable_error_type: {
        "greentic:envpack/types.error" => crate::runtime::HostError,
    },
});

use exports::greentic::envpack as guest;
pub(super) use greentic::envpack as host;

use envpack_descriptor::Slot;
use wasmtime::Store;
use wasmtime::component::{HasSelf, Instance, InstancePre, Linker};

use super::{CallResult, Guests, MissingExport, SlotGuest};
use crate::runtime::capabilities::{self as caps, process::ProcessSpec};
use crate::runtime::slots::command::CommandOutput;
use crate::runtime::slots::deployer as d;
use crate::runtime::slots::state::{Expect, StateEntry};
use crate::runtime::slots::telemetry::TelemetryEvent;
use crate::runtime::store_data::StoreData;
use crate::runtime::{HostBug, HostError};

/// This module's API version.
pub(crate) const VERSION: semver::Version = semver::Version::new(0, 2, 0);

/// Adds this version's host imports.
pub(crate) fn add_to_linker(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    HostView::add_to_linker::<_, HasSelf<StoreData>>(linker, |s| s)
}

mod convert;
mod kinetic;

// Host imports: each forwards to the checked operation of its capability.

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
        caps::log::write(
            &self.granter,
            &*self.services.log,
            &mut self.log_budget,
            level.into(),
            message,
            fields,
        )
    }
}

impl host::config::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<String>, HostError> {
        caps::config::get(&self.granter, &*self.services.config, &key)
    }
}

impl host::secrets_access::Host for StoreData {
    fn get(&mut self, name: String) -> Result<Option<String>, HostError> {
        caps::secrets::get(&self.granter, &*self.services.secrets, &name)
    }
}

impl host::kv::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, HostError> {
        caps::kv::get(&self.granter, &*self.services.kv, &key)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), HostError> {
        caps::kv::set(&self.granter, &*self.services.kv, &key, &value)
    }

    fn delete(&mut self, key: String) -> Result<bool, HostError> {
        caps::kv::delete(&self.granter, &*self.services.kv, &key)
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, HostError> {
        caps::kv::list(&self.granter, &*self.services.kv, &prefix)
    }
}

pub(super) fn process_info(i: caps::process::ProcessInfo) -> host::process::Info {
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
        let spec = ProcessSpec {
            revision: spec.revision,
            argv: spec.argv,
            env: spec.env,
        };
        caps::process::start(&self.granter, &*self.services.processes, &spec).map(process_info)
    }

    fn stop(&mut self, revision: String) -> Result<bool, HostError> {
        caps::process::stop(&self.granter, &*self.services.processes, &revision)
    }

    fn status(&mut self, revision: String) -> Result<Option<host::process::Info>, HostError> {
        caps::process::status(&self.granter, &*self.services.processes, &revision)
            .map(|i| i.map(process_info))
    }

    fn list(&mut self) -> Result<Vec<host::process::Info>, HostError> {
        caps::process::list(&self.granter, &*self.services.processes)
            .map(|v| v.into_iter().map(process_info).collect())
    }
}

// Exports.

enum SlotIndices {
    State(guest::state::GuestIndices),
    Secrets(guest::secrets::GuestIndices),
    Telemetry(guest::telemetry::GuestIndices),
    Deployer(guest::deployer::GuestIndices),
    Kinetic(guest::kinetic::GuestIndices),
    /// A command-only pack exports `command` alone.
    None,
}

/// Export indices of a loaded 0.2 pack.
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
            Slot::Kinetic => {
                SlotIndices::Kinetic(guest::kinetic::GuestIndices::new(pre).map_err(missing)?)
            }
            Slot::Command => SlotIndices::None,
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
            SlotIndices::Kinetic(i) => {
                SlotGuest::Kinetic(Box::new(kinetic::Kinetic(i.load(&mut *store, instance)?)))
            }
            SlotIndices::None => SlotGuest::None,
        };
        Ok(Guests { command, slot })
    }
}

/// Converts a guest call's result: traps stay traps, WIT errors become
/// [`PackError`]s, values become domain types.
fn done<T, U: From<T>>(r: wasmtime::Result<Result<T, host::types::Error>>) -> CallResult<U> {
    Ok(r?.map(Into::into).map_err(Into::into))
}

/// [`done`] for a list result, converting each item.
fn done_list<T, U: From<T>>(
    r: wasmtime::Result<Result<Vec<T>, host::types::Error>>,
) -> CallResult<Vec<U>> {
    Ok(r?
        .map(|v| v.into_iter().map(Into::into).collect())
        .map_err(Into::into))
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
        done_list(self.0.call_observe(store, environment))
    }

    fn validate(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::Check>> {
        done_list(self.0.call_validate(store, environment))
    }

    fn prepare(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::StepResult>> {
        done_list(self.0.call_prepare(store, environment))
    }

    fn decommission(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::StepResult>> {
        done_list(self.0.call_decommission(store, environment))
    }
}
