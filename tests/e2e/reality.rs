//! Issue 9 (first part): reality on the local runtime. Two real revisions
//! are observed in sync; then a payload file is edited and a process killed
//! by hand, and `drift` shows both as evidence (exit 2), keeps them after an
//! acceptance with a reason, and `env down` makes stopped revisions
//! expected.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::path::PathBuf;
use std::time::{Duration, Instant};

use envpack_e2e::Env;
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Stops every revision when the test ends, even on failure.
struct Down<'a>(&'a Env);

impl Drop for Down<'_> {
    fn drop(&mut self) {
        let _ = self.0.run(&["env", "down", "local"]);
    }
}

/// A bundle whose payload serves `body` with Python's http.server.
fn site(env: &Env, version: &str, body: &str) -> PathBuf {
    env.python_site(version, body, &["health=/index.html"])
}

/// `drift` with `--json`: its exit code and its result (or error).
fn drift(env: &Env) -> (i32, Value) {
    let r = env.run(&["--json", "drift", "--env", "local"]);
    let v = r.envelope();
    let body = if v["ok"] == true {
        v["result"].clone()
    } else {
        v["error"].clone()
    };
    (r.code, body)
}

fn entry<'a>(drift: &'a Value, revision: &str, field: &str) -> &'a Value {
    drift["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["revision"] == revision && d["field"] == field)
        .unwrap_or_else(|| panic!("no {field} drift for {revision}: {drift}"))
}

fn pid_of(env: &Env, revision: &str) -> i32 {
    let record = env
        .home()
        .join(format!("envs/local/revisions/{revision}/process.json"));
    let v: Value = serde_json::from_slice(&std::fs::read(record).unwrap()).unwrap();
    v["pid"].as_i64().unwrap() as i32
}

#[test]
fn out_of_band_changes_show_as_drift_and_stay_as_evidence() {
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
    let v1 = site(&env, "1.0.0", "one\n");
    let v2 = site(&env, "2.0.0", "two\n");
    let r1 = env.json(&["deploy", v1.to_str().unwrap(), "--env", "local"])["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let r2 = env.json(&["deploy", v2.to_str().unwrap(), "--env", "local"])["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();

    // In sync, and an identical second observation is the same snapshot.
    let first = env.json(&["observe", "--env", "local"]);
    assert_eq!(first["state"], "in-sync", "{first}");
    let observed = first["observation"]["revisions"].as_array().unwrap();
    assert_eq!(observed.len(), 2, "{first}");
    assert!(
        observed.iter().all(|o| o["state"] == "running"
            && o["files"]["index.html"].is_string()
            && o["deployment"] == "site"),
        "{first}"
    );
    let again = env.json(&["observe", "--env", "local"]);
    assert_eq!(again["snapshot"], first["snapshot"]);
    assert_eq!(again["seen_before"], true);
    let snapshots = env.json(&["snapshots", "--env", "local"]);
    assert_eq!(snapshots.as_array().unwrap().len(), 1, "{snapshots}");
    assert_eq!(snapshots[0]["count"], 2);

    // Out of band: an edited file in r2's running payload, r1 killed.
    let payload = env
        .home()
        .join(format!("envs/local/revisions/{r2}/payload/index.html"));
    std::fs::write(&payload, "hotfixed by hand\n").unwrap();
    let pid = pid_of(&env, &r1);
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{pid}")])
        .status();
    let deadline = Instant::now() + Duration::from_secs(5);
    let (code, seen) = loop {
        let (code, seen) = drift(&env);
        let dead = seen["drift"].as_array().is_some_and(|d| {
            d.iter()
                .any(|e| e["revision"] == r1.as_str() && e["kind"] == "missing")
        });
        if dead || Instant::now() > deadline {
            break (code, seen);
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(code, 2, "drift exits 2: {seen}");
    assert_eq!(seen["state"], "drifted");
    let dead = entry(&seen, &r1, "revision");
    assert_eq!(dead["kind"], "missing");
    assert_eq!(dead["expected"], "running");
    assert_eq!(dead["observed"], "exited", "what was seen instead: {seen}");
    let file = entry(&seen, &r2, "file:index.html");
    assert_eq!(file["kind"], "changed");
    assert_ne!(file["expected"], file["observed"], "both digests are shown");
    assert!(
        file["expected_bundle"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );

    // Forensics: the hand-edited content appeared after the first
    // observation and no bundle ever carried it; the released ones did.
    let history = env.json(&["history", "index.html", "--env", "local"]);
    let seen = history["seen"].as_array().unwrap();
    let edited = seen
        .iter()
        .find(|s| s["sha256"] == file["observed"])
        .unwrap_or_else(|| panic!("{history}"));
    assert!(
        edited["bundles"].as_array().unwrap().is_empty(),
        "{history}"
    );
    assert_eq!(edited["revisions"][0], r2.as_str());
    assert!(edited["first_seen"].as_str().unwrap() >= first["at"].as_str().unwrap());
    let released = seen
        .iter()
        .find(|s| s["sha256"] == file["expected"])
        .unwrap_or_else(|| panic!("{history}"));
    assert_eq!(released["bundles"][0], file["expected_bundle"], "{history}");
    let exact = env.json(&[
        "history",
        &format!("index.html@{}", file["observed"].as_str().unwrap()),
        "--env",
        "local",
    ]);
    assert_eq!(exact["seen"].as_array().unwrap().len(), 1, "{exact}");

    // Doctor fails naming the dead revision and the fix; the revision
    // list shows what was observed next to the recorded lifecycle.
    let doctor = env.fails(10, &["env", "doctor", "local"]);
    let reality: Vec<&Value> = doctor["details"]["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == "reality")
        .collect();
    assert_eq!(reality.len(), 1, "{doctor}");
    assert!(
        reality[0]["message"].as_str().unwrap().contains(&r1),
        "{doctor}"
    );
    assert_eq!(reality[0]["severity"], "error");
    assert!(reality[0]["fix"].as_str().unwrap().contains("env up local"));
    let list = env.ok(&["revisions", "list", "--env", "local"]);
    assert!(list.contains("ready (observed: exited,"), "{list}");
    assert!(list.contains("ready (observed: running,"), "{list}");

    // The revision's output: what its server logged (health checks).
    env.fails(2, &["logs", &r2[..6], "--env", "local"]); // an ambiguous prefix
    let logs = env.json(&["logs", &r2, "--env", "local", "--tail", "2"]);
    assert_eq!(logs["revision"], r2.as_str());
    assert!(
        logs["output"].as_str().unwrap().contains("GET /index.html"),
        "{logs}"
    );

    // Status: the dead revision as observed, its failing health, the drift.
    let status = env.json(&["status", "--env", "local"]);
    let site = &status["deployments"][0];
    assert_eq!(site["drift"], "drifted", "{status}");
    let dead = site["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["revision"] == r1.as_str())
        .unwrap();
    assert_eq!(dead["observed"], "exited", "{status}");
    assert_eq!(dead["basis_points"], 10000);
    assert_ne!(dead["health"], "healthy", "{status}");
    let all = env.run(&["--json", "drift", "--all"]);
    assert_eq!(all.code, 2, "{}", all.stdout);
    assert_eq!(all.envelope()["result"]["cells"][0]["state"], "drifted");

    // Accepting the hotfix keeps it visible, audited; the dead revision
    // still fails the exit code.
    let id = file["id"].as_str().unwrap();
    env.fails(2, &["drift", "accept", "--env", "local"]); // usage: entries and --reason
    env.fails(
        3,
        &[
            "drift",
            "accept",
            "000000000000",
            "--reason",
            "x",
            "--env",
            "local",
        ],
    );
    // Planned first: a dry run shows the acceptance and changes nothing.
    let before = envpack_e2e::tree_digest(env.home());
    let plan = env.json(&[
        "--dry-run",
        "drift",
        "accept",
        id,
        "--reason",
        "hotfix INC-42, released next",
        "--env",
        "local",
    ]);
    assert_eq!(plan["verb"], "drift.accept", "{plan}");
    assert_eq!(plan["changes"][0]["before"], "not accepted", "{plan}");
    envpack_e2e::assert_same_tree(
        "drift accept --dry-run",
        &before,
        &envpack_e2e::tree_digest(env.home()),
    );
    let accepted = env.json(&[
        "drift",
        "accept",
        id,
        "--reason",
        "hotfix INC-42, released next",
        "--env",
        "local",
    ]);
    assert_eq!(accepted["accepted"][0]["entry"], id);
    let audit = env.json(&["audit", "--env", "local"]);
    assert!(
        audit.as_array().unwrap().iter().any(
            |e| e["verb"] == "drift.accept" && e["target"].as_str().unwrap().contains("INC-42")
        ),
        "{audit}"
    );
    let (code, seen) = drift(&env);
    assert_eq!(code, 2, "{seen}");
    assert_eq!(
        entry(&seen, &r2, "file:index.html")["id"],
        id,
        "same evidence, same id"
    );

    // After `env down` nothing is expected to run: only the accepted
    // hotfix is left, so drift exits 0 and says so.
    env.json(&["env", "down", "local"]);
    let (code, seen) = drift(&env);
    assert_eq!(code, 0, "{seen}");
    assert_eq!(seen["state"], "accepted", "{seen}");
    let list = env.ok(&["revisions", "list", "--env", "local"]);
    assert!(list.contains("ready (stopped by env down)"), "{list}");
    let snapshots = env.json(&["snapshots", "--env", "local"]);
    let newest = snapshots.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = env.json(&["snapshots", "show", &newest[7..19], "--env", "local"]);
    assert_eq!(shown["snapshot"]["environment"], "local");
    assert!(
        shown["snapshot"]["expectation"]["revisions"]
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["running"] == false),
        "{shown}"
    );
}

/// A revision whose process exits during warm-up fails at once with its
/// output, whatever `--timeout` allows.
#[test]
fn a_process_that_exits_fails_its_warm_up_at_once() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    let _down = Down(&env);
    let dir = env.home().join("crash");
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("run.sh");
    std::fs::write(&script, "#!/bin/sh\necho \"boom: no config\" >&2\nexit 3\n").unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = env.home().join("crash.tgz");
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        "crash",
        "--version",
        "1.0.0",
        "--source",
        "main",
        "--ref",
        "main",
        "--attr",
        "run=./run.sh {port}",
        "--out",
        out.to_str().unwrap(),
    ]);
    let failed = env.fails(
        9,
        &[
            "deploy",
            out.to_str().unwrap(),
            "--env",
            "local",
            "--timeout",
            "10m",
        ],
    );
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("exited with status 3 during warm-up"),
        "{failed}"
    );
    assert!(message.contains("boom: no config"), "{failed}");
    // Observed afterwards with its exit status (a failed revision is not
    // expected to run, so this is no drift).
    let seen = env.json(&["observe", "--env", "local"]);
    assert_eq!(
        seen["observation"]["revisions"][0]["state"], "exited(3)",
        "{seen}"
    );
    assert_eq!(seen["state"], "in-sync", "{seen}");
    env.fails(2, &["deploy", out.to_str().unwrap(), "--timeout", "soon"]);
}

/// A bundle of one file for the scripted deployer.
fn plain(env: &Env, version: &str) -> PathBuf {
    let dir = env.home().join(format!("web-{version}"));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), version).unwrap();
    let out = env.home().join(format!("web-{version}.tgz"));
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        version,
        "--source",
        "main",
        "--ref",
        "main",
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

/// Every drift case from a scripted reality: missing, unexpected, changed,
/// volatile fields normalised away, identical observations deduplicated,
/// and a failed observation kept as unobservable (exit 1), never in sync.
#[test]
fn scripted_realities_drive_every_drift_case() {
    let deployer = envpack_e2e::build_pack(BIN, "scripted-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.scripted@0.1.0",
        "--grant-requested",
    ]);
    let script = |reality: &str| {
        env.json(&[
            "env",
            "config",
            "dev",
            "acme.deployer.scripted",
            "reality",
            reality,
        ]);
    };
    let d1 = env.json(&[
        "deploy",
        plain(&env, "1.0.0").to_str().unwrap(),
        "--env",
        "dev",
    ]);
    let d2 = env.json(&[
        "deploy",
        plain(&env, "2.0.0").to_str().unwrap(),
        "--env",
        "dev",
    ]);
    let (r1, b1) = (
        d1["revision"]["id"].as_str().unwrap(),
        d1["bundle"].as_str().unwrap(),
    );
    let (r2, b2) = (
        d2["revision"]["id"].as_str().unwrap(),
        d2["bundle"].as_str().unwrap(),
    );

    // No script: the deployer reports what it deployed. In sync.
    assert_eq!(env.json(&["observe", "--env", "dev"])["state"], "in-sync");

    // r2 missing, an unexpected r9, volatile fields that change every time.
    script(&format!(
        "web|{r1}|running|{b1}||started=1,volatile=started;web|r9|running|||"
    ));
    let (code, seen) = drift_in(&env, "dev");
    assert_eq!(code, 2, "{seen}");
    assert_eq!(entry(&seen, r2, "revision")["kind"], "missing");
    assert_eq!(entry(&seen, r2, "revision")["expected_bundle"], b2);
    assert_eq!(entry(&seen, "r9", "revision")["kind"], "unexpected");
    assert_eq!(seen["drift"].as_array().unwrap().len(), 2, "{seen}");
    let snapshot = seen["snapshot"].clone();
    script(&format!(
        "web|{r1}|running|{b1}||started=2,volatile=started;web|r9|running|||"
    ));
    let again = env.run(&["--json", "observe", "--env", "dev"]);
    assert_eq!(again.code, 2, "observe exits like drift");
    let again = again.envelope()["result"].clone();
    assert_eq!(
        again["snapshot"], snapshot,
        "volatile fields are normalised away"
    );
    assert_eq!(again["seen_before"], true);

    // r1 reported running another bundle: changed, both values shown.
    script(&format!(
        "web|{r1}|running|sha256:{}||;web|{r2}|running|{b2}||",
        "0".repeat(64)
    ));
    let (code, seen) = drift_in(&env, "dev");
    assert_eq!(code, 2);
    let changed = entry(&seen, r1, "bundle");
    assert_eq!(changed["kind"], "changed");
    assert_eq!(changed["expected"], b1);
    assert!(changed["observed"].as_str().unwrap().ends_with("0000"));

    // The deployer cannot tell: unobservable, exit 1, and kept as such.
    script("fail:the target API answered 503");
    let failed = env.fails(1, &["observe", "--env", "dev"]);
    assert_eq!(failed["kind"], "unobservable");
    assert!(
        failed["message"].as_str().unwrap().contains("503"),
        "{failed}"
    );
    assert_eq!(failed["details"]["state"], "unobservable");
    let (code, seen) = drift_in(&env, "dev");
    assert_eq!(code, 1, "{seen}");
    let snapshots = env.json(&["snapshots", "--env", "dev"]);
    let last = snapshots.as_array().unwrap().last().unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = env.json(&["snapshots", "show", &last, "--env", "dev"]);
    assert_eq!(shown["snapshot"]["observation"]["outcome"], "unobservable");
    assert!(
        shown["drift"].is_null(),
        "an unobservable snapshot has no drift: {shown}"
    );
    let list = env.ok(&["revisions", "list", "--env", "dev"]);
    assert!(list.contains("(observed: unobservable,"), "{list}");
}

fn drift_in(env: &Env, name: &str) -> (i32, Value) {
    let r = env.run(&["--json", "drift", "--env", name]);
    let v = r.envelope();
    let body = if v["ok"] == true {
        v["result"].clone()
    } else {
        v["error"]["details"].clone()
    };
    (r.code, body)
}

/// Observations killed with SIGKILL at any moment leave no torn snapshot:
/// every listed snapshot still reads and matches its id.
#[test]
fn snapshots_survive_sigkill_mid_write() {
    let deployer = envpack_e2e::build_pack(BIN, "scripted-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.scripted@0.1.0",
        "--grant-requested",
    ]);
    env.json(&[
        "deploy",
        plain(&env, "1.0.0").to_str().unwrap(),
        "--env",
        "dev",
    ]);
    for i in 0..24u64 {
        // A new reality each time, so each observation writes a new blob.
        env.json(&[
            "env",
            "config",
            "dev",
            "acme.deployer.scripted",
            "reality",
            &format!("web|r{i}|running|||"),
        ]);
        let mut child = env
            .cmd()
            .args(["observe", "--env", "dev"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(2 + (i * 7) % 40));
        let _ = child.kill();
        let _ = child.wait();
    }
    // Whatever was cut short, the history reads and every snapshot in it
    // verifies against its content address.
    env.run(&["observe", "--env", "dev"]);
    let snapshots = env.json(&["snapshots", "--env", "dev"]);
    let list = snapshots.as_array().unwrap();
    assert!(!list.is_empty(), "{snapshots}");
    for s in list {
        let id = s["id"].as_str().unwrap();
        let shown = env.json(&["snapshots", "show", id, "--env", "dev"]);
        assert_eq!(shown["id"], id);
    }
}
