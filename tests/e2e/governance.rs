//! Issue 12: every change audited with a real actor, a plan before every
//! mutation (`--dry-run` changes nothing: every file of the home hashes the
//! same), production changes confirmed or refused, additive policy edits.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::PathBuf;

use envpack_e2e::{Env, assert_same_tree, build_pack, tree_digest};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// dev -> prod (production) on the recorder deployer, with a web
/// deployment of two ready revisions in dev.
fn ladder() -> (Env, PathBuf, Vec<String>) {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&[
        "env",
        "init",
        "dev",
        "--allow-source",
        "main",
        "--allow-source",
        "release-tag",
    ]);
    env.json(&["env", "init", "spare"]);
    env.json(&["env", "init", "prod", "--after", "dev", "--production"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    for e in ["dev", "prod"] {
        env.json(&[
            "--yes",
            "env",
            "bind",
            e,
            "deployer",
            "acme.deployer.recorder@0.1.0",
            "--grant-requested",
        ]);
        env.json(&[
            "--yes",
            "env",
            "config",
            e,
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ]);
    }
    let mut revs = Vec::new();
    let mut last = PathBuf::new();
    for v in ["1.0.0", "1.1.0"] {
        last = bundle(&env, v);
        let out = env.json(&["deploy", last.to_str().unwrap(), "--env", "dev"]);
        revs.push(out["revision"]["id"].as_str().unwrap().to_string());
    }
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{}=100%", revs[1]),
    ]);
    env.json(&["--env", "dev", "state", "put", "app/mode", "blue"]);
    env.json(&["--env", "dev", "secrets", "put", "API_KEY", "s3cr3t-value"]);
    (env, last, revs)
}

fn bundle(env: &Env, version: &str) -> PathBuf {
    let dir = env.home().join(format!("payload-{version}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), format!("version {version}\n")).unwrap();
    let out = env.home().join(format!("web-{version}.tgz"));
    env.json(&[
        "bundle",
        "build",
        dir.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        version,
        "--source",
        "release-tag",
        "--ref",
        &format!("v{version}"),
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

/// Runs `args` with `--dry-run`; asserts a plan was printed (human and
/// JSON) and that no file of the home changed.
fn dry(env: &Env, args: &[&str]) -> Value {
    let before = tree_digest(env.home());
    let mut all = vec!["--dry-run"];
    all.extend_from_slice(args);
    let human = env.ok(&all);
    assert!(
        human.contains("dry run: nothing was changed"),
        "{args:?}: {human}"
    );
    assert!(
        human.contains(" -> "),
        "{args:?} shows no before -> after: {human}"
    );
    assert_same_tree(
        &format!("{args:?} --dry-run (human)"),
        &before,
        &tree_digest(env.home()),
    );
    let plan = env.json(&all);
    assert_same_tree(
        &format!("{args:?} --dry-run (json)"),
        &before,
        &tree_digest(env.home()),
    );
    plan
}

#[test]
fn every_mutating_verb_has_a_dry_run_that_changes_nothing() {
    let (env, file, revs) = ladder();
    let deployer = build_pack(BIN, "test-deployer");
    let id = env.json(&["bundle", "verify", file.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let traffic = format!("{}=50%", revs[0]);
    let traffic2 = format!("{}=50%", revs[1]);
    let verbs: Vec<Vec<&str>> = vec![
        vec!["env", "policy", "dev", "--add-source", "feature-branch"],
        vec!["env", "bind", "dev", "state", "greentic.state.fs"],
        vec!["env", "unbind", "dev", "telemetry"],
        vec![
            "env",
            "config",
            "dev",
            "greentic.telemetry.stdout",
            "level",
            "info",
        ],
        vec!["env", "limits", "dev", "--kv-quota-mb", "5"],
        vec!["env", "down", "dev"],
        vec!["env", "up", "dev"],
        vec!["env", "rm", "spare"],
        vec!["env", "init", "brand-new"],
        vec!["--env", "dev", "secrets", "put", "OTHER", "v"],
        vec!["--env", "dev", "secrets", "rm", "API_KEY"],
        vec!["--env", "dev", "state", "put", "app/mode", "green"],
        vec!["--env", "dev", "state", "rm", "app/mode"],
        vec!["--env", "dev", "traffic", "set", "web", &traffic, &traffic2],
        vec!["--env", "dev", "rollback"],
        vec!["--env", "dev", "revisions", "drain", &revs[0]],
        vec!["promote", &id, "--to", "prod"],
        vec!["pack", "install", deployer.to_str().unwrap()],
        vec!["pack", "remove", "acme.deployer.recorder@0.1.0", "--force"],
    ];
    for args in &verbs {
        let plan = dry(&env, args);
        assert_eq!(plan["dry_run"], true, "{args:?}: {plan}");
        assert!(
            !plan["changes"].as_array().unwrap().is_empty(),
            "{args:?}: {plan}"
        );
    }
    // A plan names the change: the split before and after.
    let plan = dry(&env, &verbs[13]);
    assert_eq!(verbs[13][2], "traffic");
    let split = &plan["changes"][0];
    assert_eq!(split["what"], "split");
    assert_eq!(split["before"], format!("{}=10000bps", revs[1]));
    assert!(
        split["after"].as_str().unwrap().contains("=5000bps"),
        "{plan}"
    );
    // Archiving takes a revision that no longer runs.
    env.json(&["--env", "dev", "revisions", "drain", &revs[0]]);
    dry(&env, &["--env", "dev", "revisions", "archive", &revs[0]]);
    // deploy had --dry-run before; it still changes nothing.
    let before = tree_digest(env.home());
    let out = env.ok(&[
        "--dry-run",
        "deploy",
        file.to_str().unwrap(),
        "--env",
        "dev",
    ]);
    assert!(out.contains("dry run: nothing was changed"), "{out}");
    assert_same_tree("deploy --dry-run", &before, &tree_digest(env.home()));
}

#[test]
fn production_changes_need_confirmation_and_refusals_are_audited() {
    let (env, _file, _revs) = ladder();
    let before = env.json(&["env", "show", "prod"])["meta"]["policy"].clone();
    // No terminal (stdin is not one here) and no --yes: refused, exit 4.
    let refused = env.fails(4, &["env", "policy", "prod", "--add-source", "main"]);
    let message = refused["message"].as_str().unwrap();
    assert!(message.contains("production environment prod"), "{refused}");
    assert!(message.contains("nothing changed"), "{refused}");
    let hint = refused["hint"].as_str().unwrap();
    assert!(
        hint.contains("--dry-run") && hint.contains("--yes"),
        "{refused}"
    );
    assert_eq!(env.json(&["env", "show", "prod"])["meta"]["policy"], before);
    // The same for the deployment verbs.
    env.fails(4, &["--env", "prod", "secrets", "put", "K", "v"]);
    env.fails(4, &["env", "down", "prod"]);
    let audit = env.json(&["audit", "--env", "prod"]);
    let refusals: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["result"]
                .as_str()
                .unwrap()
                .starts_with("refused: production change not confirmed")
        })
        .collect();
    let verbs: Vec<&str> = refusals
        .iter()
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs, ["env.policy", "secrets.put", "env.down"], "{audit}");
    // With --yes it goes ahead, and the confirmation is audited too.
    let done = env.json(&["--yes", "env", "policy", "prod", "--add-source", "main"]);
    assert!(
        done["after"]["allowed_sources"]
            .as_array()
            .unwrap()
            .contains(&Value::from("main"))
    );
    let audit = env.json(&["audit", "--env", "prod", "--verb", "env.policy"]);
    let results: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results[1..],
        ["confirmed with --yes", "started", "ok"],
        "{audit}"
    );
    // --dry-run never needs confirmation: it changes nothing.
    dry(&env, &["env", "policy", "prod", "--remove-source", "main"]);
}

/// Runs `args` as `actor` (through ENVPACK_ACTOR), no CI variables.
fn as_actor(env: &Env, actor: &str, args: &[&str]) {
    let out = env
        .cmd()
        .env("ENVPACK_ACTOR", actor)
        .env_remove("GITHUB_ACTOR")
        .env_remove("GITLAB_USER_LOGIN")
        .env_remove("BUILDKITE_BUILD_CREATOR")
        .env_remove("CI_JOB_ID")
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn every_change_is_audited_with_its_actor_and_command() {
    let (env, _file, _revs) = ladder();
    let deployer = build_pack(BIN, "test-deployer");
    let changes: Vec<(&str, Vec<&str>)> = vec![
        (
            "env.policy",
            vec!["env", "policy", "dev", "--add-source", "feature-branch"],
        ),
        (
            "env.bind",
            vec!["env", "bind", "dev", "state", "greentic.state.fs"],
        ),
        (
            "env.config.set",
            vec![
                "env",
                "config",
                "dev",
                "greentic.telemetry.stdout",
                "level",
                "error",
            ],
        ),
        (
            "env.limits",
            vec!["env", "limits", "dev", "--kv-quota-mb", "7"],
        ),
        (
            "secrets.put",
            vec![
                "--env",
                "dev",
                "secrets",
                "put",
                "DB_PASSWORD",
                "hunter2-secret",
            ],
        ),
        (
            "secrets.rm",
            vec!["--env", "dev", "secrets", "rm", "DB_PASSWORD"],
        ),
        (
            "state.put",
            vec!["--env", "dev", "state", "put", "app/mode", "green"],
        ),
        ("state.rm", vec!["--env", "dev", "state", "rm", "app/mode"]),
        ("env.unbind", vec!["env", "unbind", "spare", "telemetry"]),
        ("env.init", vec!["env", "init", "qa"]),
        ("env.rm", vec!["env", "rm", "qa"]),
        (
            "pack.install",
            vec!["pack", "install", deployer.to_str().unwrap()],
        ),
    ];
    for (_, args) in &changes {
        as_actor(&env, "alice@example.com", args);
    }
    let audit = env.json(&["audit", "--all", "--by", "alice@example.com"]);
    let events = audit.as_array().unwrap();
    for (verb, args) in &changes {
        let ok = events
            .iter()
            .find(|e| e["verb"] == *verb && e["result"] == "ok");
        let ok = ok.unwrap_or_else(|| panic!("{verb} ({args:?}) is not audited as ok: {audit}"));
        assert_eq!(ok["actor_source"], "ENVPACK_ACTOR");
        assert!(
            ok["command"].as_str().unwrap().starts_with("envpack "),
            "{ok}"
        );
        assert!(
            ok.get("before").is_some() || ok.get("after").is_some(),
            "{ok}"
        );
        let started = events
            .iter()
            .any(|e| e["verb"] == *verb && e["result"] == "started");
        assert!(started, "{verb} has no started event: {audit}");
    }
    // Before and after of what changed.
    let policy = events.iter().find(|e| e["verb"] == "env.policy").unwrap();
    assert!(
        !policy["before"]["allowed_sources"]
            .as_array()
            .unwrap()
            .contains(&Value::from("feature-branch"))
    );
    assert!(
        policy["after"]["allowed_sources"]
            .as_array()
            .unwrap()
            .contains(&Value::from("feature-branch"))
    );
    // env rm is kept in the home's log: the environment's own is gone.
    let rm = events.iter().find(|e| e["verb"] == "env.rm").unwrap();
    assert_eq!(rm["environment"], "qa");
    // Secret values are never recorded, anywhere in the home's audit logs.
    let put = events.iter().find(|e| e["verb"] == "secrets.put").unwrap();
    assert!(
        put["command"]
            .as_str()
            .unwrap()
            .ends_with("DB_PASSWORD <redacted>"),
        "{put}"
    );
    for log in ["envs/dev/audit.jsonl", "envs/audit.jsonl"] {
        let text = fs::read_to_string(env.home().join(log)).unwrap();
        assert!(
            !text.contains("hunter2-secret") && !text.contains("s3cr3t-value"),
            "{log}"
        );
    }
    // Filters: by verb (a prefix of dotted verbs), by time, by environment.
    let env_verbs = env.json(&[
        "audit",
        "--all",
        "--verb",
        "env",
        "--by",
        "alice@example.com",
    ]);
    assert!(
        env_verbs
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["verb"].as_str().unwrap().starts_with("env."))
    );
    assert!(
        env.json(&["audit", "--all", "--until", "1h"])
            .as_array()
            .unwrap()
            .is_empty()
    );
    let recent = env.json(&["audit", "--all", "--since", "1h"]);
    assert_eq!(
        recent.as_array().unwrap().len(),
        env.json(&["audit", "--all"]).as_array().unwrap().len()
    );
    let spare = env.json(&["audit", "--env", "spare"]);
    assert!(
        spare
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["environment"] == "spare"),
        "{spare}"
    );
    let bad = env.fails(2, &["audit", "--since", "yesterday-ish"]);
    assert!(
        bad["hint"].as_str().unwrap().contains("--since 2h"),
        "{bad}"
    );
    // --actor on the command line wins over ENVPACK_ACTOR; CI variables
    // come before the OS user.
    as_actor(
        &env,
        "alice@example.com",
        &[
            "--actor",
            "release-bot",
            "env",
            "limits",
            "dev",
            "--kv-quota-mb",
            "8",
        ],
    );
    let bot = env.json(&["audit", "--env", "dev", "--by", "release-bot"]);
    assert_eq!(bot[0]["actor_source"], "--actor");
    let out = env
        .cmd()
        .env_remove("ENVPACK_ACTOR")
        .env("GITHUB_ACTOR", "octocat")
        .args(["env", "limits", "dev", "--kv-quota-mb", "9"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let gh = env.json(&["audit", "--env", "dev", "--by", "github:octocat"]);
    assert_eq!(gh[0]["actor_source"], "GITHUB_ACTOR", "{gh}");
}

#[test]
fn an_unwritable_audit_log_means_the_change_is_not_made() {
    let (env, _file, _revs) = ladder();
    let before = env.json(&["env", "show", "dev"])["meta"]["policy"].clone();
    let log = env.home().join("envs/dev/audit.jsonl");
    fs::remove_file(&log).unwrap();
    fs::create_dir(&log).unwrap(); // appending to it fails, even as root
    let run = env.run(&[
        "--json",
        "env",
        "policy",
        "dev",
        "--add-source",
        "feature-branch",
    ]);
    assert!(run.code != 0 && run.code != 101, "{run:?}");
    let err = run.envelope()["error"].clone();
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("env.policy was not made"),
        "{err}"
    );
    assert_eq!(env.json(&["env", "show", "dev"])["meta"]["policy"], before);
    let err = env.run(&["--json", "--env", "dev", "state", "put", "app/mode", "red"]);
    assert_ne!(err.code, 0);
    fs::remove_dir(&log).unwrap();
    assert_eq!(
        env.json(&["--env", "dev", "state", "get", "app/mode"])["value"],
        "blue"
    );
}

#[test]
fn policy_edits_are_additive_and_hints_never_loosen_production() {
    let (env, file, _revs) = ladder();
    let added = env.ok(&["env", "policy", "dev", "--add-source", "feature-branch"]);
    assert!(
        added.contains("allowed sources") && added.contains(" -> "),
        "{added}"
    );
    let p = env.json(&["env", "show", "dev"])["meta"]["policy"]["allowed_sources"].clone();
    assert_eq!(
        p.as_array().unwrap().len(),
        3,
        "added, the others kept: {p}"
    );
    assert!(
        p.as_array()
            .unwrap()
            .contains(&Value::from("feature-branch")),
        "{p}"
    );
    env.json(&["env", "policy", "dev", "--remove-source", "feature-branch"]);
    let p = env.json(&["env", "show", "dev"])["meta"]["policy"]["allowed_sources"].clone();
    assert!(
        !p.as_array()
            .unwrap()
            .contains(&Value::from("feature-branch")),
        "{p}"
    );
    // A refused production deploy says how to get the bundle in properly.
    let refused = env.fails(
        4,
        &["--yes", "deploy", file.to_str().unwrap(), "--env", "prod"],
    );
    let hint = refused["hint"].as_str().unwrap();
    assert!(
        !hint.contains("env policy"),
        "a hint loosening production: {hint}"
    );
    assert!(hint.contains("promote"), "{hint}");
}

/// Builds web `version` with `evidence` files (name, content).
fn bundle_with_evidence(env: &Env, version: &str, evidence: &[&str]) -> PathBuf {
    let dir = env.home().join(format!("payload-{version}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), format!("version {version}\n")).unwrap();
    let out = env.home().join(format!("web-{version}.tgz"));
    let mut args: Vec<String> = [
        "bundle",
        "build",
        dir.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        version,
        "--source",
        "release-tag",
        "--ref",
        &format!("v{version}"),
        "--out",
        out.to_str().unwrap(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    for name in evidence {
        let file = env.home().join(name);
        fs::write(
            &file,
            format!("<testsuite tests=\"3\" failures=\"0\"/> {version}\n"),
        )
        .unwrap();
        args.extend(["--evidence".to_string(), file.display().to_string()]);
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    env.json(&args);
    out
}

fn refused_checks(env: &Env, args: &[&str]) -> (Vec<String>, Value) {
    let err = env.fails(4, args);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("refused by the release gate"), "{err}");
    let checks = message
        .lines()
        .skip(1)
        .map(|l| l.trim().split(':').next().unwrap().to_string())
        .collect();
    (checks, err)
}

#[test]
fn the_release_gate_needs_traffic_evidence_soak_and_no_drift() {
    let (env, _file, _revs) = ladder();
    env.json(&[
        "--yes",
        "env",
        "policy",
        "prod",
        "--require-evidence",
        "evidence/test-report.xml",
        "--soak",
        "50%:2s",
        "--require-no-drift",
    ]);
    let shown = env.json(&["env", "show", "prod"])["meta"]["policy"]["gate"].clone();
    assert_eq!(
        shown["soak"],
        serde_json::json!({"min_basis_points": 5000, "min_seconds": 2})
    );
    // 1.1.0 runs in dev with all the traffic but carries no evidence.
    let plain = env.json(&[
        "bundle",
        "verify",
        env.home().join("web-1.1.0.tgz").to_str().unwrap(),
    ]);
    let id = plain["id"].as_str().unwrap().to_string();
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["evidence", "soak"], "{err}");
    assert!(
        err["hint"].as_str().unwrap().contains("--evidence"),
        "{err}"
    );
    // With evidence, but not yet routed: it never carried traffic.
    let with = bundle_with_evidence(&env, "1.2.0", &["test-report.xml"]);
    let out = env.json(&["deploy", with.to_str().unwrap(), "--env", "dev"]);
    let rev = out["revision"]["id"].as_str().unwrap().to_string();
    let id = env.json(&["bundle", "verify", with.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["carried-traffic", "soak"], "{err}");
    assert!(
        err["hint"]
            .as_str()
            .unwrap()
            .contains("traffic set --env dev"),
        "{err}"
    );
    // Routed now, but the soak is short.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{rev}=100%"),
    ]);
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["soak"], "{err}");
    assert!(err["hint"].as_str().unwrap().contains("more"), "{err}");
    // Every refusal is audited and reported, and prod runs nothing.
    let denied = env.json(&["audit", "--env", "prod", "--verb", "promote"]);
    let denied: Vec<&Value> = denied
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert!(
        denied[0]["policy"]["reason"]
            .as_str()
            .unwrap()
            .contains("release gate")
    );
    assert!(!env.home().join("envs/prod/deployments/web.json").exists());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let done = env.json(&["--yes", "promote", &id, "--to", "prod"]);
    let report = &done["report"];
    assert_eq!(report["result"], "ok", "{report}");
    assert_eq!(report["gate"]["allowed"], true);
    let checks: Vec<&str> = report["gate"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["carried-traffic", "evidence", "soak", "no-drift"],
        "{report}"
    );
    let evidence = &report["gate"]["checks"][1]["evidence"]["matched"][0];
    assert_eq!(evidence["path"], "evidence/test-report.xml");
    assert_eq!(evidence["sha256"].as_str().unwrap().len(), 64);
    assert!(
        report["gate"]["checks"][2]["evidence"]["span"]["seconds"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_eq!(
        report["gate"]["checks"][2]["evidence"]["observed"],
        "running"
    );
    assert_eq!(report["from"], "dev");
    assert_eq!(report["from_revision"], rev.as_str());
    assert_eq!(report["verification"]["verified"], true);
    assert_eq!(report["pointer"]["deployment"], "web");
    // The stored reports: three refusals and the promotion, each with its gate.
    let stored: Vec<Value> = fs::read_dir(env.home().join("envs/prod/promotions"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|r| r["gate"]["checks"].is_array()));
    // The report's schema documents every field.
    let schema = env.json(&["promote", "--report-schema"]);
    for field in [
        "gate",
        "verification",
        "pointer",
        "from",
        "from_revision",
        "policy",
    ] {
        assert!(
            schema["properties"][field].is_object(),
            "{field} undocumented: {schema}"
        );
    }
}
