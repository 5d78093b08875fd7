//! What pack authors meet first, end to end through the real `envpack`
//! binary: outbound HTTP with a body (Content-Length, and the refusals a
//! pack must see as such), one-off `pack call` runs with secrets and config,
//! trap reports with a wasm backtrace, the `pack new` scaffold and the
//! `pack dev` loop, native unit tests with the SDK's fake host, the SDK
//! packaged and used outside this repository, and command-only packs.
#![allow(clippy::unwrap_used)]

use std::path::Path;
use std::process::Command;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Replaces `from` with `to` in `file`, which must contain it.
fn edit(file: &Path, from: &str, to: &str) {
    let text = std::fs::read_to_string(file).unwrap();
    assert!(text.contains(from), "{from:?} not in {}", file.display());
    std::fs::write(file, text.replace(from, to)).unwrap();
}

/// `envpack pack build DIR --target-dir TARGET`, asserted to succeed;
/// returns its result (`path`, `manifest`, ...).
fn pack_build(env: &envpack_e2e::Env, dir: &Path, target: &Path) -> serde_json::Value {
    env.json(&[
        "pack",
        "build",
        dir.to_str().unwrap(),
        "--target-dir",
        target.to_str().unwrap(),
    ])
}

/// Runs plain `cargo test` in the pack crate `dir` (natively: no
/// `--target`), with build products in `target`; returns its output, the
/// test names included. Fails the test when cargo fails.
fn cargo_test(dir: &Path, target: &Path) -> String {
    let (ok, out) = try_cargo_test(dir, target);
    assert!(ok, "cargo test in {} failed:\n{out}", dir.display());
    out
}

/// `cargo test` in `dir`: whether it passed, and its stdout and stderr.
fn try_cargo_test(dir: &Path, target: &Path) -> (bool, String) {
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["test", "--offline", "--target-dir"])
        .arg(target)
        .current_dir(dir)
        .env("CARGO_TERM_COLOR", "never")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("RUSTFLAGS")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[path = "authors/http.rs"]
mod http;

#[path = "authors/call.rs"]
mod call;

#[path = "authors/new.rs"]
mod new;

#[path = "authors/dev.rs"]
mod dev;

#[path = "authors/native.rs"]
mod native;

#[path = "authors/outside.rs"]
mod outside;

#[path = "authors/command_packs.rs"]
mod command_packs;
