//! End-to-end CLI latency: process start to exit, warm precompiled cache.
//!
//! Compares a pack-dispatched command (`envpack telemetry test`, which
//! reads the lock, verifies the pack's digest, loads its precompiled
//! artifact, instantiates it in the sandbox and calls it, then sends the
//! host events to the telemetry pack) and a state read through the state
//! pack with `envpack --version`, which does none of that: the difference
//! is what envpack adds on top of starting a process.
//!
//! Run: `cargo bench -p envpack-host --bench cli`

use std::process::{Command, Stdio};
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

fn run(home: &std::path::Path, args: &[&str]) {
    let status = Command::new(BIN)
        .args(args)
        .env("ENVPACK_HOME", home)
        .env("ENVPACK_NO_PROGRESS", "1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run envpack");
    assert!(status.success(), "envpack {args:?} failed");
}

fn cli(c: &mut Criterion) {
    let home = tempfile::tempdir().expect("tempdir");
    run(home.path(), &["env", "init"]);
    run(home.path(), &["state", "put", "bench", "value"]);
    // Telemetry events are dropped below `warn` so the measured commands do
    // not also pay for printing them.
    run(
        home.path(),
        &[
            "env",
            "config",
            "local",
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ],
    );

    let mut g = c.benchmark_group("cli");
    g.measurement_time(Duration::from_secs(5)).sample_size(30);
    g.bench_function("version (baseline)", |b| {
        b.iter(|| run(home.path(), &["--version"]))
    });
    g.bench_function("pack command: telemetry test", |b| {
        b.iter(|| run(home.path(), &["telemetry", "test"]))
    });
    g.bench_function("state get (through the state pack)", |b| {
        b.iter(|| run(home.path(), &["state", "get", "bench"]))
    });
    g.finish();
}

criterion_group!(benches, cli);
criterion_main!(benches);
