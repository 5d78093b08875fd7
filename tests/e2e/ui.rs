//! Issue 17: the web dashboard, through the real binary. A ladder of the
//! local runtime (`local`, real processes) and a staging rung on the
//! scripted deployer; `envpack ui` serves it, and a headless Chromium
//! (Debian's, driven by playwright-core from `target/tools/node`, which
//! `scripts/bootstrap` installs) checks what an operator sees: a promotion
//! and a traffic change made from the CLI show up live, out-of-band drift
//! shows in the drift view, the traffic action asks for confirmation and
//! lands in the audit with the actor, no secret value is anywhere, and
//! axe-core finds no serious accessibility problem. Screenshots go to
//! `target/ui-screenshots/`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use envpack_e2e::{Env, build_pack, repo_root};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");
/// A secret value no page or API answer may ever contain.
const SECRET: &str = "sup3r-s3cret-value-7f3a";
/// The actor of the dashboard process: what its changes are audited as.
const UI_ACTOR: &str = "ui-tester";

/// Stops the revisions when the test ends, even on failure.
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["env", "down", "local"]);
    }
}

/// A running `envpack ui`, stopped when dropped.
struct Dashboard {
    child: Child,
    addr: String,
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `envpack ui` with `args`; returns it once it printed its address.
fn dashboard(env: &Env, args: &[&str]) -> Dashboard {
    let mut child = env
        .cmd()
        .arg("ui")
        .args(args)
        .env("ENVPACK_ACTOR", UI_ACTOR)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let addr = line
        .trim()
        .strip_prefix("dashboard on http://")
        .unwrap_or_else(|| panic!("envpack ui printed {line:?}"))
        .trim_end_matches('/')
        .to_string();
    Dashboard { child, addr }
}

/// A bundle whose payload serves `body` with Python's http.server.
fn site(env: &Env, version: &str, body: &str) -> PathBuf {
    env.python_site(version, body, &[])
}

/// The ladder: `local` (two revisions of `site`, 1.0.0 serving) and
/// `staging` after it on the scripted deployer, running 1.0.0 by
/// promotion; a secret in `local`. Returns the revisions and bundle ids.
struct Ladder {
    r1: String,
    r2: String,
    b2: String,
}

fn ladder(env: &Env) -> Ladder {
    let deployer = build_pack(BIN, "scripted-deployer");
    env.json(&["env", "init"]);
    env.json(&[
        "env",
        "config",
        "local",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    env.json(&[
        "env",
        "init",
        "staging",
        "--after",
        "local",
        "--allow-source",
        "main",
    ]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "staging",
        "deployer",
        "acme.deployer.scripted@0.1.0",
        "--grant-requested",
    ]);
    // staging's state pack has a newer version installed than it binds:
    // the packs view shows the upgrade's capability diff.
    let memory = build_pack(BIN, "acme-state-memory");
    let memory_v13 = build_pack(BIN, "acme-state-memory-v13");
    env.json(&["pack", "install", memory.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "staging",
        "state",
        "acme.state.memory@^1.2",
        "--grant-requested",
    ]);
    env.json(&["pack", "install", memory_v13.to_str().unwrap()]);
    env.ok(&["secrets", "put", "--env", "local", "API_KEY", SECRET]);
    let d1 = env.json(&["deploy", site(env, "1.0.0", "one\n").to_str().unwrap()]);
    let d2 = env.json(&["deploy", site(env, "2.0.0", "two\n").to_str().unwrap()]);
    let id = |d: &Value, k: &str| d[k].as_str().unwrap().to_string();
    env.json(&["promote", &id(&d1, "bundle"), "--to", "staging"]);
    Ladder {
        r1: d1["revision"]["id"].as_str().unwrap().to_string(),
        r2: d2["revision"]["id"].as_str().unwrap().to_string(),
        b2: id(&d2, "bundle"),
    }
}

/// One HTTP/1.1 exchange; returns status, headers (lowercase names) and
/// body.
fn http(addr: &str, request: &str) -> (u16, Vec<(String, String)>, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    s.write_all(request.as_bytes()).unwrap();
    let mut raw = String::new();
    s.read_to_string(&mut raw).unwrap();
    let (head, body) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let headers = head
        .lines()
        .skip(1)
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_ascii_lowercase(), v.to_string()))
        .collect();
    (status, headers, body.to_string())
}

fn get(addr: &str, path: &str, extra: &str) -> (u16, Vec<(String, String)>, String) {
    http(
        addr,
        &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n{extra}\r\n"),
    )
}

fn post(addr: &str, path: &str, extra: &str, body: &str) -> (u16, String) {
    let (status, _, body) = http(
        addr,
        &format!(
            "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Length: {}\r\n{extra}\r\n{body}",
            body.len()
        ),
    );
    (status, body)
}

/// The `result` of an API answer, which must be an ok envelope.
fn result(status: u16, body: &str) -> Value {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {body}"));
    assert_eq!(status, 200, "{v}");
    assert_eq!(v["api"], "envpack/v1");
    assert_eq!(v["ok"], true, "{v}");
    v["result"].clone()
}

fn python_available() -> bool {
    Command::new("python3")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// Where `scripts/bootstrap` installs playwright-core and axe-core.
fn node_tools() -> PathBuf {
    repo_root().join("target/tools/node/node_modules")
}

fn browser_tools_or_fail() {
    let missing: Vec<&str> = [
        ("/usr/bin/chromium", Path::new("/usr/bin/chromium").exists()),
        (
            "node",
            Command::new("node").arg("--version").output().is_ok(),
        ),
        (
            "playwright-core",
            node_tools().join("playwright-core/package.json").exists(),
        ),
        (
            "axe-core",
            node_tools().join("axe-core/axe.min.js").exists(),
        ),
    ]
    .iter()
    .filter(|(_, ok)| !ok)
    .map(|(n, _)| *n)
    .collect();
    assert!(
        missing.is_empty(),
        "the browser tests need {missing:?}: run scripts/bootstrap (it installs chromium, nodejs and npm from Debian and playwright-core and axe-core into target/tools/node)"
    );
}

#[test]
fn the_dashboard_in_a_real_browser() {
    assert!(
        python_available(),
        "the local runtime's payloads need python3"
    );
    browser_tools_or_fail();
    let env = Env::new(BIN);
    let _down = Down(&env);
    let l = ladder(&env);
    let ui = dashboard(&env, &["--listen", "127.0.0.1:0"]);
    let shots = repo_root().join("target/ui-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let script = repo_root().join("tests/e2e/ui/browser.mjs");
    let out = Command::new("node")
        .arg(&script)
        .env("UI_URL", format!("http://{}", ui.addr))
        .env("ENVPACK_BIN", BIN)
        .env("ENVPACK_HOME", env.home())
        .env("ENVPACK_NO_PROGRESS", "1")
        .env("UI_SECRET", SECRET)
        .env("UI_ACTOR", UI_ACTOR)
        .env("UI_R1", &l.r1)
        .env("UI_R2", &l.r2)
        .env("UI_B2", &l.b2)
        .env("UI_SHOTS", &shots)
        .env("UI_NODE_TOOLS", node_tools())
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "the browser checks failed:\n{stdout}\n{stderr}"
    );
    // Every check the script names ran and passed.
    for check in [
        "ladder",
        "traffic-live",
        "gate-live",
        "promotion-live",
        "drift-out-of-band",
        "traffic-action-cancel",
        "traffic-action",
        "rollback-live",
        "audit",
        "packs",
        "keyboard",
        "phone",
        "axe",
        "no-secret",
    ] {
        assert!(
            stdout.contains(&format!("ok {check}\n")),
            "check {check} did not pass:\n{stdout}\n{stderr}"
        );
    }
    for page in ["ladder", "deployment", "drift", "audit", "packs", "confirm"] {
        assert!(
            shots.join(format!("{page}.png")).is_file(),
            "no screenshot of {page}"
        );
    }
    // The action went through `traffic set`'s path: audited with the actor.
    let audit = env.json(&["audit", "--env", "local", "--verb", "traffic.set"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["actor"] == UI_ACTOR && e["result"] == "ok"),
        "{audit}"
    );
}

#[test]
fn the_api_gives_the_cli_answers_and_never_a_secret() {
    assert!(
        python_available(),
        "the local runtime's payloads need python3"
    );
    let env = Env::new(BIN);
    let _down = Down(&env);
    let l = ladder(&env);
    let ui = dashboard(&env, &["--listen", "127.0.0.1:0"]);
    let a = &ui.addr;

    // The audit feed is `envpack audit --all`, filters included.
    let (s, _, body) = get(a, "/api/v1/audit", "");
    assert_eq!(result(s, &body), env.json(&["audit", "--all"]));
    let (s, _, body) = get(a, "/api/v1/audit?env=local&verb=deploy", "");
    let filtered = result(s, &body);
    assert_eq!(
        filtered,
        env.json(&["audit", "--env", "local", "--verb", "deploy"])
    );
    assert!(!filtered.as_array().unwrap().is_empty());

    // The ladder's cells are `envpack status --all`'s deployments.
    let (s, _, body) = get(a, "/api/v1/ladder", "");
    let ladder = result(s, &body);
    let status = env.json(&["status", "--all"]);
    let cells = |v: &Value| -> Vec<(String, String, String, u64, String)> {
        v.as_array()
            .unwrap()
            .iter()
            .flat_map(|d| {
                d["revisions"].as_array().unwrap().iter().map(move |r| {
                    (
                        d["environment"].as_str().unwrap().to_string(),
                        r["revision"].as_str().unwrap().to_string(),
                        r["version"].as_str().unwrap().to_string(),
                        r["basis_points"].as_u64().unwrap(),
                        d["drift"].as_str().unwrap().to_string(),
                    )
                })
            })
            .collect()
    };
    assert_eq!(cells(&ladder["deployments"]), cells(&status["deployments"]));
    let envs: Vec<&str> = ladder["environments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["name"].as_str().unwrap())
        .collect();
    assert_eq!(envs, ["local", "staging"], "ladder order");
    // 2.0.0 never carried traffic in local: the gate says so, with the fix.
    assert!(
        ladder["promotions"].as_array().unwrap().iter().any(|p| {
            p["to"] == "staging" && p["state"] == "promoted" && p["version"] == "1.0.0"
        }),
        "{}",
        ladder["promotions"]
    );

    // The deployment: revisions, every generation, the canary.
    env.json(&[
        "traffic",
        "set",
        "site",
        &format!("{}=90%", l.r1),
        &format!("{}=10%", l.r2),
    ]);
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/site", "");
    let dep = result(s, &body);
    let shown = env.json(&["traffic", "show", "site"]);
    assert_eq!(dep["generation"], shown["generation"]);
    assert_eq!(dep["weights"], shown["weights"]);
    assert_eq!(
        dep["traffic_history"].as_array().unwrap().len() as u64,
        shown["generation"].as_u64().unwrap()
    );
    assert_eq!(dep["canary"]["revision"], l.r2.as_str());
    assert_eq!(dep["canary"]["basis_points"], 1000);
    assert!(dep["canary"]["since"].is_string(), "{}", dep["canary"]);
    // Now 2.0.0 carried traffic: its promotion is ready, gate checks shown.
    let (s, _, body) = get(a, "/api/v1/ladder", "");
    let ladder = result(s, &body);
    let next = ladder["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["bundle"] == l.b2.as_str());
    assert!(
        next.is_none(),
        "1.0.0 still serves most: {}",
        ladder["promotions"]
    );

    // A rollback is a generation of its own, marked as one.
    env.json(&["rollback", "--deployment", "site"]);
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/site", "");
    let dep = result(s, &body);
    let history = dep["traffic_history"].as_array().unwrap();
    let last = history.last().unwrap();
    assert_eq!(last["rollback"], true, "{last}");
    assert_eq!(last["cause"], "rollback");
    assert!(
        history[..history.len() - 1]
            .iter()
            .all(|t| t["rollback"] == false)
    );
    assert!(
        dep["canary"].is_null(),
        "one revision serves again: {}",
        dep["canary"]
    );

    // Drift: the three records and every entry; in sync so far.
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/site/drift", "");
    let drift = result(s, &body);
    assert_eq!(drift["state"], "in-sync", "{drift}");
    assert_eq!(drift["records"].as_array().unwrap().len(), 2, "{drift}");
    assert!(drift["records"][0]["intent"]["bundle"].is_string());
    assert_eq!(drift["records"][0]["reality"]["state"], "running");

    // Out of band: a file of r2's running payload edited by hand. The
    // entry shows both values and when it appeared; an acceptance with a
    // reason shows too, and the first sighting stays the first.
    let payload = env
        .home()
        .join(format!("envs/local/revisions/{}/payload/index.html", l.r2));
    std::fs::write(&payload, "hotfixed by hand\n").unwrap();
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/site/drift", "");
    let drift = result(s, &body);
    assert_eq!(drift["state"], "drifted", "{drift}");
    let entry = drift["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["entry"]["field"] == "file:index.html")
        .unwrap_or_else(|| panic!("{drift}"))
        .clone();
    assert_eq!(entry["entry"]["revision"], l.r2.as_str());
    assert!(entry["entry"]["expected"].is_string() && entry["entry"]["observed"].is_string());
    assert_eq!(entry["accepted"], false);
    let first_seen = entry["first_seen"].as_str().unwrap().to_string();
    let id = entry["entry"]["id"].as_str().unwrap();
    env.json(&[
        "drift",
        "accept",
        id,
        "--reason",
        "hotfix INC-42",
        "--env",
        "local",
    ]);
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/site/drift", "");
    let drift = result(s, &body);
    assert_eq!(drift["state"], "accepted", "{drift}");
    let entry = &drift["drift"][0];
    assert_eq!(entry["accepted"], true, "{entry}");
    assert_eq!(entry["acceptance"]["reason"], "hotfix INC-42");
    assert_eq!(entry["first_seen"], first_seen.as_str());

    // Packs: bindings and grants as `env show`.
    let (s, _, body) = get(a, "/api/v1/env/staging/packs", "");
    let packs = result(s, &body);
    let show = env.json(&["env", "show", "staging"]);
    let deployer = packs["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot"] == "deployer")
        .unwrap();
    assert_eq!(
        deployer["digest"],
        show["lock"]["slots"]["deployer"]["digest"]
    );
    assert_eq!(
        deployer["grants"],
        show["lock"]["slots"]["deployer"]["grants"]
    );
    assert!(deployer["upgrade"].is_null(), "{deployer}");
    let state = packs["slots"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["slot"] == "state")
        .unwrap();
    assert_eq!(state["descriptor"], "acme.state.memory@1.2.0");
    let upgrade = &state["upgrade"];
    assert_eq!(upgrade["descriptor"], "acme.state.memory@1.3.0", "{state}");
    assert_eq!(
        upgrade["added"],
        serde_json::json!(["http:api.acme.example"])
    );
    assert_eq!(
        upgrade["not_granted"],
        serde_json::json!(["http:api.acme.example"])
    );
    assert_eq!(upgrade["removed"], serde_json::json!([]));

    // A missing deployment: the CLI's error, in the envelope.
    let (s, _, body) = get(a, "/api/v1/env/local/deployments/nope", "");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(s, 404, "{v}");
    assert_eq!(v["ok"], false);
    assert_eq!(v["error"]["kind"], "not-found");

    // No answer carries the secret's value (its name may appear).
    for path in [
        "/",
        "/app.js",
        "/api/v1/ladder",
        "/api/v1/audit",
        "/api/v1/env/local/packs",
        "/api/v1/env/local/deployments/site",
        "/api/v1/env/local/deployments/site/drift",
    ] {
        let (_, _, body) = get(a, path, "");
        assert!(!body.contains(SECRET), "{path} shows the secret's value");
    }

    // What the gate still needs: 2.0.0 serves in local, staging asks for a
    // soak it has not had; the check that fails comes with its fix.
    env.json(&["env", "policy", "staging", "--soak", "10%:1h"]);
    env.json(&["traffic", "set", "site", &format!("{}=100%", l.r2)]);
    let (s, _, body) = get(a, "/api/v1/ladder", "");
    let ladder = result(s, &body);
    let next = ladder["promotions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["bundle"] == l.b2.as_str())
        .unwrap_or_else(|| panic!("no promotion of 2.0.0: {}", ladder["promotions"]));
    assert_eq!(next["state"], "blocked", "{next}");
    let soak = next["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["check"] == "soak")
        .unwrap_or_else(|| panic!("no soak check: {next}"));
    assert_eq!(soak["passed"], false, "{soak}");
    assert!(
        next["refusal"].as_str().unwrap().contains("release gate"),
        "{next}"
    );
    assert!(
        next["checks"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["check"] == "carried-traffic" && c["passed"] == true)
    );
    // The preview was a dry run: no promotion report, no audit entry.
    let audit = env.json(&["audit", "--env", "staging", "--verb", "promote"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["result"] != "denied"),
        "{audit}"
    );
}

#[test]
fn changes_are_planned_confirmed_and_refused_from_elsewhere() {
    assert!(
        python_available(),
        "the local runtime's payloads need python3"
    );
    let env = Env::new(BIN);
    let _down = Down(&env);
    let l = ladder(&env);
    let ui = dashboard(&env, &["--listen", "127.0.0.1:0"]);
    let a = &ui.addr;
    let path = "/api/v1/env/local/deployments/site/traffic";
    let json = "Content-Type: application/json\r\n";
    let split = format!(r#"{{"weights": ["{}=50%", "{}=50%"]}}"#, l.r1, l.r2);

    // The plan first: nothing changes.
    let before = env.json(&["traffic", "show", "site"])["generation"].clone();
    let (s, body) = post(a, path, json, &split);
    let plan = result(s, &body);
    assert_eq!(plan["plan"]["verb"], "traffic.set");
    assert_eq!(plan["generation"], before);
    assert_eq!(plan["actor"]["name"], UI_ACTOR);
    assert_eq!(env.json(&["traffic", "show", "site"])["generation"], before);

    // A form post from another site, or any other origin, is refused.
    let (s, _) = post(a, path, "Content-Type: text/plain\r\n", &split);
    assert_eq!(s, 403);
    let (s, _) = post(
        a,
        path,
        &format!("{json}Origin: http://evil.example\r\n"),
        &split,
    );
    assert_eq!(s, 403);
    // A name other than loopback is refused without a token (rebinding).
    let (s, _, _) = http(
        a,
        "GET /api/v1/ladder HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(s, 403);

    // Confirmed at a stale generation: refused, nothing changed.
    let stale = format!(
        r#"{{"weights": ["{}=50%", "{}=50%"], "confirm": true, "generation": 0}}"#,
        l.r1, l.r2
    );
    let (s, body) = post(a, path, json, &stale);
    assert_eq!(s, 409, "{body}");
    // Confirmed at the plan's generation: applied, audited with the actor.
    let confirmed = format!(
        r#"{{"weights": ["{}=50%", "{}=50%"], "confirm": true, "generation": {before}}}"#,
        l.r1, l.r2
    );
    let (s, body) = post(
        a,
        path,
        &format!("{json}Origin: http://{a}\r\n"),
        &confirmed,
    );
    let out = result(s, &body);
    assert_eq!(out["outcome"], "applied");
    let shown = env.json(&["traffic", "show", "site"]);
    assert_eq!(shown["generation"], before.as_u64().unwrap() + 1);
    assert_eq!(shown["weights"][0]["basis_points"], 5000);
    let audit = env.json(&["audit", "--env", "local", "--verb", "traffic.set"]);
    let last = audit.as_array().unwrap().last().unwrap();
    assert_eq!(last["actor"], UI_ACTOR, "{last}");
    assert!(
        last["command"].as_str().unwrap().starts_with("envpack ui"),
        "{last}"
    );
}

#[test]
fn a_network_bind_needs_a_token_and_the_token_is_checked() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    let refused = env.fails(4, &["ui", "--listen", "0.0.0.0:0"]);
    assert_eq!(refused["kind"], "denied");
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("without a token"),
        "{refused}"
    );
    assert!(
        refused["hint"].as_str().unwrap().contains("--token-file"),
        "{refused}"
    );
    let short = env.home().join("short-token");
    std::fs::write(&short, "abc\n").unwrap();
    let bad = env.fails(
        2,
        &[
            "ui",
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            short.to_str().unwrap(),
        ],
    );
    assert!(
        bad["message"].as_str().unwrap().contains("too short"),
        "{bad}"
    );

    let token = "e2e-token-0123456789abcdef";
    let file = env.home().join("ui-token");
    std::fs::write(&file, format!("{token}\n")).unwrap();
    let ui = dashboard(
        &env,
        &[
            "--listen",
            "127.0.0.1:0",
            "--token-file",
            file.to_str().unwrap(),
        ],
    );
    let a = &ui.addr;
    let (s, _, body) = get(a, "/api/v1/ladder", "");
    assert_eq!(s, 401, "{body}");
    let v: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["error"]["kind"], "denied");
    let (s, _, body) = get(a, "/", "");
    assert_eq!(s, 401);
    assert!(body.contains("Token required"), "{body}");
    assert!(!body.contains(token));
    let (s, _, body) = get(
        a,
        "/api/v1/ladder",
        &format!("Authorization: Bearer {token}\r\n"),
    );
    result(s, &body);
    // A login sets the cookie and leaves the token out of the URL.
    let (s, headers, _) = get(a, &format!("/?token={token}"), "");
    assert_eq!(s, 303);
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    assert_eq!(header("location"), "/");
    let cookie = header("set-cookie");
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    let (s, _, body) = get(a, "/api/v1/ladder", &format!("Cookie: {pair}\r\n"));
    result(s, &body);
    let (s, _, _) = get(a, "/?token=wrong-token-0123456789", "");
    assert_eq!(s, 401);
    // As the login form sends it: form-encoded.
    let encoded = token.replace('-', "%2D");
    let (s, _, _) = get(a, &format!("/?token={encoded}"), "");
    assert_eq!(s, 303);
    // Any Host is fine with the token (a reverse proxy's name).
    let (s, _, body) = http(
        a,
        &format!(
            "GET /api/v1/ladder HTTP/1.1\r\nHost: dash.example\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
        ),
    );
    result(s, &body);
}

/// Reads an event stream until `want` arrives (or the generous timeout).
fn read_until(s: &mut TcpStream, seen: &mut String, want: &str) {
    let mut buf = [0u8; 4096];
    let start = std::time::Instant::now();
    while !seen.contains(want) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "no {want:?} on the event stream; got:\n{seen}"
        );
        match s.read(&mut buf) {
            Ok(0) => panic!("the event stream ended; got:\n{seen}"),
            Ok(n) => seen.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("reading the event stream: {e}"),
        }
    }
}

/// On a shared PostgreSQL backend the dashboard answers from it, and a
/// teammate's change (another process, the same database) reaches the
/// page's event stream, woken by NOTIFY.
#[test]
fn events_follow_a_postgres_backend() {
    let url = envpack_e2e::postgres_url("ui");
    let env = Env::new(BIN);
    env.json(&["backend", "set", &url]);
    env.json(&["backend", "migrate"]);
    env.json(&["env", "init", "dev"]);
    let ui = dashboard(&env, &["--listen", "127.0.0.1:0"]);
    let a = &ui.addr;
    let mut s = TcpStream::connect(a).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    s.write_all(format!("GET /api/v1/events HTTP/1.1\r\nHost: {a}\r\n\r\n").as_bytes())
        .unwrap();
    let mut seen = String::new();
    read_until(&mut s, &mut seen, "event: ready");
    assert!(seen.contains("text/event-stream"), "{seen}");
    // A teammate on another machine: only the database is shared.
    let teammate = Env::new(BIN);
    teammate.json(&["backend", "set", &url]);
    teammate.json(&[
        "env",
        "policy",
        "dev",
        "--require-evidence",
        "evidence/*.json",
    ]);
    read_until(&mut s, &mut seen, "event: change");
    assert!(seen.contains(r#""environments":["dev"]"#), "{seen}");
    let (st, _, body) = get(a, "/api/v1/ladder", "");
    let ladder = result(st, &body);
    assert_eq!(ladder["environments"][0]["name"], "dev");
    assert_eq!(
        ladder["environments"][0]["gate"]["evidence"],
        serde_json::json!(["evidence/*.json"])
    );
}
