//! The versioned runtime boundary, as Zed's `wasm_host/wit.rs`.
//!
//! Each supported API version has one private module in `wit/`
//! (`since_v0_<minor>.rs`) holding its `bindgen!` output, the conversions
//! between its generated types and the domain types of [`super::slots`],
//! and its host-import implementations, which only forward to
//! [`super::capabilities`]. Generated types never leave those modules.
//!
//! A pack is linked and called through the version stamped in its manifest:
//! [`ApiVersion`], [`Linkers`] and [`Exports`] have one arm per version, and
//! each version module implements the guest traits below (`StateGuest`,
//! ...) for its exports, in domain types. Adding an API version means adding
//! a module, an arm to those three, and the trait implementations; the
//! modules of earlier versions do not change.

mod since_v0_1;
mod since_v0_2;

use std::fmt;

use envpack_descriptor::Slot;
use envpack_manifest::PackManifest;
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, Linker};

use super::PackError;
use super::slots::command::CommandOutput;
use super::slots::deployer as d;
use super::slots::kinetic as k;
use super::slots::state::{Expect, StateEntry};
use super::slots::telemetry::TelemetryEvent;
use super::store_data::StoreData;
use crate::error::{Error, Result};

/// API 0.1.0.
use since_v0_1 as v0_1;
/// API 0.2.0.
use since_v0_2 as v0_2;
/// The newest API version, which `envpack-sdk` targets.
use v0_2 as latest;

/// What a call into a pack returns: a trap (`Err`), or the pack's own
/// result with its WIT error converted.
pub(crate) type CallResult<T> = wasmtime::Result<std::result::Result<T, PackError>>;

/// An API version of `wit/` this host links and calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ApiVersion {
    /// `wit/v0.1.0`.
    V0_1,
    /// `wit/v0.2.0`: adds the `kinetic` slot and the deployer's
    /// `validate`, `prepare` and `decommission`.
    V0_2,
}

impl ApiVersion {
    /// The newest supported version.
    pub const LATEST: ApiVersion = ApiVersion::V0_2;

    /// Every supported version, oldest first.
    pub const ALL: [ApiVersion; 2] = [ApiVersion::V0_1, ApiVersion::V0_2];

    /// The version a pack was built against, from its manifest.
    pub fn of(manifest: &PackManifest) -> Result<Self> {
        Self::ALL
            .into_iter()
            .find(|v| v.semver() == manifest.api_version)
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{} was built against envpack API {}, which this envpack does not support (it supports {})",
                    manifest.descriptor,
                    manifest.api_version,
                    Self::ALL.map(|v| v.to_string()).join(", ")
                ))
                .hint("rebuild the pack with a supported envpack-sdk, or upgrade envpack")
            })
    }

    /// The WIT package version.
    pub fn semver(self) -> semver::Version {
        match self {
            ApiVersion::V0_1 => v0_1::VERSION,
            ApiVersion::V0_2 => latest::VERSION,
        }
    }

    /// Whether packs of this version can fill `slot`: `kinetic` and
    /// command-only packs (`command`, the `command-slot` world) exist from
    /// 0.2.0 on.
    pub fn defines(self, slot: Slot) -> bool {
        !matches!(slot, Slot::Kinetic | Slot::Command) || self >= ApiVersion::V0_2
    }

    /// The fully qualified name of interface `name` in this version, e.g.
    /// `greentic:envpack/state@0.1.0`.
    pub fn interface(self, name: &str) -> String {
        format!("greentic:envpack/{name}@{self}")
    }
}

impl fmt::Display for ApiVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.semver())
    }
}

/// One linker per API version: WASI, `wasi:http` and that version's host
/// imports.
pub(crate) struct Linkers {
    v0_1: Linker<StoreData>,
    v0_2: Linker<StoreData>,
}

fn wasm_err(what: &str, e: wasmtime::Error) -> Error {
    Error::internal(format!("{what}: {e:#}"))
}

fn base_linker(engine: &wasmtime::Engine) -> Result<Linker<StoreData>> {
    let mut linker = Linker::<StoreData>::new(engine);
    wasmtime_wasi::p2::add_to_linker_sync(&mut linker)
        .map_err(|e| wasm_err("cannot link WASI", e))?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_sync(&mut linker)
        .map_err(|e| wasm_err("cannot link wasi:http", e))?;
    super::deadline::bound_waits(&mut linker)
        .map_err(|e| wasm_err("cannot bound WASI waits by the call deadline", e))?;
    super::scratch::charge_writes(&mut linker)
        .map_err(|e| wasm_err("cannot charge scratch writes to the quota", e))?;
    Ok(linker)
}

impl Linkers {
    /// Builds every version's linker.
    pub(crate) fn new(engine: &wasmtime::Engine) -> Result<Self> {
        let mut v0_1 = base_linker(engine)?;
        v0_1::add_to_linker(&mut v0_1)
            .map_err(|e| wasm_err("cannot link the envpack 0.1 host imports", e))?;
        let mut v0_2 = base_linker(engine)?;
        v0_2::add_to_linker(&mut v0_2)
            .map_err(|e| wasm_err("cannot link the envpack 0.2 host imports", e))?;
        Ok(Self { v0_1, v0_2 })
    }

    /// The linker for `version`.
    pub(crate) fn get(&self, version: ApiVersion) -> &Linker<StoreData> {
        match version {
            ApiVersion::V0_1 => &self.v0_1,
            ApiVersion::V0_2 => &self.v0_2,
        }
    }
}

/// Export lookups done once per loaded pack, so instantiating and calling
/// never search by name.
pub(crate) enum Exports {
    V0_1(v0_1::Exports),
    V0_2(v0_2::Exports),
}

impl Exports {
    /// Looks up the `command` export and the export of `slot`.
    pub(crate) fn new(
        version: ApiVersion,
        pre: &InstancePre<StoreData>,
        slot: Slot,
        pack: &str,
    ) -> Result<Self> {
        match version {
            ApiVersion::V0_1 => v0_1::Exports::new(pre, slot)
                .map(Self::V0_1)
                .map_err(|e| missing_export(version, pack, e)),
            ApiVersion::V0_2 => v0_2::Exports::new(pre, slot)
                .map(Self::V0_2)
                .map_err(|e| missing_export(version, pack, e)),
        }
    }

    /// Loads the typed exports of one instance.
    pub(crate) fn load(
        &self,
        store: &mut Store<StoreData>,
        instance: &Instance,
    ) -> wasmtime::Result<Guests> {
        match self {
            Self::V0_1(e) => e.load(store, instance),
            Self::V0_2(e) => e.load(store, instance),
        }
    }
}

/// Why an export is missing: which interface, in which version.
pub(crate) struct MissingExport {
    interface: &'static str,
    error: Option<wasmtime::Error>,
}

impl MissingExport {
    fn new(interface: &'static str, error: Option<wasmtime::Error>) -> Self {
        Self { interface, error }
    }
}

fn missing_export(version: ApiVersion, pack: &str, e: MissingExport) -> Error {
    let iface = version.interface(e.interface);
    let why = e.error.map_or(String::new(), |e| format!(" ({e:#})"));
    if e.interface == "command" {
        Error::invalid(format!("{pack} does not export {iface}{why}"))
            .hint("build the pack with envpack-sdk, whose export macros export it")
    } else if e.interface == "kinetic" {
        Error::invalid(format!(
            "{pack} fills the kinetic slot (Epicor Kinetic ERP solution handling), which API {version} does not define"
        ))
        .hint("build the pack against an envpack API version that defines the kinetic interface")
    } else {
        Error::invalid(format!(
            "{pack} claims the {} slot but does not export {iface}{why}",
            e.interface
        ))
        .hint(format!(
            "export the slot with the matching envpack-sdk macro, e.g. `envpack_sdk::export_{}!(MyPack);`",
            e.interface
        ))
    }
}

/// The typed exports of one instance: the `command` interface every pack
/// exports, and its slot's interface.
pub(crate) struct Guests {
    pub(crate) command: Box<dyn CommandGuest>,
    pub(crate) slot: SlotGuest,
}

/// The slot interface a pack exports; a pack fills exactly one slot.
pub(crate) enum SlotGuest {
    State(Box<dyn StateGuest>),
    Secrets(Box<dyn SecretsGuest>),
    Telemetry(Box<dyn TelemetryGuest>),
    Deployer(Box<dyn DeployerGuest>),
    Kinetic(Box<dyn KineticGuest>),
    /// A command-only pack: `command` is all it exports.
    None,
}

/// `command`, as every API version's module implements it.
pub(crate) trait CommandGuest: Send + Sync {
    fn run(
        &self,
        store: &mut Store<StoreData>,
        name: &str,
        args: &[(String, Vec<String>)],
    ) -> CallResult<CommandOutput>;
}

/// `state`, as every API version's module implements it.
pub(crate) trait StateGuest: Send + Sync {
    fn get(&self, store: &mut Store<StoreData>, key: &str) -> CallResult<Option<StateEntry>>;

    fn put(
        &self,
        store: &mut Store<StoreData>,
        key: &str,
        value: &[u8],
        expect: Option<Expect>,
    ) -> CallResult<u64>;

    fn delete(
        &self,
        store: &mut Store<StoreData>,
        key: &str,
        expect: Option<Expect>,
    ) -> CallResult<bool>;

    fn list(&self, store: &mut Store<StoreData>, prefix: &str) -> CallResult<Vec<String>>;
}

/// `secrets`, as every API version's module implements it.
pub(crate) trait SecretsGuest: Send + Sync {
    fn get(&self, store: &mut Store<StoreData>, name: &str) -> CallResult<Option<String>>;

    fn put(&self, store: &mut Store<StoreData>, name: &str, value: &str) -> CallResult<()>;

    fn delete(&self, store: &mut Store<StoreData>, name: &str) -> CallResult<bool>;

    fn list(&self, store: &mut Store<StoreData>) -> CallResult<Vec<String>>;
}

/// `telemetry`, as every API version's module implements it.
pub(crate) trait TelemetryGuest: Send + Sync {
    /// `emit`, then `flush`.
    fn emit(&self, store: &mut Store<StoreData>, events: &[TelemetryEvent]) -> CallResult<()>;
}

/// `deployer`, as every API version's module implements it.
pub(crate) trait DeployerGuest: Send + Sync {
    fn describe(&self, store: &mut Store<StoreData>) -> CallResult<d::TargetInfo>;

    fn plan(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
        bundle: &d::BundleRef,
    ) -> CallResult<d::Plan>;

    fn apply(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
        bundle: &d::BundleRef,
        plan: &d::Plan,
    ) -> CallResult<d::ApplyReport>;

    fn health(
        &self,
        store: &mut Store<StoreData>,
        revision: &d::RevisionRef,
    ) -> CallResult<d::Health>;

    fn set_traffic(
        &self,
        store: &mut Store<StoreData>,
        split: &d::TrafficSplit<'_>,
    ) -> CallResult<d::TrafficReport>;

    fn teardown(&self, store: &mut Store<StoreData>, revision: &d::RevisionRef) -> CallResult<()>;

    fn observe(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::Observed>>;

    fn validate(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::Check>>;

    fn prepare(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::StepResult>>;

    fn decommission(
        &self,
        store: &mut Store<StoreData>,
        environment: &str,
    ) -> CallResult<Vec<d::StepResult>>;
}

/// `kinetic` (from 0.2.0), as every API version's module that defines it
/// implements it.
pub(crate) trait KineticGuest: Send + Sync {
    fn describe(&self, store: &mut Store<StoreData>) -> CallResult<k::TargetInfo>;

    fn list_solutions(&self, store: &mut Store<StoreData>) -> CallResult<Vec<k::Solution>>;

    fn backup_solution(
        &self,
        store: &mut Store<StoreData>,
        solution: &str,
    ) -> CallResult<k::SolutionBackup>;

    fn recreate_solution(
        &self,
        store: &mut Store<StoreData>,
        document: &str,
        replace: bool,
    ) -> CallResult<k::Solution>;

    fn build_solution(
        &self,
        store: &mut Store<StoreData>,
        solution: &str,
    ) -> CallResult<k::BuiltPackage>;

    fn preflight(
        &self,
        store: &mut Store<StoreData>,
        build: &k::BuiltPackage,
    ) -> CallResult<k::PreflightReport>;

    fn plan_install(
        &self,
        store: &mut Store<StoreData>,
        file_name: &str,
        content: &[u8],
        options: k::InstallOptions,
    ) -> CallResult<k::InstallPlan>;

    fn install(
        &self,
        store: &mut Store<StoreData>,
        plan: &k::InstallPlan,
        content: &[u8],
    ) -> CallResult<k::InstallReport>;

    fn remove_solution(&self, store: &mut Store<StoreData>, solution: &str) -> CallResult<bool>;

    fn diff_schema(
        &self,
        store: &mut Store<StoreData>,
        spec: &k::TableSpec,
    ) -> CallResult<k::SchemaDiff>;

    fn apply_schema(
        &self,
        store: &mut Store<StoreData>,
        spec: &k::TableSpec,
        plan: &k::SchemaDiff,
    ) -> CallResult<k::SchemaReport>;

    fn conflicting_layers(
        &self,
        store: &mut Store<StoreData>,
        source: &k::ConflictSource,
    ) -> CallResult<Vec<k::LayerConflict>>;

    fn list_layers(&self, store: &mut Store<StoreData>, app_id: &str) -> CallResult<Vec<k::Layer>>;

    fn export_layer(
        &self,
        store: &mut Store<StoreData>,
        layer: &k::LayerRef,
    ) -> CallResult<k::LayerExport>;

    fn clear_layer(&self, store: &mut Store<StoreData>, layer: &k::LayerRef) -> CallResult<bool>;

    fn inventory(
        &self,
        store: &mut Store<StoreData>,
        kinds: &[k::ItemKind],
    ) -> CallResult<Vec<k::InventoryItem>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The manifest parser accepts exactly the versions this host links.
    #[test]
    fn supported_versions_agree_with_the_manifest_crate() {
        let linked: Vec<String> = ApiVersion::ALL.iter().map(ToString::to_string).collect();
        assert_eq!(linked, envpack_manifest::SUPPORTED_API);
        assert_eq!(
            ApiVersion::LATEST.to_string(),
            envpack_manifest::API_VERSION
        );
        assert_eq!(
            ApiVersion::V0_1.interface("state"),
            "greentic:envpack/state@0.1.0"
        );
        assert_eq!(
            ApiVersion::V0_2.interface("kinetic"),
            "greentic:envpack/kinetic@0.2.0"
        );
        assert!(!ApiVersion::V0_1.defines(Slot::Kinetic));
        assert!(ApiVersion::V0_2.defines(Slot::Kinetic));
        assert!(!ApiVersion::V0_1.defines(Slot::Command));
        assert!(ApiVersion::V0_2.defines(Slot::Command));
    }
}
