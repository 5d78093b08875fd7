//! The sandbox contains hostile packs, and the store catches tampering, end
//! to end through the real `envpack` binary.
//!
//! `tests/packs/hostile` misbehaves on purpose, one way per command: it
//! loops, allocates, recurses, panics, returns too much, and reaches for the
//! network, the host's files and the host's environment. Each run must end
//! in a pack fault (exit 7) naming the pack and the limit, or in a refused
//! capability, and leave the host healthy.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use envpack_e2e::hostile::{assert_fault, assert_output, hostile_env, hostile_run};
use envpack_e2e::{Env, build_pack};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// The host still runs an ordinary pack in the same home.
fn assert_host_healthy(env: &Env) {
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

#[test]
fn an_infinite_loop_is_stopped_at_the_deadline() {
    let env = hostile_env(BIN);
    let run = hostile_run(
        &env,
        &[("ENVPACK_CALL_TIMEOUT_MS", "500")],
        "hostile loop",
        &[],
        &[],
    );
    let error = assert_fault(&run, "loop", &["deadline", "500 ms"]);
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("ENVPACK_CALL_TIMEOUT_MS"),
        "{error}"
    );
    assert_host_healthy(&env);
}

#[test]
fn a_memory_bomb_is_stopped_at_the_memory_limit() {
    let env = hostile_env(BIN);
    let run = hostile_run(
        &env,
        &[("ENVPACK_MEMORY_MB", "32")],
        "hostile alloc",
        &[],
        &[],
    );
    let error = assert_fault(&run, "alloc", &["memory limit", "32 MiB"]);
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("ENVPACK_MEMORY_MB"),
        "{error}"
    );
    assert_host_healthy(&env);
}

#[test]
fn runaway_recursion_is_stopped_at_the_stack_limit() {
    let env = hostile_env(BIN);
    let run = hostile_run(&env, &[], "hostile recurse", &[], &[]);
    assert_fault(&run, "recurse", &["stack limit"]);
    assert_host_healthy(&env);
}

#[test]
fn a_panic_is_a_pack_fault_carrying_the_panic_message() {
    let env = hostile_env(BIN);
    let run = hostile_run(&env, &[], "hostile panic", &[], &[]);
    assert_fault(&run, "panic", &["boom from hostile pack"]);
    assert_host_healthy(&env);
}

#[test]
fn output_over_the_limit_is_refused_and_small_output_passes() {
    let env = hostile_env(BIN);
    let run = hostile_run(&env, &[], "hostile output", &[("bytes", "10000000")], &[]);
    assert_fault(
        &run,
        "huge output",
        &["output limit", &(4 << 20).to_string()],
    );

    let run = hostile_run(&env, &[], "hostile output", &[("bytes", "100")], &[]);
    let (out, _) = assert_output(&run, "small output");
    assert_eq!(out, format!("ok({{text: \"{}\"}})", "x".repeat(100)));
    assert_host_healthy(&env);
}

/// Answers one HTTP request on `listener` with 200 and body "hello".
fn serve_hello(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut request = Vec::new();
        let mut buf = [0u8; 4096];
        while !request.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            request.extend_from_slice(&buf[..n]);
        }
        conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 5\r\nconnection: close\r\n\r\nhello")
            .unwrap();
        conn.flush().unwrap();
        String::from_utf8_lossy(&request).into_owned()
    })
}

#[test]
fn http_reaches_only_granted_hosts() {
    let env = hostile_env(BIN);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("http://127.0.0.1:{port}/probe");
    let cap = format!("http:127.0.0.1:{port}");

    // Requested by the manifest but not granted: refused before any
    // connection is made.
    let run = hostile_run(&env, &[], "hostile http", &[("url", &url)], &[]);
    let (out, result) = assert_output(&run, "http without a grant");
    assert!(out.contains("denied") && out.contains(&cap), "{out}");
    let denials = result["denials"].as_array().unwrap();
    assert_eq!(denials.len(), 1, "{result}");
    let denial = denials[0].as_str().unwrap();
    assert!(
        denial.contains(&cap) && denial.contains(&format!("--grant {cap}")),
        "{denial}"
    );
    listener.set_nonblocking(true).unwrap();
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("the denied request reached the listener: {other:?}"),
    }

    // Granted: a real request through wasi:http.
    listener.set_nonblocking(false).unwrap();
    let server = serve_hello(listener);
    let run = hostile_run(
        &env,
        &[],
        "hostile http",
        &[("url", &url)],
        &["--grant", &cap],
    );
    let (out, result) = assert_output(&run, "http with a grant");
    assert!(out.contains("status 200: hello"), "{out}");
    assert_eq!(result["denials"], serde_json::json!([]), "{result}");
    let request = server.join().unwrap();
    assert!(request.starts_with("GET /probe HTTP/1.1\r\n"), "{request}");

    // A grant for one port does not open another.
    let other = format!(
        "http://127.0.0.1:{}/",
        if port == 65535 { 1 } else { port + 1 }
    );
    let run = hostile_run(
        &env,
        &[],
        "hostile http",
        &[("url", &other)],
        &["--grant", &cap],
    );
    let (out, _) = assert_output(&run, "http to another port");
    assert!(out.contains("denied"), "{out}");
    assert_host_healthy(&env);
}

#[test]
fn host_files_and_environment_stay_out_of_reach() {
    let env = hostile_env(BIN);
    let secret = [("ENVPACK_TEST_SECRET", "leak")];

    let run = hostile_run(
        &env,
        &secret,
        "hostile read-file",
        &[("path", "/etc/passwd")],
        &[],
    );
    let (out, _) = assert_output(&run, "read /etc/passwd");
    assert!(out.contains("err: ") && !out.contains("root:"), "{out}");

    // Relative paths and escapes from the scratch directory fail too.
    for path in [
        "../../../../etc/passwd",
        "/scratch/../../etc/passwd",
        "etc/passwd",
    ] {
        let run = hostile_run(&env, &secret, "hostile read-file", &[("path", path)], &[]);
        let (out, _) = assert_output(&run, path);
        assert!(
            out.contains("err: ") && !out.contains("root:"),
            "{path}: {out}"
        );
    }

    let run = hostile_run(
        &env,
        &secret,
        "hostile env",
        &[("var", "ENVPACK_TEST_SECRET")],
        &[],
    );
    let (out, _) = assert_output(&run, "env");
    assert!(out.contains("var: Err(NotPresent); vars: 0"), "{out}");
    assert!(!out.contains("leak"), "{out}");
    assert!(
        !run.stdout.contains("leak") && !run.stderr.contains("leak"),
        "{run:?}"
    );

    // The pack's own scratch directory works, and persists across calls.
    let run = hostile_run(
        &env,
        &[],
        "hostile write-file",
        &[("path", "/scratch/probe"), ("text", "scratch works")],
        &[],
    );
    let (out, _) = assert_output(&run, "write /scratch/probe");
    assert!(out.contains("ok: ()"), "{out}");
    let run = hostile_run(
        &env,
        &[],
        "hostile read-file",
        &[("path", "/scratch/probe")],
        &[],
    );
    let (out, _) = assert_output(&run, "read /scratch/probe");
    assert!(out.contains("scratch works"), "{out}");
    assert_host_healthy(&env);
}

/// Installs acme-state-memory; returns its file and the path of its blob.
fn install_memory(env: &Env) -> (PathBuf, PathBuf) {
    let file = build_pack(BIN, "acme-state-memory");
    let installed = env.json(&["pack", "install", file.to_str().unwrap()]);
    let digest = installed[0]["digest"].as_str().unwrap();
    let hex = digest.strip_prefix("sha256:").unwrap();
    let blob = env.home().join("store/blobs/sha256").join(hex);
    assert!(blob.is_file(), "no blob at {}", blob.display());
    (file, blob)
}

fn flip_byte(path: &Path, at: usize) {
    let mut perms = std::fs::metadata(path).unwrap().permissions();
    #[allow(clippy::permissions_set_readonly_false)]
    perms.set_readonly(false);
    std::fs::set_permissions(path, perms).unwrap();
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_tampered_blob_fails_verify_and_is_refused_at_load() {
    let env = Env::new(BIN);
    let (_, blob) = install_memory(&env);
    let len = std::fs::metadata(&blob).unwrap().len() as usize;
    flip_byte(&blob, len / 2);

    let error = env.fails(6, &["pack", "verify"]);
    assert_eq!(error["kind"], "integrity", "{error}");
    let hint = error["hint"].as_str().unwrap();
    assert!(
        hint.contains("envpack pack remove acme.state.memory@1.2.0")
            && hint.contains("envpack pack install"),
        "{error}"
    );

    let error = env.fails(
        6,
        &[
            "pack",
            "call",
            "acme.state.memory",
            r#"list("")"#,
            "--grant-requested",
        ],
    );
    assert_eq!(error["kind"], "integrity", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("tampered") && message.contains("acme.state.memory@1.2.0"),
        "{message}"
    );
}

#[test]
fn broken_pack_files_are_refused_and_versions_are_immutable() {
    let env = Env::new(BIN);
    let file = build_pack(BIN, "acme-state-memory");
    let bytes = std::fs::read(&file).unwrap();
    let dir = tempfile::tempdir().unwrap();

    // Truncated by one byte.
    let truncated = dir.path().join("truncated.wasm");
    std::fs::write(&truncated, &bytes[..bytes.len() - 1]).unwrap();
    let error = env.fails(2, &["pack", "install", truncated.to_str().unwrap()]);
    assert_eq!(error["kind"], "invalid-input", "{error}");
    let message = error["message"].as_str().unwrap();
    assert!(
        message.contains("truncated.wasm") && message.contains("unexpected end-of-file"),
        "{message}"
    );
    assert_eq!(env.json(&["pack", "list"]), serde_json::json!([]));

    // Code corrupted, manifest intact: it claims acme.state.memory@1.2.0 but
    // does not compile. Nothing may stay installed.
    let mut bad = bytes.clone();
    for b in &mut bad[bytes.len() / 8..bytes.len() / 8 + 64] {
        *b = 0xff;
    }
    let corrupt = dir.path().join("corrupt.wasm");
    std::fs::write(&corrupt, &bad).unwrap();
    let error = env.fails(2, &["pack", "install", corrupt.to_str().unwrap()]);
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("cannot compile"),
        "{error}"
    );
    assert_eq!(
        env.json(&["pack", "list"]),
        serde_json::json!([]),
        "a pack that does not compile stayed installed"
    );

    // The real file installs; a different file claiming the same
    // descriptor@version is then a conflict.
    let installed = env.json(&["pack", "install", file.to_str().unwrap()]);
    assert_eq!(installed[0]["outcome"], "installed");
    let error = env.fails(5, &["pack", "install", corrupt.to_str().unwrap()]);
    assert_eq!(error["kind"], "conflict", "{error}");
    assert!(
        error["message"].as_str().unwrap().contains("immutable"),
        "{error}"
    );
    env.json(&["pack", "verify"]);
}

#[test]
fn concurrent_installs_of_one_file_leave_one_good_blob() {
    let env = Env::new(BIN);
    let file = build_pack(BIN, "acme-state-memory");
    let children: Vec<_> = (0..8)
        .map(|_| {
            env.cmd()
                .args(["--json", "pack", "install", file.to_str().unwrap()])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut outcomes = Vec::new();
    for child in children {
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "a concurrent install failed: {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let v: Value = serde_json::from_str(stdout.trim()).unwrap();
        outcomes.push(v["result"][0]["outcome"].as_str().unwrap().to_string());
    }
    assert_eq!(
        outcomes.iter().filter(|o| *o == "installed").count(),
        1,
        "{outcomes:?}"
    );

    let blobs: Vec<_> = std::fs::read_dir(env.home().join("store/blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(blobs.len(), 1, "{blobs:?}");
    let verified = env.json(&["pack", "verify"]);
    assert_eq!(verified["verified"], 1, "{verified}");
    assert_eq!(verified["findings"], serde_json::json!([]), "{verified}");
    let out = env.json(&[
        "pack",
        "call",
        "acme.state.memory",
        r#"list("")"#,
        "--grant-requested",
    ]);
    assert_eq!(out["calls"][0]["result"], "ok([])", "{out}");
}
