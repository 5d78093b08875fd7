//! Loaded packs and their instances.

use std::path::PathBuf;
use std::sync::Arc;

use envpack_descriptor::Slot;
use envpack_manifest::PackManifest;
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, ResourceTable};
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use super::capabilities::http::HttpHooks;
use super::since_v0_1::{guest, host};
use super::store_data::{Limiter, StoreData};
use super::{
    CommandOutput, Expect, Granter, HostServices, Limits, PackError, PackLabel, Runtime,
    StateEntry, TelemetryEvent, fault,
};
use crate::error::{Error, Kind, Result};

/// Export lookups done once per loaded pack, so instantiating and calling
/// never search by name.
pub(super) struct Exports {
    command: guest::command::GuestIndices,
    state: Option<guest::state::GuestIndices>,
    secrets: Option<guest::secrets::GuestIndices>,
    telemetry: Option<guest::telemetry::GuestIndices>,
    deployer: Option<guest::deployer::GuestIndices>,
}

/// The exports of one instance, looked up and type-checked once at
/// instantiation so each call goes straight to the function.
pub(super) struct Guests {
    command: guest::command::Guest,
    state: Option<guest::state::Guest>,
    secrets: Option<guest::secrets::Guest>,
    telemetry: Option<guest::telemetry::Guest>,
    deployer: Option<guest::deployer::Guest>,
}

/// A compiled, linked pack, ready to instantiate many times.
pub struct LoadedPack {
    pre: InstancePre<StoreData>,
    exports: Arc<Exports>,
    pack: PackLabel,
    manifest: Arc<PackManifest>,
    engine: wasmtime::Engine,
    limits: Limits,
    deadline_ticks: u64,
}

impl std::fmt::Debug for LoadedPack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPack")
            .field("pack", &self.pack)
            .finish()
    }
}

/// What one instance may touch.
pub struct InstanceContext {
    /// Capability checks.
    pub granter: Arc<Granter>,
    /// Where host imports read and write.
    pub services: Arc<dyn HostServices>,
    /// The pack's private scratch directory, mounted at `/scratch`.
    pub scratch_dir: Option<PathBuf>,
}

fn missing_export(pack: &PackLabel, slot: Slot, e: &wasmtime::Error) -> Error {
    Error::invalid(format!(
        "{pack} claims the {slot} slot but does not export greentic:envpack/{slot}@0.1.0 ({e:#})"
    ))
    .hint("export the slot with the matching envpack-sdk macro, e.g. `envpack_sdk::export_state!(MyPack);`")
}

impl LoadedPack {
    pub(super) fn new(
        runtime: &Runtime,
        pre: InstancePre<StoreData>,
        pack: PackLabel,
        manifest: Arc<PackManifest>,
    ) -> Result<Self> {
        let slot = manifest.slot();
        let command = guest::command::GuestIndices::new(&pre).map_err(|e| {
            Error::invalid(format!(
                "{pack} does not export greentic:envpack/command@0.1.0 ({e:#})"
            ))
            .hint("build the pack with envpack-sdk, whose export macros export it")
        })?;
        let mut exports = Exports {
            command,
            state: None,
            secrets: None,
            telemetry: None,
            deployer: None,
        };
        match slot {
            Slot::State => {
                exports.state = Some(
                    guest::state::GuestIndices::new(&pre)
                        .map_err(|e| missing_export(&pack, slot, &e))?,
                )
            }
            Slot::Secrets => {
                exports.secrets = Some(
                    guest::secrets::GuestIndices::new(&pre)
                        .map_err(|e| missing_export(&pack, slot, &e))?,
                )
            }
            Slot::Telemetry => {
                exports.telemetry = Some(
                    guest::telemetry::GuestIndices::new(&pre)
                        .map_err(|e| missing_export(&pack, slot, &e))?,
                )
            }
            Slot::Deployer => {
                exports.deployer = Some(
                    guest::deployer::GuestIndices::new(&pre)
                        .map_err(|e| missing_export(&pack, slot, &e))?,
                )
            }
            Slot::Kinetic => {
                return Err(Error::invalid(format!(
                    "{pack} fills the kinetic slot, which API 0.1.0 does not define yet"
                )));
            }
        }
        Ok(Self {
            pre,
            exports: Arc::new(exports),
            pack,
            manifest,
            engine: runtime.engine().clone(),
            limits: runtime.limits().clone(),
            deadline_ticks: runtime.deadline_ticks(),
        })
    }

    /// The pack.
    pub fn label(&self) -> &PackLabel {
        &self.pack
    }

    /// Its manifest.
    pub fn manifest(&self) -> &Arc<PackManifest> {
        &self.manifest
    }

    /// Creates a fresh, sandboxed instance.
    pub fn instantiate(&self, ctx: InstanceContext) -> Result<PackInstance> {
        let stderr = MemoryOutputPipe::new(self.limits.stdio_bytes);
        let stdout = MemoryOutputPipe::new(self.limits.stdio_bytes);
        let mut wasi = WasiCtxBuilder::new();
        // Deny by default: no env, args, stdin, network or files. The only
        // things granted are a scratch directory and bounded stdout/stderr
        // capture (stdout is kept apart and discarded; results go through
        // typed returns).
        wasi.stdout(stdout.clone())
            .stderr(stderr.clone())
            .allow_tcp(false)
            .allow_udp(false)
            .allow_ip_name_lookup(false)
            .socket_addr_check(|_, _| Box::pin(async { false }));
        if let Some(dir) = &ctx.scratch_dir {
            crate::fsutil::create_dir_all(dir)?;
            wasi.preopened_dir(dir, "/scratch", FsPerms::ReadWrite)
                .map_err(|e| {
                    Error::internal(format!(
                        "cannot mount scratch directory {}: {e:#}",
                        dir.display()
                    ))
                })?;
        }
        let data = StoreData {
            wasi: wasi.build(),
            table: ResourceTable::new(),
            http: WasiHttpCtx::new(),
            http_hooks: HttpHooks {
                granter: ctx.granter.clone(),
            },
            limiter: Limiter {
                memory_bytes: self.limits.memory_bytes,
                hit: None,
            },
            granter: ctx.granter,
            services: ctx.services,
            pack: self.pack.clone(),
            stderr,
            stdout,
            log_lines_left: self.limits.log_lines_per_call,
            log_lines_dropped: 0,
        };
        let mut store = Store::new(&self.engine, data);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks);
        let instance = self.pre.instantiate(&mut store).map_err(|e| {
            fault::classify(e, store.data(), &self.pack, &self.limits, "instantiate")
        })?;
        let ex = &self.exports;
        let guests = (|| -> wasmtime::Result<Guests> {
            Ok(Guests {
                command: ex.command.load(&mut store, &instance)?,
                state: ex
                    .state
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()?,
                secrets: ex
                    .secrets
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()?,
                telemetry: ex
                    .telemetry
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()?,
                deployer: ex
                    .deployer
                    .as_ref()
                    .map(|i| i.load(&mut store, &instance))
                    .transpose()?,
            })
        })()
        .map_err(|e| {
            Error::invalid(format!(
                "{}: an export does not have the type API 0.1.0 requires: {e:#}",
                self.pack
            ))
        })?;
        Ok(PackInstance {
            store,
            instance,
            guests,
            exports: self.exports.clone(),
            pack: self.pack.clone(),
            limits: self.limits.clone(),
            deadline_ticks: self.deadline_ticks,
            broken: false,
            stdout_taken: 0,
        })
    }
}

/// One live, sandboxed instance of a pack.
pub struct PackInstance {
    store: Store<StoreData>,
    instance: Instance,
    exports: Arc<Exports>,
    guests: Guests,
    pack: PackLabel,
    limits: Limits,
    deadline_ticks: u64,
    broken: bool,
    stdout_taken: usize,
}

impl std::fmt::Debug for PackInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackInstance")
            .field("pack", &self.pack)
            .finish()
    }
}

fn not_slot(pack: &PackLabel, slot: Slot) -> Error {
    Error::invalid(format!("{pack} is not a {slot} pack"))
}

impl PackInstance {
    /// The pack.
    pub fn label(&self) -> &PackLabel {
        &self.pack
    }

    /// Capability uses refused so far.
    pub fn denials(&self) -> Vec<super::Denial> {
        self.store.data().granter.denials()
    }

    /// What the pack wrote to its standard output so far, removed from the
    /// capture. Only telemetry packs' output is shown to the operator.
    pub fn take_stdout(&mut self) -> Vec<u8> {
        let bytes = self.store.data().stdout.contents();
        // The pipe cannot be drained while the instance holds its stream,
        // so remember how much was already taken.
        let taken = self.stdout_taken;
        self.stdout_taken = bytes.len();
        bytes[taken.min(bytes.len())..].to_vec()
    }

    pub(super) fn store_mut(&mut self) -> &mut Store<StoreData> {
        &mut self.store
    }

    pub(super) fn instance(&self) -> &Instance {
        &self.instance
    }

    /// Runs one call into the pack with a fresh deadline and log budget;
    /// turns WIT errors into host errors and traps into pack faults.
    pub(super) fn call<R>(
        &mut self,
        op: &str,
        f: impl FnOnce(
            &mut Store<StoreData>,
            &Guests,
        ) -> wasmtime::Result<Result<R, host::types::Error>>,
    ) -> Result<R> {
        if self.broken {
            return Err(Error::new(
                Kind::PackFault,
                format!(
                    "{} already failed in this operation and was discarded",
                    self.pack
                ),
            ));
        }
        self.store.set_epoch_deadline(self.deadline_ticks);
        {
            let data = self.store.data_mut();
            data.log_lines_left = self.limits.log_lines_per_call;
            data.log_lines_dropped = 0;
        }
        let result = f(&mut self.store, &self.guests);
        let dropped = self.store.data().log_lines_dropped;
        if dropped > 0 {
            tracing::warn!(pack = %self.pack.descriptor, "dropped {dropped} log lines over the limit of {} per call", self.limits.log_lines_per_call);
        }
        match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(PackError::from(e).into_host(&self.pack)),
            Err(e) => {
                self.broken = true;
                Err(fault::classify(
                    e,
                    self.store.data(),
                    &self.pack,
                    &self.limits,
                    op,
                ))
            }
        }
    }

    pub(super) fn check_output(&self, op: &str, len: usize) -> Result<()> {
        if len > self.limits.max_output_bytes {
            return Err(Error::new(
                Kind::PackFault,
                format!(
                    "{} returned {len} bytes from {op}, more than the output limit of {} bytes",
                    self.pack, self.limits.max_output_bytes
                ),
            ));
        }
        Ok(())
    }

    /// Runs a command declared in the manifest with parsed arguments.
    pub fn run_command(
        &mut self,
        name: &str,
        args: &[(String, Vec<String>)],
    ) -> Result<CommandOutput> {
        let args: Vec<guest::command::Arg> = args
            .iter()
            .map(|(n, v)| guest::command::Arg {
                name: n.clone(),
                values: v.clone(),
            })
            .collect();
        let out: CommandOutput = self
            .call("command", |store, ex| {
                ex.command.call_run(&mut *store, name, &args)
            })?
            .into();
        self.check_output(
            "command",
            out.text.len() + out.json.as_ref().map_or(0, String::len),
        )?;
        Ok(out)
    }

    /// `state.get`.
    pub fn state_get(&mut self, key: &str) -> Result<Option<StateEntry>> {
        self.exports
            .state
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::State))?;
        let out = self.call("state.get", |store, ex| {
            let ix = ex
                .state
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a state pack"))?;
            ix.call_get(&mut *store, key)
        })?;
        self.check_output("state.get", out.as_ref().map_or(0, |e| e.value.len()))?;
        Ok(out.map(Into::into))
    }

    /// `state.put`.
    pub fn state_put(&mut self, key: &str, value: &[u8], expect: Option<Expect>) -> Result<u64> {
        self.exports
            .state
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::State))?;
        let expect = expect.map(Into::into);
        self.call("state.put", |store, ex| {
            let ix = ex
                .state
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a state pack"))?;
            ix.call_put(&mut *store, key, value, expect)
        })
    }

    /// `state.delete`.
    pub fn state_delete(&mut self, key: &str, expect: Option<Expect>) -> Result<bool> {
        self.exports
            .state
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::State))?;
        let expect = expect.map(Into::into);
        self.call("state.delete", |store, ex| {
            let ix = ex
                .state
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a state pack"))?;
            ix.call_delete(&mut *store, key, expect)
        })
    }

    /// `state.list`.
    pub fn state_list(&mut self, prefix: &str) -> Result<Vec<String>> {
        self.exports
            .state
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::State))?;
        self.call("state.list", |store, ex| {
            let ix = ex
                .state
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a state pack"))?;
            ix.call_list(&mut *store, prefix)
        })
    }

    /// `secrets.get`.
    pub fn secrets_get(&mut self, name: &str) -> Result<Option<String>> {
        self.exports
            .secrets
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::Secrets))?;
        self.call("secrets.get", |store, ex| {
            let ix = ex
                .secrets
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a secrets pack"))?;
            ix.call_get(&mut *store, name)
        })
    }

    /// `secrets.put`.
    pub fn secrets_put(&mut self, name: &str, value: &str) -> Result<()> {
        self.exports
            .secrets
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::Secrets))?;
        self.call("secrets.put", |store, ex| {
            let ix = ex
                .secrets
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a secrets pack"))?;
            ix.call_put(&mut *store, name, value)
        })
    }

    /// `secrets.delete`.
    pub fn secrets_delete(&mut self, name: &str) -> Result<bool> {
        self.exports
            .secrets
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::Secrets))?;
        self.call("secrets.delete", |store, ex| {
            let ix = ex
                .secrets
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a secrets pack"))?;
            ix.call_delete(&mut *store, name)
        })
    }

    /// `secrets.list`.
    pub fn secrets_list(&mut self) -> Result<Vec<String>> {
        self.exports
            .secrets
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::Secrets))?;
        self.call("secrets.list", |store, ex| {
            let ix = ex
                .secrets
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a secrets pack"))?;
            ix.call_list(&mut *store)
        })
    }

    fn deployer_ix(&self) -> Result<()> {
        self.exports
            .deployer
            .as_ref()
            .map(|_| ())
            .ok_or_else(|| not_slot(&self.pack, Slot::Deployer))
    }

    /// `deployer.describe`.
    pub fn deployer_describe(&mut self) -> Result<crate::deploy::target::TargetInfo> {
        self.deployer_ix()?;
        self.call("deployer.describe", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            Ok(Ok(ix.call_describe(&mut *store)?))
        })
        .map(Into::into)
    }

    /// `deployer.plan`.
    pub fn deployer_plan(
        &mut self,
        revision: &crate::deploy::target::RevisionRef,
        bundle: &crate::deploy::target::BundleRef,
    ) -> Result<crate::deploy::target::Plan> {
        self.deployer_ix()?;
        let (r, b) = (revision.into(), bundle.into());
        self.call("deployer.plan", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_plan(&mut *store, &r, &b)
        })
        .map(Into::into)
    }

    /// `deployer.apply` with exactly the recorded plan.
    pub fn deployer_apply(
        &mut self,
        revision: &crate::deploy::target::RevisionRef,
        bundle: &crate::deploy::target::BundleRef,
        plan: &crate::deploy::target::Plan,
    ) -> Result<crate::deploy::target::ApplyReport> {
        self.deployer_ix()?;
        let (r, b, p) = (revision.into(), bundle.into(), plan.into());
        self.call("deployer.apply", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_apply(&mut *store, &r, &b, &p)
        })
        .map(Into::into)
    }

    /// `deployer.health`.
    pub fn deployer_health(
        &mut self,
        revision: &crate::deploy::target::RevisionRef,
    ) -> Result<crate::deploy::target::Health> {
        self.deployer_ix()?;
        let r = revision.into();
        self.call("deployer.health", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_health(&mut *store, &r)
        })
        .map(Into::into)
    }

    /// `deployer.set-traffic`.
    pub fn deployer_set_traffic(
        &mut self,
        environment: &str,
        deployment: &str,
        generation: u64,
        weights: &[crate::deploy::target::Weight],
    ) -> Result<crate::deploy::target::TrafficReport> {
        self.deployer_ix()?;
        let w: Vec<_> = weights.iter().map(Into::into).collect();
        self.call("deployer.set-traffic", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_set_traffic(&mut *store, environment, deployment, generation, &w)
        })
        .map(Into::into)
    }

    /// `deployer.teardown`.
    pub fn deployer_teardown(
        &mut self,
        revision: &crate::deploy::target::RevisionRef,
    ) -> Result<()> {
        self.deployer_ix()?;
        let r = revision.into();
        self.call("deployer.teardown", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_teardown(&mut *store, &r)
        })
    }

    /// `deployer.observe`.
    pub fn deployer_observe(
        &mut self,
        environment: &str,
    ) -> Result<Vec<crate::deploy::target::Observed>> {
        self.deployer_ix()?;
        self.call("deployer.observe", |store, ex| {
            let ix = ex
                .deployer
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a deployer pack"))?;
            ix.call_observe(&mut *store, environment)
        })
        .map(|v| v.into_iter().map(Into::into).collect())
    }

    /// `telemetry.emit` then `telemetry.flush`.
    pub fn telemetry_emit(&mut self, events: &[TelemetryEvent]) -> Result<()> {
        self.exports
            .telemetry
            .as_ref()
            .ok_or_else(|| not_slot(&self.pack, Slot::Telemetry))?;
        let events: Vec<guest::telemetry::Event> = events.iter().map(Into::into).collect();
        self.call("telemetry.emit", |store, ex| {
            let ix = ex
                .telemetry
                .as_ref()
                .ok_or_else(|| wasmtime::format_err!("not a telemetry pack"))?;
            let g = ix;
            match g.call_emit(&mut *store, &events)? {
                Ok(()) => g.call_flush(&mut *store),
                Err(e) => Ok(Err(e)),
            }
        })
    }
}
