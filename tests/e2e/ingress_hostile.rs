//! Issue 15 (the ingress part): hostile HTTP clients cannot exhaust
//! `envpack serve` or pick a revision. Half-sent requests and idle
//! connections are closed after the header timeout, slow requests end in a
//! 504, excess connections wait, running out of descriptors backs off
//! quietly and recovers, and the revision header is honoured only from the
//! networks the operator trusts (IPv4-mapped peers included).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Stdio;
use std::time::{Duration, Instant};

#[path = "ingress_common.rs"]
mod common;

use common::{IO_TIMEOUT, backend, deploy, get, get_at, parse, recorder_env, serve, serve_with};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// An environment with deployment `web`: `r1` gets all traffic, `r2` none
/// (so reaching `r2` proves the revision header was honoured).
fn web_env() -> (envpack_e2e::Env, String, String) {
    let env = recorder_env(BIN);
    let (a, b) = (backend("r1"), backend("r2"));
    let r1 = deploy(
        &env,
        "web",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{a}")],
    );
    let r2 = deploy(
        &env,
        "web",
        "1.1.0",
        &[format!("endpoint=http://127.0.0.1:{b}")],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=100%"),
    ]);
    (env, r1, r2)
}

/// Reads until the server closes the connection; panics if it is still
/// open after [`IO_TIMEOUT`]. Returns what was read.
fn read_until_closed(s: &mut TcpStream) -> String {
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut got = Vec::new();
    match s.read_to_end(&mut got) {
        Ok(_) => {}
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Err(e) => panic!("the ingress kept the connection open: {e}"),
    }
    String::from_utf8_lossy(&got).into_owned()
}

#[test]
fn half_sent_requests_and_idle_connections_are_closed_after_the_header_timeout() {
    let (env, _, _) = web_env();
    let (_server, addr) = serve(&env, &["--header-timeout", "2s"]);

    let started = Instant::now();
    let mut half_sent: Vec<TcpStream> = (0..200)
        .map(|_| {
            let mut s = TcpStream::connect(addr).unwrap();
            s.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n")
                .unwrap();
            s
        })
        .collect();
    // A kept-alive connection that goes idle after one request.
    let mut idle = TcpStream::connect(addr).unwrap();
    idle.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\n\r\n")
        .unwrap();

    // A legitimate client is served while they hang.
    let r = get(addr.port(), "/", &[]);
    assert_eq!((r.status, r.body.as_str()), (200, "r1"));

    for s in &mut half_sent {
        read_until_closed(s);
    }
    let answered = read_until_closed(&mut idle);
    assert!(answered.starts_with("HTTP/1.1 200"), "{answered}");
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "closing took {:?} under a 2 s header timeout",
        started.elapsed()
    );
    // And the ingress still serves afterwards.
    assert_eq!(get(addr.port(), "/", &[]).status, 200);
}

#[test]
fn a_request_the_revision_does_not_answer_in_time_is_a_504() {
    let env = recorder_env(BIN);
    // A revision that accepts connections and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = silent.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = silent.incoming().filter_map(Result::ok).collect();
        drop(held);
    });
    let r1 = deploy(
        &env,
        "web",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{port}")],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=100%"),
    ]);
    let (_server, addr) = serve(&env, &["--request-timeout", "1s"]);

    let started = Instant::now();
    let r = get(addr.port(), "/", &[]);
    assert_eq!(r.status, 504, "{}", r.body);
    assert!(r.body.contains("--request-timeout"), "{}", r.body);
    assert!(started.elapsed() < Duration::from_secs(15));
}

#[test]
fn connections_beyond_the_limit_wait_until_one_closes() {
    let (env, _, _) = web_env();
    let (_server, addr) = serve(&env, &["--max-connections", "4"]);

    let mut held: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    // Let the ingress accept the four before the fifth arrives.
    std::thread::sleep(Duration::from_millis(300));
    let mut fifth = TcpStream::connect(addr).unwrap();
    fifth
        .write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    fifth
        .set_read_timeout(Some(Duration::from_millis(700)))
        .unwrap();
    let mut buf = [0u8; 64];
    let early = fifth.read(&mut buf);
    assert!(
        matches!(&early, Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)),
        "the fifth connection was served past --max-connections 4: {early:?}"
    );

    drop(held.pop());
    let answer = read_until_closed(&mut fifth);
    assert_eq!(parse(&answer).body, "r1");
}

/// Lines of the serve process's stderr that mention `needle`.
fn count_lines(path: &std::path::Path, needle: &str) -> usize {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains(needle))
        .count()
}

#[test]
fn running_out_of_descriptors_backs_off_without_a_warning_flood_and_recovers() {
    let (env, _, _) = web_env();
    let log = env.home().join("serve.stderr");
    // A 64-descriptor limit and a connection limit far above it, so accept
    // itself fails with EMFILE.
    let mut cmd = std::process::Command::new("sh");
    cmd.args(["-c", "ulimit -n 64 && exec \"$0\" \"$@\"", BIN])
        .env("ENVPACK_HOME", env.home())
        .env("ENVPACK_NO_PROGRESS", "1")
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .args(["serve", "--env", "dev"]);
    let stderr = std::fs::File::create(&log).unwrap();
    let (_server, addr) = serve_with(
        cmd,
        &["--max-connections", "1000", "--header-timeout", "60s"],
        stderr.into(),
    );

    let held: Vec<TcpStream> = (0..150)
        .map(|_| TcpStream::connect(addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_secs(3));
    let warnings = count_lines(&log, "accept failed");
    assert!(
        warnings >= 1,
        "the descriptors were never exhausted, so this proves nothing:\n{}",
        std::fs::read_to_string(&log).unwrap()
    );
    // At most one a second (3 s here), with room for a slow machine.
    assert!(
        warnings <= 8,
        "{warnings} accept warnings in 3 s: the accept loop is not backing off"
    );
    assert!(
        std::fs::read_to_string(&log)
            .unwrap()
            .contains("time(s) since the last warning"),
        "the warnings do not count what they stand for"
    );

    drop(held);
    let deadline = Instant::now() + IO_TIMEOUT;
    let r = loop {
        let r = get_ok(addr);
        if let Some(r) = r {
            break r;
        }
        assert!(Instant::now() < deadline, "the ingress did not recover");
        std::thread::sleep(Duration::from_millis(200));
    };
    assert_eq!((r.status, r.body.as_str()), (200, "r1"));
    assert!(count_lines(&log, "accepting connections again") >= 1);
}

/// One `GET /`, or `None` if the connection failed on the way.
fn get_ok(addr: SocketAddr) -> Option<common::Resp> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(IO_TIMEOUT)).ok()?;
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.contains("\r\n\r\n").then(|| parse(&raw))
}

#[test]
fn the_revision_header_is_honoured_only_from_trusted_networks() {
    let (env, _, r2) = web_env();
    let pin = [("x-envpack-revision", r2.as_str())];
    let v4 = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let v6 = |port: u16| SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, port));

    // By default no one is trusted, loopback included: behind a local
    // reverse proxy every public client is loopback.
    let (_s, addr) = serve(&env, &[]);
    let r = get(addr.port(), "/", &pin);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(
        r.body.contains("--trust-revision-header-from"),
        "{}",
        r.body
    );
    assert_eq!(
        get(addr.port(), "/", &[]).body,
        "r1",
        "plain requests still route"
    );

    // A trusted network is honoured; other networks are not.
    let (_s, addr) = serve(&env, &["--trust-revision-header-from", "10.0.0.0/8"]);
    assert_eq!(get(addr.port(), "/", &pin).status, 403);
    let (_s, addr) = serve(&env, &["--trust-revision-header-from", "127.0.0.1"]);
    assert_eq!(get(addr.port(), "/", &pin).body, "r2");

    // On a dual-stack listener an IPv4 client is ::ffff:127.0.0.1: it is
    // the IPv4 address for trust, and ::1 is not.
    let dual = [
        "--listen",
        "[::]:0",
        "--trust-revision-header-from",
        "127.0.0.0/8",
    ];
    let (_s, addr) = serve(&env, &dual);
    assert_eq!(get_at(v4(addr.port()), "/", &pin).body, "r2");
    let r = get_at(v6(addr.port()), "/", &pin);
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body.contains("::1"), "{}", r.body);
    // A network written in mapped form covers plain IPv4 peers too.
    let mapped = ["--trust-revision-header-from", "::ffff:127.0.0.1/128"];
    let (_s, addr) = serve(&env, &mapped);
    assert_eq!(get(addr.port(), "/", &pin).body, "r2");
    // Untrusted on a dual-stack listener by default.
    let (_s, addr) = serve(&env, &["--listen", "[::]:0"]);
    assert_eq!(get_at(v4(addr.port()), "/", &pin).status, 403);
}

#[test]
fn bad_serve_limits_and_networks_are_refused_with_a_usable_hint() {
    let env = recorder_env(BIN);
    let e = env.fails(
        2,
        &[
            "serve",
            "--env",
            "dev",
            "--trust-revision-header-from",
            "loopback",
        ],
    );
    assert_eq!(e["kind"], "invalid-input");
    assert!(e["message"].as_str().unwrap().contains("CIDR"), "{e}");
    let e = env.fails(2, &["serve", "--env", "dev", "--header-timeout", "0s"]);
    assert_eq!(e["hint"], "envpack serve --header-timeout 10s");
    let e = env.fails(2, &["serve", "--env", "dev", "--max-connections", "0"]);
    assert_eq!(e["kind"], "invalid-input");
}

#[test]
fn a_client_that_leaves_a_response_unread_is_cut_off_after_the_send_timeout() {
    const SIZE: usize = 64 << 20;
    let env = recorder_env(BIN);
    // A revision answering with 64 MiB, more than the sockets buffer.
    let big = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = big.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in big.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut head = [0u8; 1024];
                let _ = s.read(&mut head);
                let resp = format!("HTTP/1.1 200 OK\r\nContent-Length: {SIZE}\r\n\r\n");
                let chunk = vec![0u8; 64 << 10];
                let _ = s.write_all(resp.as_bytes());
                for _ in 0..SIZE / chunk.len() {
                    if s.write_all(&chunk).is_err() {
                        return;
                    }
                }
            });
        }
    });
    let r1 = deploy(
        &env,
        "web",
        "1.0.0",
        &[format!("endpoint=http://127.0.0.1:{port}")],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=100%"),
    ]);
    let (_server, addr) = serve(&env, &["--send-timeout", "1s"]);

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET / HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n\r\n")
        .unwrap();
    // Read nothing for well past the send timeout.
    std::thread::sleep(Duration::from_secs(4));
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut got = 0usize;
    let mut buf = vec![0u8; 1 << 20];
    loop {
        match s.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::ConnectionReset => break,
            Err(e) => panic!("the ingress kept the stalled connection open: {e}"),
        }
    }
    assert!(
        got < SIZE,
        "the whole {SIZE}-byte response arrived after a 4 s stall under --send-timeout 1s"
    );
}
