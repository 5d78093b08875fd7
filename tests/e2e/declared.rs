//! Issue 13 (environments as code): `envpack.toml`, `plan` (exit 0 / 2),
//! `apply` (audited, confirmed in production), `env export`.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::Path;

use envpack_e2e::{Env, assert_same_tree, tree_digest};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// Runs `args` in `dir` (where envpack.toml is looked for).
fn run_in(env: &Env, dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = env.cmd().current_dir(dir).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

const PROD: &str = r#"
[env.prod]
after = "dev"
production = true
sources = ["release-tag"]
secrets = ["API_KEY"]
allow_dev_secrets = true

[env.prod.gate]
evidence = ["evidence/sbom.json"]
soak = "10%:30m"

[env.prod.config."greentic.telemetry.stdout"]
level = "warn"
"#;

#[test]
fn plan_apply_and_export_keep_environments_as_code() {
    let env = Env::new(BIN);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("envpack.toml");
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "export", "--all", "--out", file.to_str().unwrap()]);
    // Exported and unchanged: no changes, exit 0, also from a subdirectory.
    let sub = dir.path().join("deploy/site");
    fs::create_dir_all(&sub).unwrap();
    let (code, out, err) = run_in(&env, &sub, &["plan"]);
    assert_eq!((code, out.trim()), (0, "no changes"), "{err}");

    // A new production environment: planned with + lines, exit 2.
    let mut text = fs::read_to_string(&file).unwrap();
    text.push_str(PROD);
    fs::write(&file, &text).unwrap();
    let (code, out, _) = run_in(&env, dir.path(), &["plan"]);
    assert_eq!(code, 2, "{out}");
    assert!(
        out.contains("+ env prod") && out.contains("+ after  - -> dev"),
        "{out}"
    );
    assert!(
        out.contains("config greentic.telemetry.stdout level"),
        "{out}"
    );
    let (code, json, _) = run_in(&env, dir.path(), &["--json", "plan"]);
    let v: Value = serde_json::from_str(json.trim()).unwrap();
    assert_eq!((code, &v["ok"]), (2, &Value::from(true)), "{json}");
    let prod = v["result"]["environments"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["environment"] == "prod")
        .unwrap();
    assert_eq!(prod["exists"], false);

    // apply --dry-run changes nothing; apply makes plan clean.
    let before = tree_digest(env.home());
    let (code, out, _) = run_in(&env, dir.path(), &["apply", "--dry-run"]);
    assert!(
        code == 0 && out.contains("dry run: nothing was changed"),
        "{out}"
    );
    assert_same_tree("apply --dry-run", &before, &tree_digest(env.home()));
    let (code, out, err) = run_in(&env, dir.path(), &["apply"]);
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("! secret API_KEY is missing in prod"),
        "secrets are named, never set: {out}"
    );
    let (code, out, _) = run_in(&env, dir.path(), &["plan"]);
    assert_eq!(code, 0, "{out}");
    let shown = env.json(&["env", "show", "prod"]);
    assert_eq!(shown["meta"]["policy"]["production"], true);
    assert_eq!(shown["meta"]["policy"]["gate"]["soak"]["min_seconds"], 1800);
    assert_eq!(
        shown["meta"]["config"]["greentic.telemetry.stdout"]["level"],
        "warn"
    );

    // A hand edit shows in plan; applying it back to production needs --yes.
    env.json(&[
        "--yes",
        "env",
        "config",
        "prod",
        "greentic.telemetry.stdout",
        "level",
        "debug",
    ]);
    let (code, out, _) = run_in(&env, dir.path(), &["plan"]);
    assert_eq!(code, 2);
    assert!(
        out.contains("~ env prod")
            && out.contains("~ config greentic.telemetry.stdout level  \"debug\" -> \"warn\""),
        "{out}"
    );
    let (code, _, err) = run_in(&env, dir.path(), &["apply"]);
    assert_eq!(code, 4, "production changes are confirmed: {err}");
    assert!(err.contains("--yes"), "{err}");
    let (code, _, err) = run_in(&env, dir.path(), &["apply", "--yes"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(run_in(&env, dir.path(), &["plan"]).0, 0);
    // Applied changes are audited like any other.
    let audit = env.json(&["audit", "--env", "prod", "--verb", "env.config.set"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["result"] == "ok" && e["after"] == "warn"),
        "{audit}"
    );

    // Errors name file:line:column; --schema documents the file.
    fs::write(
        &file,
        "[env.dev]\nproduction = false\nsources = [\"nightly\"]\n",
    )
    .unwrap();
    let (code, _, err) = run_in(&env, dir.path(), &["plan"]);
    assert_eq!(code, 2);
    assert!(err.contains("envpack.toml:3:"), "{err}");
    let schema = env.json(&["plan", "--schema"]);
    assert!(schema["properties"]["env"].is_object(), "{schema}");
    // No file anywhere: the hint writes one.
    let empty = tempfile::tempdir().unwrap();
    let (code, _, err) = run_in(&env, empty.path(), &["plan"]);
    assert_eq!(code, 3);
    assert!(
        err.contains("envpack env export --all --out envpack.toml"),
        "{err}"
    );
}
