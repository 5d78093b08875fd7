//! Driving `tests/packs/hostile`, the pack that misbehaves on purpose.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::{Env, Run, build_pack};

/// The hostile pack's descriptor.
pub const HOSTILE: &str = "acme.state.hostile@0.1.0";

/// Exit code of `Kind::PackFault`.
pub const PACK_FAULT: i32 = 7;

/// Generous: a hostile run must be stopped by its limit, not by this.
pub const MAX_RUN: Duration = Duration::from_secs(20);

/// A fresh home with the hostile pack installed.
pub fn hostile_env(bin: &str) -> Env {
    let file = build_pack(bin, "hostile");
    let env = Env::new(bin);
    env.json(&["pack", "install", file.to_str().unwrap()]);
    env
}

/// `command.run("<name>", [{name: "<arg>", values: ["<value>"]}, ...])`.
pub fn command_call(name: &str, args: &[(&str, &str)]) -> String {
    let args: Vec<String> = args
        .iter()
        .map(|(n, v)| format!("{{name: {n:?}, values: [{v:?}]}}"))
        .collect();
    format!("command.run({name:?}, [{}])", args.join(", "))
}

/// Runs one hostile command with `--json`, extra environment variables and
/// extra arguments; checks it finished well within [`MAX_RUN`].
pub fn hostile_run(
    env: &Env,
    vars: &[(&str, &str)],
    name: &str,
    args: &[(&str, &str)],
    extra: &[&str],
) -> Run {
    let mut cmd = env.cmd();
    cmd.args([
        "--json",
        "pack",
        "call",
        "acme.state.hostile",
        &command_call(name, args),
    ])
    .args(extra);
    for (k, v) in vars {
        cmd.env(k, v);
    }
    let started = Instant::now();
    let out = cmd.output().unwrap();
    let took = started.elapsed();
    assert!(
        took < MAX_RUN,
        "`{name}` took {took:?}; the sandbox should have stopped it long before"
    );
    // The host never panics because a pack misbehaves (a Rust panic exits
    // 101 and prints no envelope).
    assert_ne!(
        out.status.code(),
        Some(101),
        "`{name}` panicked the host:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// Asserts `run` is a pack fault whose message names the hostile pack and
/// contains every one of `needles`; returns the error.
pub fn assert_fault(run: &Run, what: &str, needles: &[&str]) -> Value {
    let v = run.envelope();
    assert_eq!(
        run.code, PACK_FAULT,
        "{what}: expected exit {PACK_FAULT}, got {}: {v}\nstderr:\n{}",
        run.code, run.stderr
    );
    assert_eq!(v["ok"], false, "{what}: {v}");
    let error = &v["error"];
    assert_eq!(error["kind"], "pack-fault", "{what}: {v}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains(&format!("pack {HOSTILE}")),
        "{what}: the message does not name the pack: {message}"
    );
    for needle in needles {
        assert!(
            message.contains(needle),
            "{what}: the message lacks {needle:?}: {message}"
        );
    }
    error.clone()
}

/// The text output of a successful hostile command (the WAVE rendering of
/// its `result<output, error>`), with the envelope's `result`.
pub fn assert_output(run: &Run, what: &str) -> (String, Value) {
    let v = run.envelope();
    assert_eq!(run.code, 0, "{what} failed: {v}\nstderr:\n{}", run.stderr);
    assert_eq!(v["ok"], true, "{what}: {v}");
    let result = v["result"].clone();
    let out = result["calls"][0]["result"].as_str().unwrap().to_string();
    assert!(
        out.starts_with("ok({text: "),
        "{what}: the command itself failed: {out}"
    );
    (out, result)
}

/// A home with environment `dev` whose state pack is the hostile one, so
/// its commands run through a session that sends host events to the
/// stdout telemetry pack.
pub fn hostile_environment(bin: &str) -> Env {
    let env = hostile_env(bin);
    env.json(&["env", "init", "dev"]);
    let mut bind = vec!["env", "bind", "dev", "state", "acme.state.hostile@0.1.0"];
    for g in [
        "log",
        "kv",
        "secret:HOSTILE_TOKEN",
        "credential:API_TOKEN",
        "http:127.0.0.1",
    ] {
        bind.extend(["--grant", g]);
    }
    env.json(&bind);
    env
}
