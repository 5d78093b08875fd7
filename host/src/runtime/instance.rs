//! Loaded packs and their instances.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use super::capture::{Capture, Keep};
use super::scratch::Quota;
use envpack_manifest::PackManifest;
use wasmtime::Store;
use wasmtime::component::{Instance, InstancePre, ResourceTable};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};
use wasmtime_wasi_http::WasiHttpCtx;

use super::capabilities::http::HttpHooks;
use super::capabilities::log::Budget;
use super::store_data::{Limiter, StoreData};
use super::wit::{ApiVersion, CallResult, Exports, Guests};
use super::{Granter, Limits, PackLabel, Runtime, Services, fault};
use crate::error::{Error, Kind, Result};
use crate::types::EnvName;

/// Bytes of standard output kept between takes: telemetry packs print a
/// batch of events per call, drained after each.
const STDOUT_BYTES: usize = 1 << 20;

/// A compiled, linked pack, ready to instantiate many times.
pub struct LoadedPack {
    pre: InstancePre<StoreData>,
    exports: Arc<Exports>,
    version: ApiVersion,
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
            .field("api", &self.version)
            .finish()
    }
}

/// What one instance may touch.
pub struct InstanceContext {
    /// Capability checks.
    pub granter: Arc<Granter>,
    /// Where host imports read and write.
    pub services: Services,
    /// The pack's private scratch directory, mounted at `/scratch`.
    pub scratch_dir: Option<PathBuf>,
    /// Bytes it may keep there, when not the runtime's default.
    pub scratch_quota: Option<u64>,
}

impl LoadedPack {
    pub(super) fn new(
        runtime: &Runtime,
        pre: InstancePre<StoreData>,
        version: ApiVersion,
        pack: PackLabel,
        manifest: Arc<PackManifest>,
    ) -> Result<Self> {
        let exports = Exports::new(version, &pre, manifest.slot(), &pack.to_string())?;
        Ok(Self {
            pre,
            exports: Arc::new(exports),
            version,
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

    /// The API version it is linked and called through.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// Creates a fresh, sandboxed instance.
    pub fn instantiate(&self, ctx: InstanceContext) -> Result<PackInstance> {
        let stderr = Capture::new(self.limits.stdio_bytes, Keep::Tail);
        let stdout = Capture::new(self.limits.stdio_bytes.max(STDOUT_BYTES), Keep::Head);
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
            http_hooks: HttpHooks::new(ctx.granter.clone(), ctx.services.secrets.clone()),
            limiter: Limiter::new(self.limits.memory_bytes),
            granter: ctx.granter,
            services: ctx.services,
            stderr,
            stdout,
            log_budget: Budget::new(self.limits.log_lines_per_call),
            deadline: Instant::now(),
            scratch_quota: ctx
                .scratch_dir
                .as_deref()
                .map(|dir| Quota::new(dir, ctx.scratch_quota.unwrap_or(self.limits.scratch_quota))),
        };
        let mut store = Store::new(&self.engine, data);
        store.data_mut().start_call(self.limits.call_timeout);
        store.limiter(|d| &mut d.limiter);
        store.epoch_deadline_trap();
        store.set_epoch_deadline(self.deadline_ticks);
        let instance = self.pre.instantiate(&mut store).map_err(|e| {
            fault::classify(e, store.data(), &self.pack, &self.limits, "instantiate")
        })?;
        let guests = self.exports.load(&mut store, &instance).map_err(|e| {
            Error::invalid(format!(
                "{}: an export does not have the type API {} requires: {e:#}",
                self.pack, self.version
            ))
        })?;
        Ok(PackInstance {
            calls: Calls {
                store,
                pack: self.pack.clone(),
                limits: self.limits.clone(),
                deadline_ticks: self.deadline_ticks,
                broken: false,
                env: None,
            },
            instance,
            guests,
            version: self.version,
        })
    }
}

/// One live, sandboxed instance of a pack. Its slot's client comes from
/// [`state`](Self::state), [`secrets`](Self::secrets),
/// [`telemetry`](Self::telemetry) or [`deployer`](Self::deployer); every pack
/// has [`command`](Self::command).
pub struct PackInstance {
    calls: Calls,
    instance: Instance,
    guests: Guests,
    version: ApiVersion,
}

impl std::fmt::Debug for PackInstance {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PackInstance")
            .field("pack", &self.calls.pack)
            .finish()
    }
}

/// The store of one instance and the rules of calling into it: a fresh
/// deadline and log budget per call, WIT errors as host errors, traps as
/// pack faults, and an instance that trapped is never called again.
pub struct Calls {
    store: Store<StoreData>,
    pack: PackLabel,
    limits: Limits,
    deadline_ticks: u64,
    broken: bool,
    /// The environment the instance runs in: replaces the `<env>`
    /// placeholder in what the pack says ([`super::placeholder`]).
    env: Option<EnvName>,
}

impl Calls {
    /// Runs one call into the pack.
    pub(crate) fn call<R>(
        &mut self,
        op: &str,
        f: impl FnOnce(&mut Store<StoreData>) -> CallResult<R>,
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
        self.store.data_mut().start_call(self.limits.call_timeout);
        self.store.data_mut().log_budget = Budget::new(self.limits.log_lines_per_call);
        let result = f(&mut self.store);
        let dropped = self.store.data().log_budget.dropped;
        if dropped > 0 {
            tracing::warn!(pack = %self.pack.descriptor, "dropped {dropped} log lines over the limit of {} lines or {} KiB per call", self.limits.log_lines_per_call, super::capabilities::log::MAX_BYTES_PER_CALL >> 10);
        }
        let quiet = self.store.data().granter.take_quiet();
        if quiet > 0 {
            tracing::warn!(pack = %self.pack.descriptor, "{quiet} more denied capability uses in this call were not logged one by one");
        }
        match result {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e.into_host(&self.pack, self.env.as_ref())),
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

    /// `text` with the `<env>` placeholder replaced by the environment's
    /// name, when the instance runs in one.
    pub(crate) fn with_env(&self, text: String) -> String {
        super::placeholder::fill(text, self.env.as_ref())
    }

    /// Refuses results over the output limit.
    pub(crate) fn check_output(&self, op: &str, len: usize) -> Result<()> {
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
}

impl PackInstance {
    /// The pack.
    pub fn label(&self) -> &PackLabel {
        &self.calls.pack
    }

    /// The API version it is called through.
    pub fn api_version(&self) -> ApiVersion {
        self.version
    }

    /// Runs the instance in environment `env`: what the pack says with the
    /// `<env>` placeholder (error messages, hints, command output) names
    /// it, so the commands it suggests can be pasted as they are.
    pub fn in_environment(mut self, env: &EnvName) -> Self {
        self.calls.env = Some(env.clone());
        self
    }

    /// Capability uses refused so far.
    pub fn denials(&self) -> Vec<super::Denial> {
        self.calls.store.data().granter.denials()
    }

    /// What the pack wrote to its standard output since the last take,
    /// removed from the capture, and how many bytes did not fit. Only
    /// telemetry packs' output is shown to the operator.
    pub fn take_stdout(&mut self) -> (Vec<u8>, u64) {
        self.calls.store.data().stdout.take()
    }

    /// The call machinery and the typed exports, borrowed apart so a slot
    /// client can hold both.
    pub(super) fn parts(&mut self) -> (&mut Calls, &Guests) {
        (&mut self.calls, &self.guests)
    }

    /// The call machinery and the raw instance, for calls by name.
    pub(super) fn raw(&mut self) -> (&mut Calls, &Instance) {
        (&mut self.calls, &self.instance)
    }
}

impl Calls {
    /// The store, for calls by name.
    pub(super) fn store_mut(&mut self) -> &mut Store<StoreData> {
        &mut self.store
    }
}
