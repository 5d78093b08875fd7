//! One-off runs with `pack call`: secrets and config from the command line,
//! and trap reports a pack author can act on (a wasm backtrace with function
//! names, `-v` showing more, no advice a pack cannot follow).

use std::io::{Read, Write};
use std::net::TcpListener;

use envpack_e2e::hostile::{command_call, hostile_env};

use super::BIN;

/// Answers one request with 200 "ok" and returns its head.
fn record_one(listener: TcpListener) -> std::thread::JoinHandle<String> {
    std::thread::spawn(move || {
        let (mut conn, _) = listener.accept().unwrap();
        let mut head = Vec::new();
        let mut buf = [0u8; 4096];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = conn.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        let _ =
            conn.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\nconnection: close\r\n\r\nok");
        String::from_utf8_lossy(&head)
            .into_owned()
            .to_ascii_lowercase()
    })
}

#[test]
fn pack_call_takes_secrets_from_the_command_line_or_the_environment() {
    let env = hostile_env(BIN);
    for (secret, var, want) in [
        ("API_TOKEN=from-flag", None, "from-flag"),
        ("API_TOKEN", Some("from-env"), "from-env"),
    ] {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://127.0.0.1:{}/",
            listener.local_addr().unwrap().port()
        );
        let server = record_one(listener);
        let call = command_call(
            "hostile http-credential",
            &[("url", &url), ("secret", "API_TOKEN")],
        );
        let mut cmd = env.cmd();
        cmd.args(["--json", "pack", "call", "acme.state.hostile", &call])
            .args(["--secret", secret])
            .args([
                "--grant",
                "credential:API_TOKEN",
                "--grant",
                "http:127.0.0.1",
            ]);
        if let Some(v) = var {
            cmd.env("API_TOKEN", v);
        }
        let out = cmd.output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(stdout.contains("status 200: ok"), "{stdout}");
        let head = server.join().unwrap();
        assert!(
            head.contains(&format!("authorization: bearer {want}")),
            "{head}"
        );
    }

    // A bare name with no such variable is a usage error saying how to fix it.
    let error = env.fails(
        2,
        &[
            "pack",
            "call",
            "acme.state.hostile",
            "list(\"\")",
            "--secret",
            "ENVPACK_E2E_NO_SUCH_VAR",
        ],
    );
    assert!(
        error["hint"]
            .as_str()
            .unwrap()
            .contains("--secret ENVPACK_E2E_NO_SUCH_VAR=VALUE"),
        "{error}"
    );
}

#[test]
fn a_trap_reports_a_wasm_backtrace_with_function_names() {
    let env = hostile_env(BIN);
    let call = command_call("hostile panic", &[]);
    let args = [
        "--json",
        "pack",
        "call",
        "acme.state.hostile",
        call.as_str(),
    ];
    let run = env.run(&args);
    assert_eq!(run.code, 7, "{}\n{}", run.stdout, run.stderr);
    let error = run.envelope()["error"].clone();
    let message = error["message"].as_str().unwrap();
    let hint = error["hint"].as_str().unwrap();
    assert!(message.contains("boom from hostile pack"), "{message}");
    assert!(message.contains("wasm backtrace"), "{message}");
    // The pack's own function, named from its name section and demangled;
    // the panic machinery above it folded away.
    assert!(
        message.contains("<hostile::Hostile as envpack_sdk::slots::StatePack>::command"),
        "{message}"
    );
    assert!(!message.contains("rust_panic"), "{message}");
    // Advice a pack can never follow is gone; what helps is said.
    assert!(!message.contains("RUST_BACKTRACE"), "{message}");
    assert!(!hint.contains("RUST_BACKTRACE"), "{hint}");
    assert!(hint.contains("-v"), "{hint}");

    // -v really adds something: every frame, the panic machinery included.
    let mut verbose = vec!["-v"];
    verbose.extend_from_slice(&args);
    let run = env.run(&verbose);
    assert_eq!(run.code, 7);
    assert!(run.stderr.contains("rust_panic"), "{}", run.stderr);
    assert!(!run.stderr.contains("RUST_BACKTRACE"), "{}", run.stderr);
}
