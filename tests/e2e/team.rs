//! Issue 16 (PostgreSQL as the shared backend): two homes on one machine,
//! two operators, one PostgreSQL schema. What one deploys, promotes and
//! routes the other sees and changes; `serve` follows a change made from
//! the other home; concurrent operators lose no update; a killed
//! operator's lease is released; a home moves to PostgreSQL with `backend
//! copy` and every read command answers the same.
//!
//! Needs `ENVPACK_TEST_POSTGRES` (`.ci/run` starts a throwaway server with
//! `scripts/services`); without it every test here fails saying so.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::process::Stdio;
use std::time::{Duration, Instant};

#[path = "ingress_common.rs"]
mod common;

use common::{backend, get, serve_with};
use envpack_e2e::{Env, build_pack, postgres_url};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// One operator: a home of its own, an actor name, the shared backend.
struct Operator {
    env: Env,
    actor: &'static str,
}

impl Operator {
    /// A fresh home pointed at `url` with `backend set`.
    fn new(actor: &'static str, url: &str) -> Self {
        let op = Self {
            env: Env::new(BIN),
            actor,
        };
        op.json(&["backend", "set", url]);
        op
    }

    fn args<'a>(&'a self, args: &[&'a str]) -> Vec<&'a str> {
        let mut all = vec!["--actor", self.actor];
        all.extend_from_slice(args);
        all
    }

    fn json(&self, args: &[&str]) -> Value {
        self.env.json(&self.args(args))
    }
}

/// Installs the recorder deployer in `op`'s home (each home has its own
/// pack store; the pack file, hence its digest, is the same).
fn install_recorder(op: &Operator) {
    let deployer = build_pack(BIN, "test-deployer");
    op.json(&["pack", "install", deployer.to_str().unwrap()]);
}

/// `name` bound to the recorder deployer, quiet telemetry.
fn recorder_env(op: &Operator, name: &str, after: Option<&str>) {
    let mut init = vec!["env", "init", name];
    if let Some(a) = after {
        init.extend(["--after", a]);
    }
    op.json(&init);
    op.json(&[
        "env",
        "bind",
        name,
        "deployer",
        "acme.deployer.recorder@0.1.0",
        "--grant-requested",
    ]);
    op.json(&[
        "env",
        "config",
        name,
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
}

/// Builds a bundle of `web` at `version` with `attrs`; returns its path.
fn bundle(op: &Operator, version: &str, attrs: &[String]) -> String {
    let dir = op.env.home().join(format!("p-web-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("x"), version).unwrap();
    let out = op.env.home().join(format!("web-{version}.tgz"));
    let out_s = out.to_str().unwrap().to_string();
    let dir_s = dir.to_str().unwrap().to_string();
    let mut args = vec![
        "bundle",
        "build",
        "--no-git",
        &dir_s,
        "--name",
        "web",
        "--version",
        version,
        "--source",
        "main",
        "--ref",
        "main",
        "--out",
        &out_s,
    ];
    for a in attrs {
        args.extend(["--attr", a]);
    }
    op.json(&args);
    out_s
}

/// Deploys a bundle of `web` to dev; returns (revision id, bundle id).
fn deploy(op: &Operator, version: &str, attrs: &[String]) -> (String, String) {
    let file = bundle(op, version, attrs);
    let d = op.json(&["deploy", &file, "--env", "dev"]);
    let rev = d["revision"]["id"].as_str().unwrap().to_string();
    let bundle_id = d["bundle"]
        .as_str()
        .unwrap_or_else(|| panic!("no bundle id in {d}"))
        .to_string();
    (rev, bundle_id)
}

/// The two operators on one fresh schema, migrated, with `dev` and
/// `staging` (after dev) made by A and the recorder in both homes.
fn team(tag: &str) -> (Operator, Operator) {
    let url = postgres_url(tag);
    let a = Operator::new("alice", &url);
    a.json(&["backend", "migrate"]);
    let b = Operator::new("bob", &url);
    install_recorder(&a);
    install_recorder(&b);
    recorder_env(&a, "dev", None);
    recorder_env(&a, "staging", Some("dev"));
    (a, b)
}

fn generation(op: &Operator) -> u64 {
    let t = op.json(&["traffic", "show", "--env", "dev"]);
    let web = match t.as_array() {
        Some(all) => all.iter().find(|d| d["deployment"] == "web").cloned(),
        None => Some(t.clone()),
    }
    .unwrap_or_else(|| panic!("no web in {t}"));
    web["generation"].as_u64().unwrap()
}

#[test]
fn two_operators_share_environments_and_serve_follows_the_other_home() {
    let (a, b) = team("share");
    let (p1, p2) = (backend("r1"), backend("r2"));
    let (r1, id1) = deploy(&a, "1.0.0", &[format!("endpoint=http://127.0.0.1:{p1}")]);
    let (r2, _) = deploy(&a, "1.1.0", &[format!("endpoint=http://127.0.0.1:{p2}")]);
    a.json(&["promote", &id1, "--to", "staging"]);

    // B, in its own home, sees A's environments, deployment and promotion.
    let envs = b.json(&["env", "list"]).to_string();
    assert!(envs.contains("dev") && envs.contains("staging"), "{envs}");
    let status = b.json(&["status", "--env", "staging"]).to_string();
    assert!(status.contains("web"), "B's status of staging: {status}");
    let revs = b.json(&["revisions", "list", "--env", "dev"]).to_string();
    assert!(revs.contains(&r1) && revs.contains(&r2), "{revs}");

    // A serves dev; the first revision has all the traffic.
    let mut cmd = a.env.cmd();
    cmd.args(["serve", "--env", "dev"]);
    let (_served, addr) = serve_with(cmd, &[], Stdio::null());
    assert_eq!(get(addr.port(), "/", &[]).body, "r1");

    // B moves the traffic; A's router follows, told by NOTIFY.
    b.json(&[
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
        "--env",
        "dev",
    ]);
    let moved = Instant::now();
    let followed = loop {
        if (0..5).all(|_| get(addr.port(), "/", &[]).body == "r2") {
            break moved.elapsed();
        }
        assert!(
            moved.elapsed() < Duration::from_secs(10),
            "A's serve did not follow B's traffic change within 10 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    eprintln!("A's serve followed B's traffic set after {followed:?}");

    // A watches dev's status; B's next change prints it again.
    let mut watch = a
        .env
        .cmd()
        .args(["--json", "status", "--env", "dev", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = watch.stdout.take().unwrap();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout).lines() {
            if tx.send(line.unwrap()).is_err() {
                return;
            }
        }
    });
    let first = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("the first status");
    assert!(first.contains(&format!("\"{r2}\"")), "{first}");
    b.json(&[
        "traffic",
        "set",
        "web",
        &format!("{r1}=100%"),
        "--env",
        "dev",
    ]);
    let changed = Instant::now();
    let next = rx
        .recv_timeout(Duration::from_secs(10))
        .expect("status --watch did not print B's change within 10 s");
    eprintln!(
        "status --watch printed B's change after {:?}",
        changed.elapsed()
    );
    let v: Value = serde_json::from_str(&next).unwrap();
    assert_eq!(v["ok"], true, "{next}");
    watch.kill().unwrap();
    watch.wait().unwrap();

    // The audit shows both actors.
    let audit = a.json(&["audit", "--env", "dev"]).to_string();
    assert!(audit.contains("alice") && audit.contains("bob"), "{audit}");
}

#[test]
fn sixteen_concurrent_operators_lose_no_update() {
    let (a, b) = team("cas");
    let (p1, p2) = (backend("r1"), backend("r2"));
    let (r1, _) = deploy(&a, "1.0.0", &[format!("endpoint=http://127.0.0.1:{p1}")]);
    let (r2, _) = deploy(&a, "1.1.0", &[format!("endpoint=http://127.0.0.1:{p2}")]);
    let start = generation(&a);
    let ops = [&a, &b];
    std::thread::scope(|s| {
        for i in 0..16u32 {
            let op = ops[(i % 2) as usize];
            let (r1, r2) = (r1.clone(), r2.clone());
            s.spawn(move || {
                let w1 = format!("{r1}={}%", i + 1);
                let w2 = format!("{r2}={}%", 99 - i);
                op.json(&["traffic", "set", "web", &w1, &w2, "--env", "dev"]);
            });
        }
    });
    let end = generation(&b);
    assert_eq!(
        end,
        start + 16,
        "16 traffic sets from 16 operators: generation {start} -> {end}"
    );
    // Every generation in between is in the history exactly once.
    let history = a.json(&["history", "--env", "dev"]);
    let mut gens: Vec<u64> = history
        .as_array()
        .unwrap_or_else(|| panic!("history is not a list: {history}"))
        .iter()
        .filter_map(|e| e["generation"].as_u64())
        .filter(|g| *g > start)
        .collect();
    gens.sort_unstable();
    gens.dedup();
    assert_eq!(gens, ((start + 1)..=end).collect::<Vec<_>>(), "{history}");
}

#[test]
fn a_killed_operators_lease_is_released_and_the_next_verb_proceeds() {
    let (a, b) = team("lease");
    let p1 = backend("r1");
    deploy(&a, "1.0.0", &[format!("endpoint=http://127.0.0.1:{p1}")]);

    // A deploys a revision that never becomes healthy: the verb waits in
    // warm-up holding the deployments lease of dev.
    let file = bundle(&a, "2.0.0", &["health=unhealthy".to_string()]);
    let mut child = a
        .env
        .cmd()
        .args([
            "--actor",
            "alice",
            "deploy",
            &file,
            "--env",
            "dev",
            "--timeout",
            "10m",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = format!("pid {}", child.id());
    let held = Instant::now();
    loop {
        let leases = b.json(&["backend", "show"])["leases"].to_string();
        if leases.contains(&pid) && leases.contains("deployments") {
            break;
        }
        assert!(
            held.elapsed() < Duration::from_secs(60),
            "the deploy never took the lease: {leases}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().unwrap(); // SIGKILL: no destructor runs, nothing is released
    child.wait().unwrap();

    let killed = Instant::now();
    let next = bundle(&b, "3.0.0", &[format!("endpoint=http://127.0.0.1:{p1}")]);
    b.json(&["deploy", &next, "--env", "dev"]);
    eprintln!("the next verb ran {:?} after the kill", killed.elapsed());
    let leases = b.json(&["backend", "show"])["leases"].to_string();
    assert!(
        !leases.contains(&pid),
        "the killed operator still holds a lease: {leases}"
    );
}

/// Runs a read command against `home` with the backend `spec`, returning
/// its `--json` result.
fn read_with(env: &Env, spec: &str, args: &[&str]) -> Value {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = env
        .cmd()
        .env("ENVPACK_BACKEND", spec)
        .args(&all)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        out.status.success(),
        "envpack {args:?} on {spec} failed: {text}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str::<Value>(&text).unwrap()["result"].clone()
}

#[test]
fn backend_copy_moves_a_home_and_every_read_answers_the_same() {
    // A filesystem home with every kind of record: metadata and locks of
    // two environments, deployments with revisions and traffic
    // generations, bundles, a promotion report, snapshots, a drift
    // acceptance, audit and history, the home audit.
    let op = Operator {
        env: Env::new(BIN),
        actor: "alice",
    };
    install_recorder(&op);
    // dev on the scripted deployer (the recorder, with a reality the test
    // can script), so it can drift and have the drift accepted.
    let scripted = build_pack(BIN, "scripted-deployer");
    op.json(&["pack", "install", scripted.to_str().unwrap()]);
    recorder_env(&op, "dev", None);
    op.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.scripted@0.1.0",
        "--grant-requested",
    ]);
    recorder_env(&op, "staging", Some("dev"));
    let (p1, p2) = (backend("r1"), backend("r2"));
    let (r1, id1) = deploy(&op, "1.0.0", &[format!("endpoint=http://127.0.0.1:{p1}")]);
    let (r2, _) = deploy(&op, "1.1.0", &[format!("endpoint=http://127.0.0.1:{p2}")]);
    op.json(&[
        "traffic",
        "set",
        "web",
        &format!("{r1}=30%"),
        &format!("{r2}=70%"),
        "--env",
        "dev",
    ]);
    op.json(&["promote", &id1, "--to", "staging"]);
    op.json(&["observe", "--env", "dev"]);
    op.json(&[
        "env",
        "policy",
        "staging",
        "--production",
        "--allow-dev-secrets",
    ]);
    // A rogue revision in reality: drift, accepted with a reason.
    op.json(&[
        "env",
        "config",
        "dev",
        "acme.deployer.scripted",
        "reality",
        "web|rogue|running|||",
    ]);
    let drift = op.env.run(&["--json", "drift", "--env", "dev"]);
    assert_eq!(drift.code, 2, "{}", drift.stdout);
    let entry = drift.envelope()["result"]["drift"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    op.json(&[
        "drift",
        "accept",
        &entry,
        "--reason",
        "INC-7 hotfix",
        "--env",
        "dev",
    ]);

    let url = postgres_url("copy");
    let copied = op.json(&["backend", "copy", "--from", "fs", "--to", &url]);
    assert_eq!(copied["verified"], true, "{copied}");
    assert!(!copied.to_string().contains("password"), "{copied}");
    // A second copy into the same schema is refused: nothing is merged.
    op.env
        .fails(5, &["backend", "copy", "--from", "fs", "--to", &url]);

    let snapshots = read_with(&op.env, "fs", &["snapshots", "--env", "dev"]);
    let snapshot = snapshots
        .as_array()
        .and_then(|s| s.first())
        .and_then(|s| s["id"].as_str())
        .unwrap_or_else(|| panic!("no snapshot in {snapshots}"))
        .to_string();
    let reads: Vec<Vec<&str>> = vec![
        vec!["env", "list"],
        vec!["env", "show", "dev"],
        vec!["env", "show", "staging"],
        vec!["revisions", "list", "--env", "dev", "--all"],
        vec!["revisions", "show", &r1, "--env", "dev"],
        vec!["traffic", "show", "--env", "dev"],
        vec!["history", "--env", "dev"],
        vec!["history", "--env", "staging"],
        vec!["audit", "--env", "dev"],
        vec!["audit", "--all"],
        vec!["snapshots", "--env", "dev"],
        vec!["snapshots", "show", &snapshot, "--env", "dev"],
    ];
    for args in &reads {
        let on_fs = read_with(&op.env, "fs", args);
        let on_pg = read_with(&op.env, &url, args);
        assert_eq!(
            on_fs, on_pg,
            "envpack {args:?} answers differently after the copy"
        );
    }
}

#[test]
fn the_schema_is_checked_and_passwords_are_never_printed() {
    let url = postgres_url("schema");
    let op = Operator::new("alice", &url);
    // Not migrated yet: every command but `backend ...` says so, with the fix.
    assert_eq!(op.json(&["backend", "show"])["schema_version"], 0);
    let err = op.env.fails(9, &["env", "list"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("schema version 0"),
        "{err}"
    );
    assert_eq!(err["hint"], "envpack backend migrate");
    assert_eq!(op.json(&["backend", "migrate"])["to"], 1);
    assert_eq!(op.json(&["backend", "migrate"])["from"], 1);
    op.json(&["env", "list"]);

    // A password in a URL is never stored, printed or logged.
    let secret = "hunter2-do-not-print";
    let with_pw = url.replacen("://envpack@", &format!("://envpack:{secret}@"), 1);
    let r = op.env.run(&["--json", "backend", "set", &with_pw]);
    assert_ne!(r.code, 0);
    assert!(
        !r.stdout.contains(secret) && !r.stderr.contains(secret),
        "{}{}",
        r.stdout,
        r.stderr
    );
    let pw_file = op.env.home().join("pw");
    std::fs::write(&pw_file, format!("{secret}\n")).unwrap();
    op.json(&[
        "backend",
        "set",
        &url,
        "--password-file",
        pw_file.to_str().unwrap(),
    ]);
    let settings = std::fs::read_to_string(op.env.home().join("backend.toml")).unwrap();
    assert!(!settings.contains(secret), "{settings}");
    for args in [
        vec!["--json", "backend", "show"],
        vec!["-vv", "env", "list"],
    ] {
        let r = op.env.run(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        assert!(
            !r.stdout.contains(secret) && !r.stderr.contains(secret),
            "{}{}",
            r.stdout,
            r.stderr
        );
    }
    // An unreachable server: the error names it, without the password.
    let (head, rest) = with_pw.split_once('@').unwrap();
    let path = &rest[rest.find('/').unwrap()..];
    let dead = format!("{head}@127.0.0.1:1{path}");
    let out = op
        .env
        .cmd()
        .env("ENVPACK_BACKEND", &dead)
        .args(["--json", "env", "list"])
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(9), "{stdout}{stderr}");
    assert!(
        !stdout.contains(secret) && !stderr.contains(secret),
        "{stdout}{stderr}"
    );
    assert!(stdout.contains("***"), "{stdout}");
}
