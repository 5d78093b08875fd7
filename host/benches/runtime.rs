//! The pack runtime, in-process: loading, instantiating and calling a pack,
//! and host imports, each next to a baseline measured in the same run (a
//! native `dyn Trait` call, a subprocess pipe round trip, a process spawn).
//!
//! The pack is `tests/packs/bench-pack` (`acme.telemetry.bench`), built with
//! the library's builder and installed into a temporary home, exactly as
//! `envpack pack install` does. Before the timings, the memory of 200 live
//! instances is compared with one minimal child process. After them, a
//! summary prints each figure with its ratio to its baseline.
//!
//! Run: `cargo bench -p envpack-host --bench runtime`
//! (one figure: `cargo bench -p envpack-host --bench runtime -- call/pack_noop`).
//! Results are recorded in docs/performance.md.

use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use criterion::{Criterion, SamplingMode, Throughput};
use envpack_host::builder::{self, BuildOptions};
use envpack_host::home::Home;
use envpack_host::manifest::{Grants, PackManifest};
use envpack_host::packs;
use envpack_host::runtime::{
    Granter, InstanceContext, Limits, LoadedPack, PackInstance, PackLabel, Runtime, Services,
};
use envpack_host::store::Store;

/// Config key the pack reads in `bench imports`.
const KEY: &str = "k";
/// Import calls per `bench imports` call.
const IMPORTS: u64 = 1000;
/// Live instances for the memory figure.
const LIVE: usize = 200;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("host/ has a parent")
        .to_path_buf()
}

/// Everything the benchmarks share: the runtime, the installed and loaded
/// pack, and what an instance is given.
struct Fixture {
    _home: tempfile::TempDir,
    runtime: Runtime,
    loaded: LoadedPack,
    label: PackLabel,
    manifest: Arc<PackManifest>,
    requested: Grants,
    services: Services,
    /// The pack file's bytes (for compiling without the cache).
    bytes: Vec<u8>,
    /// The precompiled artifact in the store's cache.
    artifact: PathBuf,
}

impl Fixture {
    fn new() -> Self {
        let repo = repo();
        let started = Instant::now();
        let built = builder::build(
            &BuildOptions {
                dir: repo.join("tests/packs/bench-pack"),
                out_dir: Some(repo.join("target/bench-packs")),
                debug: false,
                dev: false,
                target_dir: Some(repo.join("tests/packs/target")),
                quiet: true,
            },
            &envpack_host::types::Silent,
        )
        .expect("build tests/packs/bench-pack");
        eprintln!(
            "built {} ({} bytes) in {:.1?}",
            built.path.display(),
            built.size,
            started.elapsed()
        );

        let home_dir = tempfile::tempdir().expect("tempdir");
        let home = Home::at(home_dir.path().to_path_buf());
        let store = Store::open(&home);
        let runtime = Runtime::new(Limits::default()).expect("runtime");
        packs::install(&store, &runtime, std::slice::from_ref(&built.path))
            .expect("install the bench pack");
        let descriptor = built.manifest.descriptor.clone();
        let loaded = packs::load(&store, &runtime, &descriptor, Some(&built.digest)).expect("load");
        let label = loaded.label().clone();
        let manifest = loaded.manifest().clone();
        let requested = manifest.requested();
        let config = BTreeMap::from([(KEY.to_string(), "v".to_string())]);
        let services = Services {
            config: Arc::new(config),
            ..Services::default()
        };
        let bytes = std::fs::read(&built.path).expect("read the pack file");
        let artifact = store.artifact_path(&built.digest, runtime.engine_key());
        assert!(artifact.exists(), "install precompiles the pack");
        Self {
            _home: home_dir,
            runtime,
            loaded,
            label,
            manifest,
            requested,
            services,
            bytes,
            artifact,
        }
    }

    /// What the host gives each instance: a fresh granter (the manifest's
    /// requests, all granted) and the shared services.
    fn context(&self) -> InstanceContext {
        InstanceContext {
            granter: Arc::new(Granter::new(
                self.label.clone(),
                self.requested.clone(),
                self.requested.clone(),
                "",
            )),
            services: self.services.clone(),
            scratch_dir: None,
            scratch_quota: None,
        }
    }

    fn instance(&self) -> PackInstance {
        self.loaded
            .instantiate(self.context())
            .expect("instantiate")
    }
}

fn noop_args() -> Vec<(String, Vec<String>)> {
    vec![("x".into(), vec!["hello".into()])]
}

/// The native baseline: the same command interface as a trait object.
trait Plugin {
    fn run_command(&mut self, name: &str, args: &[(String, Vec<String>)])
    -> Result<String, String>;
}

struct Echo;

impl Plugin for Echo {
    fn run_command(
        &mut self,
        name: &str,
        args: &[(String, Vec<String>)],
    ) -> Result<String, String> {
        match name {
            "bench noop" => Ok(args
                .first()
                .and_then(|(_, v)| v.first())
                .cloned()
                .unwrap_or_default()),
            other => Err(format!("unknown command {other:?}")),
        }
    }
}

/// The subprocess baseline: a long-lived `cat` answering one line per
/// request over pipes.
struct PipePlugin {
    child: Child,
    stdin: ChildStdin,
    stdout: BufReader<ChildStdout>,
    line: String,
}

impl PipePlugin {
    fn spawn() -> Self {
        let mut child = Command::new("cat")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn cat");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = BufReader::new(child.stdout.take().expect("stdout"));
        let mut p = Self {
            child,
            stdin,
            stdout,
            line: String::new(),
        };
        p.round_trip(b"ready\n");
        p
    }

    fn round_trip(&mut self, request: &[u8]) -> &str {
        self.stdin.write_all(request).expect("write to cat");
        self.line.clear();
        self.stdout
            .read_line(&mut self.line)
            .expect("read from cat");
        &self.line
    }
}

impl Drop for PipePlugin {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `key:   123 kB` fields of a /proc status-like file, in KiB.
fn proc_kib(path: &str, keys: &[&str]) -> Vec<Option<u64>> {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    keys.iter()
        .map(|key| {
            text.lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        })
        .collect()
}

fn show(v: Option<u64>) -> String {
    v.map_or_else(|| "n/a".into(), |v| format!("{v}"))
}

/// Process memory now: VmRSS and RssAnon from /proc/self/status, Pss from
/// smaps_rollup (which shares a page mapped N times N ways).
fn self_memory() -> [Option<u64>; 3] {
    let status = proc_kib("/proc/self/status", &["VmRSS", "RssAnon"]);
    let pss = proc_kib("/proc/self/smaps_rollup", &["Pss"]);
    [status[0], status[1], pss[0]]
}

fn per_instance(before: [Option<u64>; 3], after: [Option<u64>; 3]) -> Vec<String> {
    before
        .iter()
        .zip(after)
        .map(|(b, a)| match (b, a) {
            (Some(b), Some(a)) => format!("{:.1}", (a as f64 - *b as f64) / LIVE as f64),
            _ => "n/a".into(),
        })
        .collect()
}

/// Memory of live instances, and of one minimal child process for
/// comparison. Printed, not timed.
fn memory(fx: &Fixture) {
    // Warm up: fault in the artifact's code and grow the allocator once, so
    // the delta is the instances' own.
    for _ in 0..20 {
        let mut i = fx.instance();
        i.command().run("bench noop", &noop_args()).expect("noop");
    }
    let before = self_memory();
    let mut live: Vec<PackInstance> = (0..LIVE).map(|_| fx.instance()).collect();
    let idle = self_memory();
    for i in &mut live {
        i.command().run("bench noop", &noop_args()).expect("noop");
    }
    let called = self_memory();
    drop(live);

    let mut cat = PipePlugin::spawn();
    let pid = cat.child.id();
    let child = proc_kib(&format!("/proc/{pid}/status"), &["VmRSS", "RssAnon"]);
    let child_pss = proc_kib(&format!("/proc/{pid}/smaps_rollup"), &["Pss"]);
    cat.round_trip(b"bye\n");
    drop(cat);

    let idle_k = per_instance(before, idle);
    let called_k = per_instance(before, called);
    println!("\nmemory/live_instance ({LIVE} live instances, KiB each; VmRSS / RssAnon / Pss):");
    println!(
        "  instantiated, never called: {} / {} / {}",
        idle_k[0], idle_k[1], idle_k[2]
    );
    println!(
        "  after one call each:        {} / {} / {}",
        called_k[0], called_k[1], called_k[2]
    );
    println!(
        "memory/subprocess (one idle `cat` child, KiB; VmRSS / RssAnon / Pss): {} / {} / {}\n",
        show(child[0]),
        show(child[1]),
        show(child_pss[0])
    );
}

fn instantiate(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("instantiate");
    g.bench_function("instance_pre", |b| {
        b.iter(|| drop(black_box(fx.instance())))
    });
    g.finish();

    let mut g = c.benchmark_group("spawn");
    g.bench_function("subprocess", |b| {
        b.iter(|| {
            let status = Command::new("/bin/true")
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .expect("run /bin/true");
            assert!(status.success());
        })
    });
    g.finish();
}

fn call(c: &mut Criterion, fx: &Fixture) {
    let args = noop_args();
    let mut g = c.benchmark_group("call");

    let mut instance = fx.instance();
    g.bench_function("pack_noop", |b| {
        b.iter(|| {
            let out = instance
                .command()
                .run(black_box("bench noop"), black_box(&args))
                .expect("bench noop");
            debug_assert_eq!(out.text, "hello");
            out
        })
    });

    let mut native: Box<dyn Plugin> = black_box(Box::new(Echo));
    g.bench_function("native_dyn_trait", |b| {
        b.iter(|| {
            native
                .run_command(black_box("bench noop"), black_box(&args))
                .expect("echo")
        })
    });

    let mut pipe = PipePlugin::spawn();
    g.bench_function("subprocess_pipe", |b| {
        b.iter(|| {
            let line = pipe.round_trip(black_box(b"bench noop hello\n"));
            debug_assert_eq!(line, "bench noop hello\n");
            line.len()
        })
    });
    g.finish();
    drop(pipe);

    let mut g = c.benchmark_group("import");
    g.throughput(Throughput::Elements(IMPORTS));
    let n = vec![("n".to_string(), vec![IMPORTS.to_string()])];
    g.bench_function("config_get", |b| {
        b.iter(|| {
            let out = instance
                .command()
                .run("bench imports", black_box(&n))
                .expect("bench imports");
            debug_assert_eq!(out.text, IMPORTS.to_string());
            out
        })
    });
    g.finish();
}

fn load(c: &mut Criterion, fx: &Fixture) {
    let mut g = c.benchmark_group("load");
    g.bench_function("precompiled_artifact", |b| {
        b.iter(|| {
            fx.runtime
                .load_artifact(&fx.artifact, fx.label.clone(), fx.manifest.clone())
                .expect("load_artifact")
        })
    });
    g.finish();

    // Compiling takes long enough that ten single runs say all there is:
    // the same group name again, with its own sampling.
    let mut g = c.benchmark_group("load");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1));
    g.bench_function("compile", |b| {
        b.iter(|| {
            fx.runtime
                .load_bytes(&fx.bytes, fx.label.clone(), fx.manifest.clone())
                .expect("load_bytes")
        })
    });
    g.finish();
}

/// Criterion's estimate (ns per iteration) for `id`, if it ran in this
/// process.
fn estimate(dir: &Path, id: &str, since: SystemTime) -> Option<f64> {
    let path = dir.join(id).join("new/estimates.json");
    let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok()?;
    if modified < since {
        return None;
    }
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).ok()?).ok()?;
    json.get("slope")
        .filter(|s| !s.is_null())
        .or_else(|| json.get("mean"))?
        .get("point_estimate")?
        .as_f64()
}

fn human(ns: f64) -> String {
    if ns >= 1e6 {
        format!("{:.2} ms", ns / 1e6)
    } else if ns >= 1e3 {
        format!("{:.2} µs", ns / 1e3)
    } else {
        format!("{ns:.1} ns")
    }
}

/// Prints each figure with its ratio to the same-run baselines.
fn summary(since: SystemTime) {
    let dir = std::env::var_os("CRITERION_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("CARGO_TARGET_DIR").map(|t| PathBuf::from(t).join("criterion"))
        })
        .unwrap_or_else(|| repo().join("target/criterion"));
    let get = |id: &str| estimate(&dir, id, since);
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b > 0.0 => {
            let r = a / b;
            if r >= 1.0 {
                format!("{r:.1}x")
            } else {
                format!("1/{:.1}", 1.0 / r)
            }
        }
        _ => "n/a".into(),
    };
    let t = |v: Option<f64>| v.map_or_else(|| "not run".into(), human);

    let inst = get("instantiate/instance_pre");
    let spawn = get("spawn/subprocess");
    let pack = get("call/pack_noop");
    let native = get("call/native_dyn_trait");
    let pipe = get("call/subprocess_pipe");
    let import = get("import/config_get").map(|v| v / IMPORTS as f64);
    let artifact = get("load/precompiled_artifact");
    let compile = get("load/compile");

    println!("\nsummary (point estimates from this run; ratio = figure / baseline):");
    println!(
        "  instantiate/instance_pre   {:>10}  = {} of spawn/subprocess ({})",
        t(inst),
        ratio(inst, spawn),
        t(spawn)
    );
    println!(
        "  call/pack_noop             {:>10}  = {} native_dyn_trait ({}), {} of subprocess_pipe ({})",
        t(pack),
        ratio(pack, native),
        t(native),
        ratio(pack, pipe),
        t(pipe)
    );
    println!(
        "  import/config_get per call {:>10}  = {} native_dyn_trait, {} of call/pack_noop",
        t(import),
        ratio(import, native),
        ratio(import, pack)
    );
    println!(
        "  load/precompiled_artifact  {:>10}  = {} of load/compile ({})",
        t(artifact),
        ratio(artifact, compile),
        t(compile)
    );
    println!(
        "  aims: instantiate < 50 µs: {}; call < 2 µs: {}",
        inst.map_or("not run", |v| if v < 50e3 { "met" } else { "MISSED" }),
        pack.map_or("not run", |v| if v < 2e3 { "met" } else { "MISSED" }),
    );
}

fn main() {
    let started = Instant::now();
    let since = SystemTime::now();
    let fx = Fixture::new();
    let mut c = Criterion::default()
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3))
        .sample_size(30)
        .configure_from_args();
    // Only on a real run: `cargo test --benches` passes `--test` and checks
    // each benchmark once.
    let bench_mode = std::env::args().any(|a| a == "--bench");
    if bench_mode {
        memory(&fx);
    }
    instantiate(&mut c, &fx);
    call(&mut c, &fx);
    load(&mut c, &fx);
    c.final_summary();
    if bench_mode {
        summary(since);
        eprintln!("total: {:.0?}", started.elapsed());
    }
}
