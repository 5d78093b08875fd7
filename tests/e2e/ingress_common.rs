//! Helpers shared by the ingress suites (`ingress.rs`, `ingress_hostile.rs`):
//! revisions are small HTTP servers the test runs, registered through the
//! recorder deployer, and `envpack serve` runs as a child process.
#![allow(dead_code)] // each suite uses its own subset

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use envpack_e2e::{Env, build_pack};

/// Generous bound on any single read or write against the ingress, so a
/// broken server fails the test instead of hanging it.
pub const IO_TIMEOUT: Duration = Duration::from_secs(20);

/// A backend answering every request with its name.
pub fn backend(name: &'static str) -> u16 {
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

/// A response as the client saw it.
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// One `GET` to `127.0.0.1:port`, on a connection of its own.
pub fn get(port: u16, path: &str, extra: &[(&str, &str)]) -> Resp {
    get_at(SocketAddr::from(([127, 0, 0, 1], port)), path, extra)
}

/// One `GET` to `addr`, on a connection of its own.
pub fn get_at(addr: SocketAddr, path: &str, extra: &[(&str, &str)]) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: example.test\r\nConnection: close\r\n");
    for (k, v) in extra {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    parse(&raw)
}

/// Parses a whole `Connection: close` response.
pub fn parse(raw: &str) -> Resp {
    let (head, body) = raw
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("not an HTTP response: {raw:?}"));
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

/// A running `envpack serve`, stopped when dropped.
pub struct Served(pub Child);

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `envpack serve --env dev` with `args` (default `--listen
/// 127.0.0.1:0`) and returns it with the address it bound.
pub fn serve(env: &Env, args: &[&str]) -> (Served, SocketAddr) {
    let mut cmd = env.cmd();
    cmd.args(["serve", "--env", "dev"]);
    serve_with(cmd, args, Stdio::null())
}

/// Starts `cmd` (an `envpack serve` command) with `args` and `stderr`.
pub fn serve_with(mut cmd: Command, args: &[&str], stderr: Stdio) -> (Served, SocketAddr) {
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    let mut child = cmd
        .args(args)
        .env("ENVPACK_INGRESS_SEED", "7")
        .stdout(Stdio::piped())
        .stderr(stderr)
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    // "listening on http://ADDR for environment dev"
    let addr = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("http://"))
        .unwrap_or_else(|| panic!("no address in {line:?}"));
    (Served(child), addr.parse().unwrap())
}

/// Builds and deploys a bundle of deployment `name` with `attrs`; returns
/// the revision id.
pub fn deploy(env: &Env, name: &str, version: &str, attrs: &[String]) -> String {
    let dir = env.home().join(format!("p-{name}-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x"), version).unwrap();
    let out: PathBuf = env.home().join(format!("{name}-{version}.tgz"));
    let mut args = vec![
        "bundle".to_string(),
        "build".into(),
        "--no-git".into(),
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

/// An environment `dev` bound to the recorder deployer, quiet telemetry.
pub fn recorder_env(bin: &str) -> Env {
    let deployer = build_pack(bin, "test-deployer");
    let env = Env::new(bin);
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
    env
}
