//! Credentials the host attaches to a pack's outbound requests: they reach
//! the granted server, and nothing the pack, the terminal or the records can
//! show, end to end through the real `envpack` binary.
#![allow(clippy::unwrap_used)]

use std::io::{Read, Write};
use std::net::TcpListener;

use envpack_e2e::hostile::{assert_output, hostile_environment, hostile_run};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

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
        String::from_utf8_lossy(&head).into_owned()
    })
}

/// Every file under `dir` except the secrets store, concatenated.
fn all_text(dir: &std::path::Path, out: &mut String) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let path = e.path();
        if e.file_type().unwrap().is_dir() {
            all_text(&path, out);
        } else if !path.to_string_lossy().contains("secrets") {
            out.push_str(&String::from_utf8_lossy(&std::fs::read(&path).unwrap()));
        }
    }
}

/// The host attaches a credential to a request the pack makes, and the
/// value shows up nowhere the pack, the operator's terminal or the
/// environment's records can show.
#[test]
fn credentials_reach_the_server_but_never_the_pack() {
    const VALUE: &str = "s3cr3t-token-value";
    let env = hostile_environment(BIN);
    env.ok(&["secrets", "put", "API_TOKEN", VALUE, "--env", "dev"]);
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!(
        "http://127.0.0.1:{}/",
        listener.local_addr().unwrap().port()
    );
    let server = record_one(listener);
    let out = env
        .cmd()
        .env("RUST_LOG", "trace")
        .args([
            "--json",
            "--env",
            "dev",
            "hostile",
            "http-credential",
            &url,
            "API_TOKEN",
        ])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(stdout.contains("status 200: ok"), "{stdout}");
    let head = server.join().unwrap();
    assert!(
        head.to_ascii_lowercase()
            .contains(&format!("authorization: bearer {VALUE}")),
        "{head}"
    );
    assert!(
        !stdout.contains(VALUE) && !stderr.contains(VALUE),
        "the value leaked to the terminal"
    );
    let mut records = String::new();
    all_text(env.home(), &mut records);
    assert!(
        !records.contains(VALUE),
        "the value leaked into the home's records"
    );

    // Outside an environment there is no secrets store; without the grant,
    // the request is refused and the refusal recorded.
    let pack_call = |extra: &[&str]| {
        hostile_run(
            &env,
            &[],
            "hostile http-credential",
            &[("url", &url), ("secret", "API_TOKEN")],
            extra,
        )
    };
    let (out, result) = assert_output(&pack_call(&["--grant", "http:127.0.0.1"]), "no grant");
    assert!(out.contains("err"), "{out}");
    assert!(
        result["denials"]
            .to_string()
            .contains("credential:API_TOKEN"),
        "{result}"
    );
    let (out, _) = assert_output(
        &pack_call(&[
            "--grant",
            "http:127.0.0.1",
            "--grant",
            "credential:API_TOKEN",
        ]),
        "no secrets store",
    );
    assert!(out.contains("err") && out.contains("API_TOKEN"), "{out}");
}
