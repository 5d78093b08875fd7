//! Issue 10: a Kinetic solution release is a normal release bundle. It
//! deploys, promotes dev -> test -> prod and rolls back through the same
//! verbs as any bundle, on environments whose `kinetic` slot is bound, with
//! policy enforced before the pack runs, and install layer conflicts
//! resolved by the environment's policy (fail, or export every layer as an
//! artifact, clear, retry once), every step audited. The pack is
//! `acme.kinetic.fake`, a simulated company in kv (tests/packs/test-kinetic).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::{Path, PathBuf};

use envpack_e2e::{Env, build_pack};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");
const FAKE: &str = "acme.kinetic.fake@0.1.0";

/// dev -> test -> prod, each bound to the fake Kinetic pack (its own
/// company per environment).
fn ladder() -> Env {
    let pack = build_pack(BIN, "test-kinetic");
    let env = Env::new(BIN);
    env.json(&["pack", "install", pack.to_str().unwrap()]);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "test", "--after", "dev"]);
    env.json(&[
        "env",
        "init",
        "prod",
        "--after",
        "test",
        "--production",
        "--allow-dev-secrets",
    ]);
    for (e, company) in [("dev", "EPIC03"), ("test", "EPIC05"), ("prod", "EPIC06")] {
        env.json(&[
            "--yes",
            "env",
            "bind",
            e,
            "kinetic",
            FAKE,
            "--grant-requested",
        ]);
        env.json(&[
            "--yes",
            "env",
            "config",
            e,
            "acme.kinetic.fake",
            "company",
            company,
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
    env
}

/// A solution release bundle: the package, and the attribute that marks it.
fn release(env: &Env, version: &str, source: &str, apps: &str) -> PathBuf {
    let dir = env.home().join(format!("sol-{version}-{source}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("Sol.cab"),
        format!("solution=Sol\nversion={version}\napps={apps}\n"),
    )
    .unwrap();
    let out = env.home().join(format!("sol-{version}-{source}.tgz"));
    let reference = if source == "release-tag" {
        format!("v{version}")
    } else {
        "feat/new-screen".into()
    };
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        dir.to_str().unwrap(),
        "--name",
        "sol",
        "--version",
        version,
        "--source",
        source,
        "--ref",
        &reference,
        "--attr",
        "kinetic.package=Sol.cab",
        "--out",
        out.to_str().unwrap(),
    ]);
    out
}

fn id_of(env: &Env, file: &Path) -> String {
    env.json(&["bundle", "verify", file.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn installed(env: &Env, e: &str) -> Value {
    env.json(&["--env", e, "fake", "installed"])
}

fn journal(env: &Env, e: &str) -> Vec<String> {
    env.json(&["--env", e, "fake", "journal"])
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_solution_release_deploys_promotes_and_rolls_back() {
    let env = ladder();
    let v1 = release(&env, "1.0.0", "release-tag", "Erp.UI.PartEntry");
    let dry = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev", "--dry-run"]);
    assert_eq!(dry["plan"]["steps"][0]["change"], "create", "{dry}");
    assert_eq!(
        installed(&env, "dev"),
        serde_json::json!({}),
        "a dry run installs nothing"
    );
    let first = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(first["revision"]["state"], "ready", "{first}");
    assert_eq!(installed(&env, "dev")["Sol"], "1.0.0");

    // Production refuses a feature-branch bundle before the pack runs.
    let feature = release(&env, "1.0.1", "feature-branch", "Erp.UI.PartEntry");
    let refused = env.fails(
        4,
        &[
            "--yes",
            "deploy",
            feature.to_str().unwrap(),
            "--env",
            "prod",
        ],
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("refused by policy"),
        "{refused}"
    );
    assert!(
        journal(&env, "prod").is_empty(),
        "the pack was never called"
    );

    // dev -> test -> prod with the same bundle id.
    let id1 = id_of(&env, &v1);
    env.json(&["promote", &id1, "--to", "test"]);
    env.json(&["--yes", "promote", &id1, "--to", "prod"]);
    assert_eq!(installed(&env, "prod")["Sol"], "1.0.0");

    // A second release goes live on install: its revision takes all traffic.
    let v2 = release(&env, "1.1.0", "release-tag", "Erp.UI.PartEntry");
    let second = env.json(&["deploy", v2.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(
        second["weights"][0]["revision"], second["revision"]["id"],
        "{second}"
    );
    let id2 = id_of(&env, &v2);
    env.json(&["promote", &id2, "--to", "test"]);
    env.json(&["--yes", "promote", &id2, "--to", "prod"]);
    assert_eq!(installed(&env, "prod")["Sol"], "1.1.0");

    // Rollback reinstalls the previous package.
    let back = env.json(&["--yes", "--env", "prod", "rollback"]);
    assert!(
        back.to_string().contains("reinstalled") || !back.is_null(),
        "{back}"
    );
    assert_eq!(installed(&env, "prod")["Sol"], "1.0.0", "{back}");
}

#[test]
fn layer_conflicts_follow_the_environment_policy() {
    let env = ladder();
    let v1 = release(&env, "1.0.0", "release-tag", "Erp.UI.PartEntry");
    env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    // A UI edit in another company now stands in the way.
    env.json(&[
        "--env",
        "dev",
        "fake",
        "layer",
        "add",
        "Erp.UI.PartEntry",
        "ShopLayer",
        "T_OTHER",
        "--content",
        "{\"edited\":true}",
    ]);
    let v2 = release(&env, "1.1.0", "release-tag", "Erp.UI.PartEntry");
    let plan = env.json(&["deploy", v2.to_str().unwrap(), "--env", "dev", "--dry-run"]);
    assert_eq!(plan["plan"]["steps"][1]["change"], "no-op", "{plan}");

    // `fail` (the default): stops, names the layer, clears nothing.
    let failed = env.fails(9, &["deploy", v2.to_str().unwrap(), "--env", "dev"]);
    let message = failed["message"].as_str().unwrap();
    assert!(
        message.contains("Erp.UI.PartEntry~ShopLayer~KNTCCustLayer"),
        "{failed}"
    );
    assert!(!journal(&env, "dev").contains(&"clear-layer".to_string()));
    assert_eq!(installed(&env, "dev")["Sol"], "1.0.0");

    // export-clear-and-retry-once: export (kept), clear, retry, all audited.
    env.json(&[
        "env",
        "policy",
        "dev",
        "--layer-conflicts",
        "export-clear-and-retry-once",
    ]);
    let done = env.json(&["deploy", v2.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(done["revision"]["state"], "ready", "{done}");
    assert_eq!(installed(&env, "dev")["Sol"], "1.1.0");
    let calls = journal(&env, "dev");
    let at = |c: &str| calls.iter().rposition(|x| x == c).unwrap();
    assert!(
        at("export-layer") < at("clear-layer") && at("clear-layer") < at("install"),
        "{calls:?}"
    );

    let audit = env.json(&["--env", "dev", "audit"]);
    let events: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"].as_str().unwrap().starts_with("kinetic."))
        .collect();
    let seen: Vec<String> = events
        .iter()
        .map(|e| {
            format!(
                "{} {}",
                e["verb"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    for want in [
        "kinetic.layer.export started",
        "kinetic.layer.clear ok",
        "kinetic.install.retry ok",
    ] {
        assert!(
            seen.iter().any(|s| s.starts_with(want)),
            "{want} in {seen:?}"
        );
    }
    let export = events
        .iter()
        .find(|e| {
            e["verb"] == "kinetic.layer.export" && e["result"].as_str().unwrap().starts_with("ok")
        })
        .unwrap();
    let artifact = export["after"]["artifact"].as_str().unwrap();
    let kept = env
        .home()
        .join("envs/dev/artifacts")
        .join(artifact.trim_start_matches("sha256:"));
    assert_eq!(
        fs::read(kept).unwrap(),
        b"{\"edited\":true}",
        "the layer as it was"
    );
}

/// A command declared `effect = "mutate"` is confirmed on production before
/// the pack runs, can be dry-run (the pack is told to plan only), and is
/// audited; a read command is not.
#[test]
fn mutating_pack_commands_are_gated_dry_runnable_and_audited() {
    let env = ladder();
    let add = [
        "--env",
        "prod",
        "fake",
        "layer",
        "add",
        "Erp.UI.PartEntry",
        "L1",
        "EPIC06",
    ];
    let refused = env.fails(4, &add);
    assert!(
        refused["message"].as_str().unwrap().contains("production"),
        "{refused}"
    );
    let audit = env.json(&["--env", "prod", "audit"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["verb"] == "pack.command"
                && e["result"].as_str().unwrap().starts_with("refused")),
        "{audit}"
    );

    let mut dry = add.to_vec();
    dry.push("--dry-run");
    let planned = env.json(&dry);
    assert!(
        planned.as_str().unwrap().starts_with("would add"),
        "{planned}"
    );

    let mut yes = vec!["--yes"];
    yes.extend(add);
    let added = env.json(&yes);
    assert!(added.as_str().unwrap().starts_with("added"), "{added}");
    let audit = env.json(&["--env", "prod", "audit"]);
    let ok: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "pack.command" && e["result"] == "ok")
        .collect();
    assert_eq!(ok.len(), 1, "the dry run is not audited: {audit}");
    assert_eq!(ok[0]["after"]["command"], "fake layer add");

    // A read command runs on production without confirmation.
    env.json(&["--env", "prod", "fake", "installed"]);
}

/// Reality of a Kinetic environment is the kinetic pack's inventory: in
/// sync after envpack's own install; a UI edit made directly on the
/// server is drift on the next observation, and `history` names when it
/// first appeared.
#[test]
fn edits_made_on_the_server_show_as_drift_with_their_history() {
    let env = ladder();
    let v1 = release(&env, "1.0.0", "release-tag", "Erp.UI.PartEntry");
    env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    let first = env.json(&["observe", "--env", "dev"]);
    assert_eq!(first["state"], "in-sync", "{first}");
    let seen = &first["observation"]["revisions"][0];
    assert_eq!(seen["state"], "running", "{first}");
    assert!(
        seen["files"]["kinetic/installed-solution/Sol"].is_string(),
        "{first}"
    );

    let status = env.json(&["status", "--env", "dev"]);
    let sol = &status["deployments"][0];
    assert_eq!(sol["drift"], "in-sync", "{status}");
    assert_eq!(sol["revisions"][0]["health"], "healthy", "{status}");

    // Someone adds a layer in the Kinetic UI.
    env.json(&[
        "--env",
        "dev",
        "fake",
        "layer",
        "add",
        "Erp.UI.PartEntry",
        "Edit",
        "EPIC03",
        "--content",
        "{\"field\":\"moved\"}",
    ]);
    let r = env.run(&["--json", "drift", "--env", "dev"]);
    let v = r.envelope();
    let body = if v["ok"] == true {
        &v["result"]
    } else {
        &v["error"]
    };
    let key = "kinetic/layer/Erp.UI.PartEntry~Edit~KNTCCustLayer~EPIC03";
    let text = body.to_string();
    assert!(text.contains(&format!("file:{key}")), "{body}");

    let history = env.json(&["history", key, "--env", "dev"]);
    let seen = history["seen"].as_array().unwrap();
    assert_eq!(seen.len(), 1, "{history}");
    assert!(
        seen[0]["first_seen"].as_str().unwrap() >= first["at"].as_str().unwrap(),
        "{history}"
    );
}
