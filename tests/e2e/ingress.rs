//! Issue 5 (the ingress part): `envpack serve` routes real HTTP traffic by
//! host/prefix, then by the split, sticky cookies or the loopback header,
//! and picks up traffic changes without a restart. Revisions here are small
//! HTTP servers the test runs, registered through the recorder deployer.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use envpack_e2e::{Env, build_pack};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// A backend answering every request with its name.
fn backend(name: &'static str) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            std::thread::spawn(move || {
                let mut r = BufReader::new(s.try_clone().unwrap());
                loop {
                    // Read one request head; answer; keep the connection.
                    let mut line = String::new();
                    let mut got = false;
                    while r.read_line(&mut line).unwrap_or(0) > 0 {
                        got = true;
                        if line == "\r\n" {
                            break;
                        }
                        line.clear();
                    }
                    if !got {
                        return;
                    }
                    let resp = format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\n\r\n{name}",
                        name.len()
                    );
                    if s.write_all(resp.as_bytes()).is_err() {
                        return;
                    }
                }
            });
        }
    });
    port
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

fn get(port: u16, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(("127.0.0.1", port)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let mut lines = head.lines();
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    Resp {
        status,
        headers,
        body: body.to_string(),
    }
}

struct Served(Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn serve(env: &Env) -> (Served, u16) {
    let mut child = env
        .cmd()
        .args(["serve", "--env", "dev", "--listen", "127.0.0.1:0"])
        .env("ENVPACK_INGRESS_SEED", "7")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let port = line
        .split(':')
        .nth(2)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    (Served(child), port)
}

fn deploy(env: &Env, name: &str, version: &str, attrs: &[String]) -> String {
    let dir = env.home().join(format!("p-{name}-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x"), version).unwrap();
    let out: PathBuf = env.home().join(format!("{name}-{version}.tgz"));
    let mut args = vec![
        "bundle".to_string(),
        "build".into(),
        dir.to_str().unwrap().into(),
        "--name".into(),
        name.into(),
        "--version".into(),
        version.into(),
        "--source".into(),
        "main".into(),
        "--ref".into(),
        "main".into(),
        "--out".into(),
        out.to_str().unwrap().into(),
    ];
    for a in attrs {
        args.push("--attr".into());
        args.push(a.clone());
    }
    env.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
    let d = env.json(&["deploy", out.to_str().unwrap(), "--env", "dev"]);
    d["revision"]["id"].as_str().unwrap().to_string()
}

#[test]
fn the_ingress_splits_sticks_and_follows_traffic_changes() {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.recorder@0.1.0",
        "--grant-requested",
    ]);
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);

    let (a, b, api) = (backend("r1"), backend("r2"), backend("api"));
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
    deploy(
        &env,
        "api",
        "1.0.0",
        &[
            format!("endpoint=http://127.0.0.1:{api}"),
            "prefix=/api".into(),
        ],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=9900bps"),
        &format!("{r2}=100bps"),
    ]);

    let (_server, port) = serve(&env);

    // 1,000 requests without cookies land as the split says.
    let (mut n1, mut n2) = (0u32, 0u32);
    for _ in 0..1000 {
        let r = get(port, "/", &[]);
        assert_eq!(r.status, 200);
        match r.body.as_str() {
            "r1" => n1 += 1,
            "r2" => n2 += 1,
            other => panic!("unexpected backend {other}"),
        }
    }
    let (e1, e2) = (990.0, 10.0);
    let chi2 = (f64::from(n1) - e1).powi(2) / e1 + (f64::from(n2) - e2).powi(2) / e2;
    assert!(
        chi2 < 3.841,
        "chi-squared {chi2} for r1={n1} r2={n2} exceeds the p=0.95 critical value (1 dof)"
    );
    assert!(n2 > 0, "the 1% revision got no traffic at all");

    // The second deployment on the same ingress is unaffected.
    for _ in 0..50 {
        assert_eq!(get(port, "/api/users", &[]).body, "api");
    }

    // A client keeping its cookie stays on one revision.
    let first = get(port, "/", &[]);
    let cookie = first
        .header("set-cookie")
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let pinned = first.body.clone();
    for _ in 0..100 {
        assert_eq!(get(port, "/", &[("Cookie", &cookie)]).body, pinned);
    }
    // A forged cookie is ignored (and replaced).
    let forged = cookie.replace(&pinned, if pinned == "r1" { "r2" } else { "r1" });
    assert!(
        get(port, "/", &[("Cookie", &forged)])
            .header("set-cookie")
            .is_some()
    );
    // Loopback callers may pick a revision with the header.
    assert_eq!(get(port, "/", &[("x-envpack-revision", &r2)]).body, "r2");

    // Shift to r2=100%: within a second every new request reaches r2,
    // and the generation bump invalidates old cookies.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
    ]);
    let shifted = Instant::now();
    loop {
        if (0..20).all(|_| get(port, "/", &[]).body == "r2") {
            break;
        }
        assert!(
            shifted.elapsed() < Duration::from_secs(1),
            "the new split was not picked up within 1 s"
        );
    }
    assert!(shifted.elapsed() < Duration::from_secs(1));
    for _ in 0..50 {
        assert_eq!(get(port, "/", &[("Cookie", &cookie)]).body, "r2");
    }

    // A revision that stops answering is reported, not hidden.
    let dead = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let r3 = deploy(
        &env,
        "web",
        "1.2.0",
        &[format!("endpoint=http://127.0.0.1:{dead}")],
    );
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r3}=100%"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let r = get(port, "/", &[]);
    assert_eq!(r.status, 502);
    assert!(
        r.body.contains(&r3) && r.body.contains("not answering"),
        "{}",
        r.body
    );
    assert_eq!(
        get(port, "/api/x", &[]).body,
        "api",
        "the other deployment keeps serving"
    );

    // Half the traffic to the dead revision: the request that finds it dead
    // is a 502 naming it; then the ingress routes only to what it reaches.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=50%"),
        &format!("{r3}=50%"),
    ]);
    std::thread::sleep(Duration::from_millis(300));
    let answers: Vec<Resp> = (0..40).map(|_| get(port, "/", &[])).collect();
    let refused = answers.iter().filter(|r| r.status == 502).count();
    assert!(
        refused <= 1,
        "only the first request finds it dead: {refused}"
    );
    assert!(
        answers
            .iter()
            .filter(|r| r.status == 200)
            .all(|r| r.body == "r2"),
        "the rest go to the revision it can reach"
    );
}
