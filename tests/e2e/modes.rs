//! Issue 11's environment modes (seed 003's parity ladder) on the `local`
//! mode, through the real binary and the built-in local-process deployer:
//! `env up`, `env status`, `env validate` (failing closed, with fixes that
//! work), `env down` and `env reset` each in one command; a mode declared
//! in `envpack.toml`; and a `kubernetes` environment that names the
//! deployer it needs. The same verbs on a `kubernetes` environment against
//! the Kubernetes double are in the `k8s` suite.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use envpack_e2e::Env;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Stops every revision of `dev` when the test ends, even on failure.
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["env", "down", "dev"]);
    }
}

fn site(env: &Env, version: &str) -> PathBuf {
    let dir = env.home().join(format!("site-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), format!("v{version}")).unwrap();
    let serve = dir.join("serve");
    std::fs::write(
        &serve,
        "#!/bin/sh\nexec python3 -m http.server \"$1\" --bind 127.0.0.1\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&serve, std::fs::Permissions::from_mode(0o755)).unwrap();
    let out = env.home().join(format!("site-{version}.tgz"));
    env.ok(&[
        "bundle",
        "build",
        dir.to_str().unwrap(),
        "--name",
        "site",
        "--version",
        version,
        "--source",
        "main",
        "--ref",
        "main",
        "--no-git",
        "--attr",
        "run=./serve {port}",
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

fn get(endpoint: &str) -> Option<String> {
    let addr = endpoint.trim_start_matches("http://");
    let mut s = TcpStream::connect(addr).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    s.write_all(b"GET /index.html HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .ok()?;
    let mut raw = String::new();
    s.read_to_string(&mut raw).ok()?;
    raw.split_once("\r\n\r\n").map(|(_, b)| b.to_string())
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

/// Revision id -> (traffic in basis points, endpoint), from `env status`.
fn running(env: &Env) -> Vec<(String, u64, String)> {
    let status = env.json(&["env", "status", "dev"]);
    let mut out = Vec::new();
    for d in status["deployments"].as_array().unwrap() {
        for r in d["revisions"].as_array().unwrap() {
            out.push((
                r["revision"].as_str().unwrap().to_string(),
                r["basis_points"].as_u64().unwrap(),
                r["endpoint"].as_str().unwrap_or("").to_string(),
            ));
        }
    }
    out.sort();
    out
}

fn failing_checks(report: &Value) -> Vec<String> {
    report["details"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["ok"] == false)
        .map(|c| c["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn local_mode_up_status_validate_down_reset() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev", "--mode", "local"]);
    let _down = Down(&env);
    let (a, b) = (site(&env, "1.0.0"), site(&env, "1.1.0"));
    env.json(&["deploy", a.to_str().unwrap(), "--env", "dev"]);
    env.json(&["deploy", b.to_str().unwrap(), "--env", "dev"]);
    let revs = env.json(&["revisions", "list", "--env", "dev", "--deployment", "site"]);
    let ids: Vec<String> = revs[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap().to_string())
        .collect();
    let (old, new) = (&ids[0], &ids[1]);
    env.json(&[
        "traffic",
        "set",
        "--env",
        "dev",
        "site",
        &format!("{old}=90%"),
        &format!("{new}=10%"),
    ]);

    // Status names the mode and every revision with its split and address.
    let status = env.json(&["env", "status", "dev"]);
    assert_eq!(status["mode"], "local");
    assert!(
        status["deployer"]
            .as_str()
            .unwrap()
            .starts_with("greentic.deployer.local-process")
    );
    let before = running(&env);
    assert_eq!(
        before
            .iter()
            .map(|r| r.1)
            .collect::<Vec<_>>()
            .iter()
            .sum::<u64>(),
        10_000
    );
    let human = env.ok(&["env", "status", "dev"]);
    assert!(
        human.contains("mode      local") && human.contains("90%"),
        "{human}"
    );

    // Ready: every check passes.
    let ok = env.json(&["env", "validate", "dev"]);
    let names: Vec<&str> = ok["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"mode") && names.contains(&"observe"),
        "{ok}"
    );
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("readiness:site/"))
            .count(),
        2,
        "{ok}"
    );

    // A revision that dies out of band fails validation, closed, and the
    // fix it names (env up) brings it back.
    let victim = before.iter().find(|r| &r.0 == new).unwrap().2.clone();
    let port = victim.rsplit(':').next().unwrap();
    let killed = std::process::Command::new("pkill")
        .args(["-f", &format!("http.server {port}")])
        .status()
        .unwrap();
    assert!(killed.success());
    wait_for("the revision to die", || get(&victim).is_none());
    let failed = env.fails(10, &["env", "validate", "dev"]);
    assert_eq!(failed["kind"], "checks-failed");
    assert_eq!(failing_checks(&failed), [format!("readiness:site/{new}")]);
    assert!(
        failed["hint"]
            .as_str()
            .unwrap()
            .contains("envpack env up dev")
    );
    env.json(&["env", "up", "dev"]);
    env.json(&["env", "validate", "dev"]);

    // Down stops everything and validation says so; up restores it.
    env.json(&["env", "down", "dev"]);
    let down = env.fails(10, &["env", "validate", "dev"]);
    assert_eq!(failing_checks(&down).len(), 2, "{down}");
    env.json(&["env", "up", "dev"]);
    env.json(&["env", "validate", "dev"]);

    // Reset destroys and recreates exactly the recorded expectation: the
    // same revisions, the same split, serving, and observed in sync.
    let plan = env.json(&["env", "reset", "dev", "--dry-run"]);
    assert_eq!(plan["verb"], "env.reset");
    let pre = running(&env);
    let reset = env.json(&["env", "reset", "dev"]);
    assert_eq!(reset["revisions"].as_array().unwrap().len(), 2, "{reset}");
    let post = running(&env);
    assert_eq!(
        pre.iter().map(|r| (&r.0, r.1)).collect::<Vec<_>>(),
        post.iter().map(|r| (&r.0, r.1)).collect::<Vec<_>>()
    );
    for (id, _, endpoint) in &post {
        let body = get(endpoint).unwrap_or_default();
        assert!(
            body.starts_with('v'),
            "{id} serves after the reset: {body:?}"
        );
    }
    let observed = env.json(&["observe", "--env", "dev"]);
    assert_eq!(observed["state"], "in-sync", "{observed}");
    env.json(&["env", "validate", "dev"]);
    let audit = env.json(&["audit", "--env", "dev", "--verb", "env.down"]);
    assert!(!audit.as_array().unwrap().is_empty(), "{audit}");
}

#[test]
fn a_kubernetes_environment_names_the_deployer_it_needs() {
    let env = Env::new(BIN);
    let init = env.json(&["env", "init", "parity", "--mode", "kubernetes"]);
    assert_eq!(init["env"]["meta"]["mode"], "kubernetes");
    assert!(
        init["env"]["lock"]["slots"].get("deployer").is_none(),
        "{init}"
    );
    let human = env.ok(&["env", "init", "parity"]);
    assert!(
        !human.contains("local-process"),
        "re-init binds no local deployer: {human}"
    );

    let failed = env.fails(10, &["env", "validate", "parity"]);
    assert_eq!(failing_checks(&failed), ["mode"]);
    let hint = failed["hint"].as_str().unwrap();
    assert!(
        hint.contains("env bind parity deployer greentic.deployer.k8s@^1"),
        "{hint}"
    );
    let doctor = env.fails(10, &["env", "doctor", "parity"]);
    assert!(
        doctor["hint"]
            .as_str()
            .unwrap()
            .contains("greentic.deployer.k8s@^1"),
        "{doctor}"
    );
    let status = env.json(&["env", "status", "parity"]);
    assert_eq!(status["mode"], "kubernetes");
    assert_eq!(status["deployer"], Value::Null);

    // init never changes a mode; env mode does, audited.
    let refused = env.fails(5, &["env", "init", "parity", "--mode", "local"]);
    assert!(
        refused["hint"]
            .as_str()
            .unwrap()
            .contains("env mode parity local")
    );
    env.json(&["env", "mode", "parity", "local"]);
    assert_eq!(env.json(&["env", "mode", "parity"])["mode"], "local");
    let audit = env.json(&["audit", "--env", "parity", "--verb", "env.mode"]);
    assert!(audit.to_string().contains("kubernetes"), "{audit}");
    env.fails(2, &["env", "mode", "parity", "Not A Mode"]);
}

#[test]
fn a_local_environment_in_another_mode_is_not_ready() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "mode", "dev", "kubernetes"]);
    let failed = env.fails(10, &["env", "validate", "dev"]);
    assert_eq!(failing_checks(&failed), ["mode"]);
    let hint = failed["hint"].as_str().unwrap();
    assert!(hint.starts_with("envpack env mode dev local"), "{hint}");
}

#[test]
fn the_mode_is_declared_in_envpack_toml() {
    let env = Env::new(BIN);
    let dir = env.home().join("project");
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("envpack.toml");
    std::fs::write(
        &file,
        "[env.dev]\n\n[env.parity]\nafter = \"dev\"\nmode = \"kubernetes\"\n",
    )
    .unwrap();
    let f = file.to_str().unwrap();
    let plan = env.run(&["--json", "plan", "--file", f]);
    assert_eq!(plan.code, 2, "changes exit 2");
    assert!(
        plan.envelope().to_string().contains("kubernetes"),
        "{}",
        plan.envelope()
    );
    env.json(&["apply", "--file", f, "--yes"]);
    assert_eq!(env.json(&["env", "mode", "parity"])["mode"], "kubernetes");
    assert_eq!(env.json(&["env", "mode", "dev"])["mode"], "local");
    let clean = env.json(&["plan", "--file", f]);
    let changes: usize = clean["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["changes"].as_array().unwrap().len())
        .sum();
    assert_eq!(changes, 0, "apply then plan is clean: {clean}");
    // A hand edit shows up in the plan.
    env.json(&["env", "mode", "parity", "nomad"]);
    let drifted = env.run(&["--json", "plan", "--file", f]);
    assert_eq!(drifted.code, 2);
    assert!(
        drifted.envelope().to_string().contains("nomad"),
        "{}",
        drifted.envelope()
    );
    let export = env.ok(&["env", "export", "parity"]);
    assert!(export.contains("mode = \"nomad\""), "{export}");
}
