//! Limits a hostile pack used to step around, and evidence it used to hide
//! or forge, end to end through the real `envpack` binary: deadlines that
//! hold while the pack waits in the host, capped outbound requests, denial
//! and log floods, kv keys and quotas, host events that survive a noisy
//! pack, and terminal control sequences that never reach the terminal.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::time::{Duration, Instant};

use envpack_e2e::hostile::{
    assert_fault, assert_output, hostile_env, hostile_environment, hostile_run,
};
use envpack_e2e::{Env, build_pack, leb128 as leb};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// A 2 s deadline, for runs that would otherwise take much longer.
const SHORT: [(&str, &str); 1] = [("ENVPACK_CALL_TIMEOUT_MS", "2000")];

/// Accepts connections and reads them, answering each after `delay`
/// (`None`: never).
fn slow_server(delay: Option<Duration>) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { continue };
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                let _ = conn.read(&mut buf);
                match delay {
                    Some(d) => {
                        std::thread::sleep(d);
                        let _ = conn.write_all(
                            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok",
                        );
                    }
                    None => std::thread::sleep(Duration::from_secs(120)),
                }
            });
        }
    });
    port
}

#[test]
fn a_clock_wait_in_the_host_is_stopped_at_the_deadline() {
    let env = hostile_env(BIN);
    let started = Instant::now();
    let run = hostile_run(&env, &SHORT, "hostile sleep", &[("ms", "15000")], &[]);
    let took = started.elapsed();
    assert_fault(&run, "a 15 s sleep", &["deadline of 2000 ms"]);
    assert!(took < Duration::from_secs(10), "the sleep ran {took:?}");
    let run = hostile_run(&env, &SHORT, "hostile sleep", &[("ms", "10")], &[]);
    assert_output(&run, "a short sleep");
}

#[test]
fn a_slow_http_response_is_stopped_at_the_deadline() {
    let env = hostile_env(BIN);
    let port = slow_server(None);
    let url = format!("http://127.0.0.1:{port}/");
    let grant = format!("http:127.0.0.1:{port}");
    let started = Instant::now();
    let run = hostile_run(
        &env,
        &SHORT,
        "hostile http",
        &[("url", &url)],
        &["--grant", &grant],
    );
    let took = started.elapsed();
    // Either the pack sees the request fail at the deadline, or it is
    // stopped there; it is never held for the transport's 60 s.
    assert!(
        took < Duration::from_secs(10),
        "the request was held {took:?}"
    );
    if run.code == 0 {
        let (out, _) = assert_output(&run, "a slow response");
        assert!(out.contains("err"), "{out}");
    } else {
        assert_fault(&run, "a slow response", &["deadline of 2000 ms"]);
    }
}

#[test]
fn outbound_requests_at_once_are_capped() {
    let env = hostile_env(BIN);
    let port = slow_server(Some(Duration::from_millis(300)));
    let url = format!("http://127.0.0.1:{port}/");
    let grant = format!("http:127.0.0.1:{port}");
    let run = hostile_run(
        &env,
        &[],
        "hostile http-flood",
        &[("url", &url), ("count", "100")],
        &["--grant", &grant],
    );
    let (out, _) = assert_output(&run, "100 requests at once");
    assert!(out.contains("ok 32; limit 68;"), "{out}");
}

#[test]
fn a_denial_flood_is_counted_not_logged_line_by_line() {
    let env = hostile_env(BIN);
    let run = hostile_run(&env, &[], "hostile deny-flood", &[("count", "5000")], &[]);
    let (out, result) = assert_output(&run, "5000 denials");
    assert!(out.contains("denied 5000"), "{out}");
    let lines = run.stderr.lines().filter(|l| l.contains("denied:")).count();
    assert!(lines <= 10, "{lines} denial lines on stderr");
    assert!(
        run.stderr.contains("4990 more denied capability uses"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.len() < 64 << 10,
        "{} bytes of stderr",
        run.stderr.len()
    );
    assert!(
        !result["denials"].as_array().unwrap().is_empty(),
        "{result}"
    );
}

#[test]
fn log_volume_per_call_is_capped() {
    let env = hostile_env(BIN);
    let run = hostile_run(
        &env,
        &[],
        "hostile log-flood",
        &[("lines", "1000"), ("stderr-bytes", "20000000")],
        &["--grant", "log"],
    );
    assert_output(&run, "a log flood");
    assert!(
        run.stderr.len() < 600 << 10,
        "{} bytes reached stderr",
        run.stderr.len()
    );
    assert!(
        run.stderr.contains("dropped"),
        "{}",
        &run.stderr[run.stderr.len() - 300..]
    );
}

#[test]
fn kv_keys_up_to_the_limit_work_and_the_quota_holds() {
    let env = hostile_env(BIN);
    let kv = |vars: &[(&str, &str)], key_len: &str, count: &str, size: &str| {
        let run = hostile_run(
            &env,
            vars,
            "hostile kv-put",
            &[("key-len", key_len), ("count", count), ("size", size)],
            &["--grant", "kv"],
        );
        assert_output(&run, "kv-put").0
    };
    assert!(kv(&[], "200", "3", "10").contains("stored all"));
    assert!(kv(&[], "512", "1", "10").contains("stored all"));
    let over = kv(&[], "513", "1", "10");
    assert!(
        over.contains("err invalid-input") && over.contains("1 to 512"),
        "{over}"
    );
    // 1 MiB values against an 8 MiB quota: the ninth does not fit (the
    // keys above hold a few bytes), with a typed error naming the quota.
    let full = kv(&[("ENVPACK_KV_QUOTA_MB", "8")], "10", "300", "1048576");
    assert!(
        full.contains("stored 7; err unavailable") && full.contains("kv quota exceeded"),
        "{full}"
    );
    let home = env.home().to_string_lossy().into_owned();
    assert!(!full.contains(&home), "the error shows a host path: {full}");
}

#[test]
fn host_events_survive_a_pack_that_floods_the_log() {
    let env = hostile_environment(BIN);
    let run = env.run(&[
        "--env",
        "dev",
        "hostile",
        "flood-then-deny",
        "http://192.0.2.1/",
    ]);
    assert_eq!(
        run.code,
        0,
        "{}\n{}",
        run.stdout,
        &run.stderr[..run.stderr.len().min(2000)]
    );
    assert!(
        run.stdout.contains("secret: true; http: true"),
        "{}",
        run.stdout
    );
    let events: Vec<&str> = run
        .stderr
        .lines()
        .filter(|l| l.starts_with("{\"ts\""))
        .collect();
    let named = |name: &str| {
        events
            .iter()
            .filter(|l| l.contains(&format!("\"name\":\"{name}\"")))
            .count()
    };
    assert_eq!(named("capability.denied"), 2, "{events:#?}");
    assert_eq!(named("command.run"), 1, "{events:#?}");
    assert!(
        named("pack.log") <= 100,
        "{} pack.log events",
        named("pack.log")
    );
    assert_eq!(named("events.dropped"), 1, "the flood is summarised");
    assert!(!run.stderr.contains("Broken pipe"), "telemetry lost events");
    assert_environment_intact(&env);
}

#[test]
fn control_sequences_from_a_pack_never_reach_the_terminal() {
    let env = hostile_env(BIN);
    let call = |what: &str, json: bool| {
        let mut cmd = env.cmd();
        if json {
            cmd.arg("--json");
        }
        let out = cmd
            .args(["pack", "call", "acme.state.hostile", "--grant", "log"])
            .arg(envpack_e2e::hostile::command_call(
                "hostile ansi",
                &[("where", what)],
            ))
            .output()
            .unwrap();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    for what in ["output", "error", "log"] {
        let (stdout, stderr) = call(what, false);
        for (stream, text) in [("stdout", &stdout), ("stderr", &stderr)] {
            assert!(
                !text.contains('\x1b') && !text.contains('\r') && !text.contains('\x07'),
                "{what}: raw control characters on {stream}: {text:?}"
            );
            assert!(
                !text.lines().any(|l| l.starts_with("error: envpack")),
                "{what}: a forged host line on {stream}: {text:?}"
            );
        }
    }
    // --json keeps the pack's text, escaped by JSON itself.
    let (stdout, _) = call("output", true);
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap();
    assert!(
        v["result"]["calls"][0]["result"]
            .as_str()
            .unwrap()
            .contains("\\u{1b}")
            || stdout.contains("\\u001b"),
        "{stdout}"
    );
}

#[test]
fn an_ordinary_pack_still_works_after_the_floods() {
    let env = hostile_env(BIN);
    let memory = build_pack(BIN, "acme-state-memory");
    env.json(&["pack", "install", memory.to_str().unwrap()]);
    let out = env.json(&[
        "pack",
        "call",
        "acme.state.memory",
        r#"list("")"#,
        "--grant-requested",
    ]);
    assert_eq!(out["calls"][0]["result"], "ok([])", "{out}");
}

/// A core module of `count` empty functions, encoded by hand.
fn module_of_functions(count: usize) -> Vec<u8> {
    let section = |id: u8, body: Vec<u8>, out: &mut Vec<u8>| {
        out.push(id);
        leb(body.len(), out);
        out.extend(body);
    };
    let mut out = b"\0asm\x01\0\0\0".to_vec();
    section(1, vec![1, 0x60, 0, 0], &mut out);
    let mut funcs = Vec::new();
    leb(count, &mut funcs);
    funcs.extend(std::iter::repeat_n(0u8, count));
    section(3, funcs, &mut out);
    let mut code = Vec::new();
    leb(count, &mut code);
    for _ in 0..count {
        code.extend([2, 0, 0x0b]);
    }
    section(10, code, &mut out);
    out
}

#[test]
fn a_pack_too_big_to_compile_is_refused_before_compiling() {
    let env = Env::new(BIN);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("many.wasm");
    std::fs::write(&path, module_of_functions(40_000)).unwrap();
    let started = Instant::now();
    let err = env.fails(2, &["pack", "install", path.to_str().unwrap()]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("40000 functions; the limit is 25000"),
        "{err}"
    );
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "it was compiled"
    );
    assert_eq!(
        env.json(&["pack", "list"]).as_array().map(Vec::len),
        Some(0)
    );
}

#[test]
fn the_scratch_quota_stops_a_pack_filling_the_disk() {
    let env = hostile_env(BIN);
    let quota = [("ENVPACK_SCRATCH_QUOTA_MB", "16")];
    let run = hostile_run(&env, &quota, "hostile scratch-fill", &[("mib", "300")], &[]);
    let (out, _) = assert_output(&run, "300 MiB into /scratch");
    assert!(out.contains("wrote 16 MiB; err"), "{out}");
    let scratch_bytes: u64 = walk(env.home());
    assert!(scratch_bytes < 20 << 20, "{scratch_bytes} bytes on disk");
    // Within the quota, writing works.
    let run = hostile_run(&env, &quota, "hostile scratch-fill", &[("mib", "2")], &[]);
    assert!(assert_output(&run, "2 MiB").0.contains("wrote 2 MiB"));
}

/// Bytes of the files under `dir`.
fn walk(dir: &std::path::Path) -> u64 {
    std::fs::read_dir(dir)
        .unwrap()
        .filter_map(Result::ok)
        .map(|e| {
            let t = e.file_type().unwrap();
            if t.is_dir() {
                walk(&e.path())
            } else {
                e.metadata().unwrap().len()
            }
        })
        .sum()
}

/// Packs whose kv lives in the environment's state pack have the same
/// quota, counted across commands.
#[test]
fn the_kv_quota_holds_for_kv_kept_in_the_state_pack() {
    let deployer = build_pack(BIN, "scripted-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.scripted@0.1.0",
        "--grant-requested",
    ]);
    let fill = |count: &str| {
        let mut cmd = env.cmd();
        cmd.env("ENVPACK_KV_QUOTA_MB", "2").args([
            "--json", "--env", "dev", "scripted", "kv-fill", count, "524288",
        ]);
        let out = cmd.output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        )
    };
    let (code, out) = fill("3");
    assert_eq!(code, Some(0), "{out}");
    // Overwriting the same three keys fits; a fifth half-MiB does not.
    let (code, out) = fill("3");
    assert_eq!(code, Some(0), "{out}");
    let (code, out) = fill("5");
    assert_ne!(code, Some(0), "{out}");
    assert!(out.contains("kv quota exceeded"), "{out}");
}

#[test]
fn a_compile_over_the_compile_timeout_is_refused_and_nothing_is_installed() {
    let file = build_pack(BIN, "hostile");
    let env = Env::new(BIN);
    let out = env
        .cmd()
        .env("ENVPACK_COMPILE_TIMEOUT_MS", "1")
        .args(["--json", "pack", "install", file.to_str().unwrap()])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(2), "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("compile timeout of 1 ms"),
        "{v}"
    );
    assert!(
        v["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("ENVPACK_COMPILE_TIMEOUT_MS"),
        "{v}"
    );
    assert_eq!(
        env.json(&["pack", "list"]).as_array().map(Vec::len),
        Some(0)
    );
    // Without the tiny timeout the same file installs.
    env.json(&["pack", "install", file.to_str().unwrap()]);
}

/// An environment's own quotas apply to every pack bound in it, and reset
/// back to the host's.
#[test]
fn quotas_are_configurable_per_environment() {
    let env = hostile_environment(BIN);
    let shown = env.json(&["env", "limits", "dev"]);
    assert_eq!(shown["effective"]["scratch_quota_mb"], 256, "{shown}");
    let set = env.json(&[
        "env",
        "limits",
        "dev",
        "--scratch-quota-mb",
        "8",
        "--kv-quota-mb",
        "1",
    ]);
    assert_eq!(set["set"]["scratch_quota_mb"], 8, "{set}");
    let out = env.ok(&["--env", "dev", "hostile", "scratch-fill", "300"]);
    assert!(out.contains("wrote 8 MiB; err"), "{out}");
    let out = env.ok(&["--env", "dev", "hostile", "kv-put", "10", "3", "524288"]);
    assert!(out.contains("stored 2; err unavailable"), "{out}");
    let human = env.ok(&["env", "limits", "dev"]);
    assert!(human.contains("this environment"), "{human}");
    env.fails(2, &["env", "limits", "dev", "--kv-quota-mb", "0"]);
    let reset = env.json(&["env", "limits", "dev", "--reset"]);
    assert_eq!(reset["set"], serde_json::json!({}), "{reset}");
    let out = env.ok(&["--env", "dev", "hostile", "scratch-fill", "12"]);
    assert!(out.contains("wrote 12 MiB"), "{out}");
    assert_environment_intact(&env);
}

/// `env doctor` finds the environment healthy: records, bindings and
/// packs intact after what the pack did.
fn assert_environment_intact(env: &Env) {
    let report = env.json(&["env", "doctor", "dev"]);
    assert_eq!(report["healthy"], true, "{report}");
}
