//! Issue 5: on the default environment, the built-in local-process deployer
//! runs revisions as real processes (a small HTTP server in the bundle's
//! payload), `envpack serve` splits real traffic between them, failures keep
//! the process output, and `env down` / `env up` stop and restart them.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use envpack_e2e::Env;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Stops every revision when the test ends, even on failure.
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["env", "down", "local"]);
    }
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A bundle whose payload serves `body` with Python's http.server.
fn site(env: &Env, version: &str, body: &str, run: &str) -> PathBuf {
    bundle(env, "site", version, body, run, &[])
}

fn bundle(env: &Env, name: &str, version: &str, body: &str, run: &str, extra: &[&str]) -> PathBuf {
    let dir = env.home().join(format!("{name}-{version}"));
    std::fs::create_dir_all(dir.join("api")).unwrap();
    std::fs::write(dir.join("index.html"), body).unwrap();
    // Served under the /api prefix, which reaches the backend unchanged.
    std::fs::write(dir.join("api/index.html"), name).unwrap();
    let script = dir.join("serve.sh");
    std::fs::write(
        &script,
        "#!/bin/sh\nexec python3 -m http.server \"$1\" --bind 127.0.0.1\n",
    )
    .unwrap();
    let fail = dir.join("fail.sh");
    std::fs::write(
        &fail,
        "#!/bin/sh\necho \"boom: missing DATABASE_URL\" >&2\nexit 3\n",
    )
    .unwrap();
    #[cfg(unix)]
    for f in [&script, &fail] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(f, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = env.home().join(format!("{name}-{version}.tgz"));
    let run = format!("run={run}");
    let mut args = vec![
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        name,
        "--version",
        version,
        "--source",
        "main",
        "--ref",
        "main",
        "--attr",
        &run,
        "--attr",
        "health=/index.html",
        "--out",
        out.to_str().unwrap(),
    ];
    for e in extra {
        args.push("--attr");
        args.push(e);
    }
    env.json(&args);
    out
}

fn get(addr: &str, path: &str) -> Option<(u16, String)> {
    get_with(addr, path, "").map(|(s, _, b)| (s, b))
}

/// GET with extra header lines; returns status, the Set-Cookie value, body.
fn get_with(addr: &str, path: &str, headers: &str) -> Option<(u16, Option<String>, String)> {
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let req =
        format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n{headers}\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    let (head, body) = raw.split_once("\r\n\r\n")?;
    let cookie = head
        .lines()
        .find_map(|l| {
            l.strip_prefix("set-cookie: ")
                .or_else(|| l.strip_prefix("Set-Cookie: "))
        })
        .map(|c| c.split(';').next().unwrap_or("").to_string());
    Some((
        head.split(' ').nth(1)?.parse().ok()?,
        cookie,
        body.to_string(),
    ))
}

fn endpoint(env: &Env, rev: &str) -> String {
    let show = env.json(&["revisions", "show", rev, "--deployment", "site"]);
    show["revision"]["endpoint"]
        .as_str()
        .unwrap()
        .trim_start_matches("http://")
        .to_string()
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn python_available() -> bool {
    std::process::Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

#[test]
fn revisions_are_real_processes_behind_the_ingress() {
    assert!(
        python_available(),
        "these tests serve payloads with python3, which this machine lacks"
    );
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    env.json(&[
        "env",
        "config",
        "local",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    let _down = Down(&env);

    // Two revisions, each a real process from its own payload.
    let r1 = env.json(&[
        "deploy",
        site(&env, "1.0.0", "v1", "./serve.sh {port}")
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(r1["revision"]["state"], "ready", "{r1}");
    let r1 = r1["revision"]["id"].as_str().unwrap().to_string();
    let r2 = env.json(&[
        "deploy",
        site(&env, "2.0.0", "v2", "./serve.sh {port}")
            .to_str()
            .unwrap(),
    ]);
    let r2 = r2["revision"]["id"].as_str().unwrap().to_string();
    assert_eq!(get(&endpoint(&env, &r1), "/index.html").unwrap().1, "v1");
    assert_eq!(get(&endpoint(&env, &r2), "/index.html").unwrap().1, "v2");

    // The payload stays confined: a program outside it is refused.
    let outside = site(&env, "9.0.0", "x", "../../../../../bin/sh -c true");
    let err = env.fails(9, &["deploy", outside.to_str().unwrap()]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("outside the revision's payload")
            || err["message"]
                .as_str()
                .unwrap()
                .contains("not a file in the revision's payload"),
        "{err}"
    );

    // The ingress splits real traffic and follows a shift without a restart.
    env.json(&[
        "traffic",
        "set",
        "site",
        &format!("{r1}=9900bps"),
        &format!("{r2}=100bps"),
    ]);
    let api = bundle(
        &env,
        "api",
        "1.0.0",
        "unused",
        "./serve.sh {port}",
        &["prefix=/api"],
    );
    env.json(&["deploy", api.to_str().unwrap()]);
    let mut child = env
        .cmd()
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("ENVPACK_INGRESS_SEED", "11")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _served = Served(child);
    let ingress = line
        .split("http://")
        .nth(1)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_string();
    // 1,000 requests without cookies land as the split says (chi-squared,
    // one degree of freedom, p = 0.95).
    let (mut v1, mut v2) = (0u32, 0u32);
    for _ in 0..1000 {
        match get(&ingress, "/index.html").unwrap().1.as_str() {
            "v1" => v1 += 1,
            "v2" => v2 += 1,
            other => panic!("unexpected body {other}"),
        }
    }
    let chi2 = (f64::from(v1) - 990.0).powi(2) / 990.0 + (f64::from(v2) - 10.0).powi(2) / 10.0;
    assert!(chi2 < 3.841, "chi-squared {chi2} for v1={v1} v2={v2}");
    // A second deployment on the same ingress is unaffected.
    for _ in 0..20 {
        assert_eq!(get(&ingress, "/api/index.html").unwrap().1, "api");
    }
    // A client keeping its cookie stays on one revision.
    let (_, cookie, first) = get_with(&ingress, "/index.html", "").unwrap();
    let cookie = cookie.expect("a sticky cookie");
    for _ in 0..50 {
        let (_, _, body) =
            get_with(&ingress, "/index.html", &format!("Cookie: {cookie}\r\n")).unwrap();
        assert_eq!(body, first);
    }
    env.json(&["traffic", "set", "site", &format!("{r2}=100%")]);
    let shifted = Instant::now();
    wait_for("the shift to r2", || {
        (0..10).all(|_| get(&ingress, "/index.html").unwrap().1 == "v2")
    });
    assert!(
        shifted.elapsed() < Duration::from_secs(1),
        "took {:?}",
        shifted.elapsed()
    );

    // A revision whose process exits ends failed with its output kept; the
    // other revision keeps serving.
    let broken = site(&env, "3.0.0", "v3", "./fail.sh");
    let err = env
        .cmd()
        .args(["--json", "deploy", broken.to_str().unwrap()])
        .env("ENVPACK_WARM_TIMEOUT_MS", "2000")
        .output()
        .unwrap();
    assert_eq!(
        err.status.code(),
        Some(9),
        "{}",
        String::from_utf8_lossy(&err.stdout)
    );
    let out = String::from_utf8_lossy(&err.stdout);
    assert!(
        out.contains("boom: missing DATABASE_URL"),
        "the process output is kept: {out}"
    );
    let revs = env.json(&["revisions", "list", "--deployment", "site"]);
    let failed = revs[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["version"] == "3.0.0")
        .unwrap()
        .clone();
    assert_eq!(failed["state"], "failed");
    assert!(failed["reason"].as_str().unwrap().contains("boom"));
    assert_eq!(get(&ingress, "/index.html").unwrap().1, "v2");

    // Drain stops a revision's process.
    let e1 = endpoint(&env, &r1);
    env.json(&["revisions", "drain", &r1, "--deployment", "site"]);
    wait_for("r1 to stop", || get(&e1, "/index.html").is_none());

    // env down stops everything; env up brings back what should run.
    let e2 = endpoint(&env, &r2);
    let down = env.json(&["env", "down", "local"]);
    assert!(down["revisions"].to_string().contains(&r2), "{down}");
    wait_for("r2 to stop", || get(&e2, "/index.html").is_none());
    let up = env.json(&["env", "up", "local"]);
    let started = up["revisions"].to_string();
    assert!(
        started.contains(&r2) && !started.contains(&r1),
        "the ready revisions come back, the drained one does not: {up}"
    );
    let e2 = endpoint(&env, &r2);
    assert_eq!(get(&e2, "/index.html").unwrap().1, "v2");
    wait_for("the ingress to reach the restarted r2", || {
        get(&ingress, "/index.html").is_some_and(|(status, body)| status == 200 && body == "v2")
    });
    assert!(Path::new(&env.home().join("envs/local/revisions")).is_dir());
}
