//! Issue 12: every change audited with a real actor, a plan before every
//! mutation (`--dry-run` changes nothing: every file of the home hashes the
//! same), production changes confirmed or refused, additive policy edits,
//! and the release gate on promotion.
//!
//! Shared set-up lives here; the tests are in `governance/`.
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
    env.json(&[
        "env",
        "init",
        "prod",
        "--after",
        "dev",
        "--production",
        "--allow-dev-secrets",
    ]);
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
    bundle_with_evidence(env, version, &[])
}

/// Builds web `version` (a release tag, outside git) with `evidence` files.
fn bundle_with_evidence(env: &Env, version: &str, evidence: &[&str]) -> PathBuf {
    let dir = env.home().join(format!("payload-{version}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), format!("version {version}\n")).unwrap();
    let out = env.home().join(format!("web-{version}.tgz"));
    let (dir_s, out_s, tag) = (
        dir.display().to_string(),
        out.display().to_string(),
        format!("v{version}"),
    );
    let mut args: Vec<String> = [
        "bundle",
        "build",
        "--no-git",
        &dir_s,
        "--name",
        "web",
        "--version",
        version,
        "--source",
        "release-tag",
        "--ref",
        &tag,
        "--out",
        &out_s,
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
    env.json(&args.iter().map(String::as_str).collect::<Vec<_>>());
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

#[path = "governance/audit.rs"]
mod audit;
#[path = "governance/day.rs"]
mod day;
#[path = "governance/gate.rs"]
mod gate;
#[path = "governance/plans.rs"]
mod plans;
