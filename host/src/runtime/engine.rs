//! The engine, the linker, and compiling and loading packs.

use std::hash::{Hash, Hasher};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use envpack_manifest::PackManifest;
use sha2::{Digest as _, Sha256};
use wasmtime::component::Component;
use wasmtime::{Config, Engine, OptLevel, WasmBacktraceDetails};

use super::PackLabel;
use super::instance::LoadedPack;
use super::wit::{ApiVersion, Linkers};
use crate::error::{Error, Kind, Result};
use crate::types::{Reporter, Silent};

/// Resource limits applied to every pack instance and call.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest linear memory, in bytes.
    pub memory_bytes: usize,
    /// Wall-clock deadline for one call into a pack.
    pub call_timeout: Duration,
    /// Largest wasm stack, in bytes.
    pub stack_bytes: usize,
    /// Largest command output or returned string, in bytes.
    pub max_output_bytes: usize,
    /// Log lines a pack may write per call.
    pub log_lines_per_call: u32,
    /// Bytes of pack stdout/stderr kept for diagnostics.
    pub stdio_bytes: usize,
    /// Bytes of kv values one pack may keep in a file store.
    pub kv_quota: u64,
    /// Bytes a pack may keep in its scratch directory.
    pub scratch_quota: u64,
    /// Longest compile of one pack.
    pub compile_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            memory_bytes: 64 << 20,
            call_timeout: Duration::from_secs(30),
            stack_bytes: 512 << 10,
            max_output_bytes: 4 << 20,
            log_lines_per_call: 1000,
            stdio_bytes: 64 << 10,
            kv_quota: super::capabilities::kv::DEFAULT_QUOTA,
            scratch_quota: super::scratch::DEFAULT_QUOTA,
            compile_timeout: Duration::from_secs(120),
        }
    }
}

impl Limits {
    /// Defaults, with `ENVPACK_CALL_TIMEOUT_MS`, `ENVPACK_MEMORY_MB` and
    /// `ENVPACK_KV_QUOTA_MB` overriding the deadline, the memory limit and
    /// the kv quota (operators and tests).
    pub fn from_env() -> Result<Self> {
        let mut limits = Self::default();
        if let Ok(v) = std::env::var("ENVPACK_CALL_TIMEOUT_MS") {
            let ms: u64 = v.parse().map_err(|_| {
                Error::invalid(format!(
                    "ENVPACK_CALL_TIMEOUT_MS={v:?} is not a number of milliseconds"
                ))
            })?;
            limits.call_timeout = Duration::from_millis(ms.max(1));
        }
        if let Ok(v) = std::env::var("ENVPACK_MEMORY_MB") {
            let mb: usize = v
                .parse()
                .ok()
                .filter(|mb| (1..=4096).contains(mb))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "ENVPACK_MEMORY_MB={v:?} is not a number of MiB from 1 to 4096"
                    ))
                })?;
            limits.memory_bytes = mb << 20;
        }
        if let Some(mb) = mib_var("ENVPACK_KV_QUOTA_MB")? {
            limits.kv_quota = mb << 20;
        }
        if let Ok(v) = std::env::var("ENVPACK_COMPILE_TIMEOUT_MS") {
            let ms: u64 = v.parse().map_err(|_| {
                Error::invalid(format!(
                    "ENVPACK_COMPILE_TIMEOUT_MS={v:?} is not a number of milliseconds"
                ))
                .hint("unset it, or set a time: export ENVPACK_COMPILE_TIMEOUT_MS=120000")
            })?;
            limits.compile_timeout = Duration::from_millis(ms.max(1));
        }
        if let Some(mb) = mib_var("ENVPACK_SCRATCH_QUOTA_MB")? {
            limits.scratch_quota = mb << 20;
        }
        Ok(limits)
    }
}

/// A size in MiB from the environment variable `name`, if set.
fn mib_var(name: &str) -> Result<Option<u64>> {
    let Ok(v) = std::env::var(name) else {
        return Ok(None);
    };
    v.parse()
        .ok()
        .filter(|mb| (1..=1 << 20).contains(mb))
        .map(Some)
        .ok_or_else(|| {
            Error::invalid(format!(
                "{name}={v:?} is not a number of MiB from 1 to 1048576"
            ))
            .hint(format!("unset it, or set a size: export {name}=256"))
        })
}

/// How often the epoch advances; deadlines are counted in these ticks.
const TICK: Duration = Duration::from_millis(5);

/// The process-wide pack runtime. Cloning is cheap and shares the engine,
/// the linker and the epoch ticker, which stops when the last clone drops.
#[derive(Clone)]
pub struct Runtime {
    engine: Engine,
    linkers: Arc<Linkers>,
    limits: Limits,
    reporter: Arc<dyn Reporter>,
    engine_key: String,
    _ticker: Arc<Ticker>,
}

/// Stops the epoch thread when dropped.
struct Ticker(Arc<AtomicBool>);

impl Drop for Ticker {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("engine_key", &self.engine_key)
            .field("limits", &self.limits)
            .finish()
    }
}

/// Feeds `Hash` output into sha256, for a cache key stable across runs.
struct ShaHasher(Sha256);

impl Hasher for ShaHasher {
    fn finish(&self) -> u64 {
        0
    }

    fn write(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }
}

fn wasm_err(what: impl std::fmt::Display, e: wasmtime::Error) -> Error {
    Error::internal(format!("{what}: {e:#}"))
}

impl Runtime {
    /// Builds the engine and linker.
    pub fn new(limits: Limits) -> Result<Self> {
        let mut config = Config::new();
        config
            .wasm_component_model(true)
            .epoch_interruption(true)
            .max_wasm_stack(limits.stack_bytes)
            // A trap's report names the functions (name section) and, in a
            // pack built with debug info, file and line; wasmtime would
            // otherwise decide from WASMTIME_BACKTRACE_DETAILS in the host's
            // environment, which no pack author controls.
            // 64 frames: a Rust panic spends a dozen in its own machinery.
            .wasm_backtrace_max_frames(std::num::NonZeroUsize::new(64))
            .wasm_backtrace_details(WasmBacktraceDetails::Enable)
            .cranelift_opt_level(OptLevel::Speed)
            // Packs are instantiated and dropped per operation; copy-on-write
            // images make instantiation cheap without a pooling allocator's
            // large virtual-memory reservation in every CLI process.
            .memory_init_cow(true);
        let engine =
            Engine::new(&config).map_err(|e| wasm_err("cannot create the wasm engine", e))?;

        let linkers = Linkers::new(&engine)?;

        let mut hasher = ShaHasher(Sha256::new());
        engine.precompile_compatibility_hash().hash(&mut hasher);
        let engine_key = hex::encode(&hasher.0.finalize()[..12]);

        let ticker_stop = Arc::new(AtomicBool::new(false));
        {
            let engine = engine.clone();
            let stop = ticker_stop.clone();
            std::thread::Builder::new()
                .name("envpack-epoch".into())
                .spawn(move || {
                    while !stop.load(Ordering::Relaxed) {
                        std::thread::sleep(TICK);
                        engine.increment_epoch();
                    }
                })
                .map_err(|e| Error::internal(format!("cannot start the epoch thread: {e}")))?;
        }

        Ok(Self {
            engine,
            linkers: Arc::new(linkers),
            limits,
            reporter: Arc::new(Silent),
            engine_key,
            _ticker: Arc::new(Ticker(ticker_stop)),
        })
    }

    /// Reports long work (compiling packs) and pack output through
    /// `reporter`.
    pub fn with_reporter(mut self, reporter: Arc<dyn Reporter>) -> Self {
        self.reporter = reporter;
        self
    }

    /// Where long work and pack output are reported.
    pub fn reporter(&self) -> &dyn Reporter {
        &*self.reporter
    }

    /// Identifies the engine build and settings; precompiled artifacts are
    /// only valid for the same key.
    pub fn engine_key(&self) -> &str {
        &self.engine_key
    }

    /// The limits applied to instances.
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Epoch ticks for one call deadline.
    pub(crate) fn deadline_ticks(&self) -> u64 {
        (self.limits.call_timeout.as_millis() / TICK.as_millis()).max(1) as u64
    }

    /// Compiles a pack into a precompiled artifact for this engine, giving
    /// up after the compile timeout (the compile cannot be interrupted; it
    /// is left to finish on its own thread, and the process exits soon
    /// after a failed install).
    pub fn precompile(&self, wasm: &[u8], pack: &PackLabel) -> Result<Vec<u8>> {
        let (tx, rx) = std::sync::mpsc::channel();
        let engine = self.engine.clone();
        let wasm = wasm.to_vec();
        std::thread::Builder::new()
            .name("envpack-compile".into())
            .spawn(move || {
                let _ = tx.send(engine.precompile_component(&wasm));
            })
            .map_err(|e| Error::internal(format!("cannot start a compile thread: {e}")))?;
        let timeout = self.limits.compile_timeout;
        match rx.recv_timeout(timeout) {
            Ok(r) => r.map_err(|e| {
                Error::new(Kind::InvalidInput, format!("cannot compile {pack}: {e:#}"))
            }),
            Err(_) => Err(Error::new(
                Kind::InvalidInput,
                format!(
                    "compiling {pack} took longer than the compile timeout of {} ms, so it was not installed",
                    timeout.as_millis()
                ),
            )
            .hint("if the pack is legitimately large, raise the limit: export ENVPACK_COMPILE_TIMEOUT_MS=600000")),
        }
    }

    /// Loads a precompiled artifact made by [`precompile`](Self::precompile).
    pub fn load_artifact(
        &self,
        artifact: &Path,
        pack: PackLabel,
        manifest: Arc<PackManifest>,
    ) -> Result<LoadedPack> {
        // SAFETY: `deserialize_file` trusts the file to be an artifact this
        // engine produced. Artifacts live in the store's cache, are written
        // only by `precompile` via an atomic rename, are keyed by the engine
        // compatibility hash (so a different wasmtime never reads them), and
        // wasmtime itself checks the header before using the code.
        #[allow(unsafe_code)]
        let component =
            unsafe { Component::deserialize_file(&self.engine, artifact) }.map_err(|e| {
                Error::integrity(format!(
                    "cannot load the precompiled artifact {} of {pack}: {e:#}",
                    artifact.display()
                ))
                .hint(format!(
                    "delete {} to have it rebuilt from the verified pack",
                    artifact.display()
                ))
            })?;
        self.prepare(component, pack, manifest)
    }

    /// Compiles and loads a pack in one step, without any cache: for tests,
    /// benchmarks and `pack inspect --check`.
    pub fn load_bytes(
        &self,
        wasm: &[u8],
        pack: PackLabel,
        manifest: Arc<PackManifest>,
    ) -> Result<LoadedPack> {
        let component = Component::new(&self.engine, wasm)
            .map_err(|e| Error::invalid(format!("cannot compile {pack}: {e:#}")))?;
        self.prepare(component, pack, manifest)
    }

    fn prepare(
        &self,
        component: Component,
        pack: PackLabel,
        manifest: Arc<PackManifest>,
    ) -> Result<LoadedPack> {
        let version = ApiVersion::of(&manifest)?;
        let pre = self
            .linkers
            .get(version)
            .instantiate_pre(&component)
            .map_err(|e| {
                Error::invalid(format!(
                    "{pack} (API {version}) needs an import this host does not provide: {e:#}"
                ))
                .hint("the pack may need a newer envpack; check `envpack pack inspect` for its API version")
            })?;
        LoadedPack::new(self, pre, version, pack, manifest)
    }

    pub(crate) fn engine(&self) -> &Engine {
        &self.engine
    }
}
