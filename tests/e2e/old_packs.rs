//! Issue 10: a pack built against the frozen API 0.1.0 (`wit/v0.1.0`, with
//! wit-bindgen directly, not the SDK) keeps loading and working on a host
//! whose latest API is 0.2.0: it installs, binds, and runs through every
//! deployer function and a command, through the real binary; the three
//! deployer functions 0.1 lacks get the host's defaults.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::{Path, PathBuf};

use envpack_e2e::{Env, build_pack};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");
const LEGACY: &str = "acme.deployer.legacy@0.1.0";

fn bundle(env: &Env, version: &str) -> PathBuf {
    let dir = env.home().join(format!("payload-{version}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), format!("version {version}\n")).unwrap();
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

fn revision_id(deployed: &Value) -> String {
    deployed["revision"]["id"].as_str().unwrap().to_string()
}

fn legacy_env(file: &Path) -> Env {
    let env = Env::new(BIN);
    let installed = env.json(&["pack", "install", file.to_str().unwrap()]);
    assert_eq!(installed[0]["outcome"], "installed", "{installed}");
    env.json(&["env", "init", "dev"]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        LEGACY,
        "--grant-requested",
    ]);
    env.json(&[
        "env",
        "config",
        "dev",
        "acme.deployer.legacy",
        "target-name",
        "old-target",
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

#[test]
fn a_0_1_deployer_runs_through_every_function_on_the_0_2_host() {
    let file = build_pack(BIN, "legacy-deployer-v01");
    let env = Env::new(BIN);
    let inspected = env.json(&["pack", "inspect", file.to_str().unwrap()]);
    assert_eq!(inspected["api_version"], "0.1.0", "{inspected}");
    let mut exports: Vec<&str> = inspected["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    exports.sort();
    assert_eq!(
        exports,
        [
            "greentic:envpack/command@0.1.0",
            "greentic:envpack/deployer@0.1.0"
        ]
    );

    let env = legacy_env(&file);
    let (v1, v2) = (bundle(&env, "1.0.0"), bundle(&env, "1.1.0"));
    // plan, apply, health (and describe, for what the target supports).
    let dry = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev", "--dry-run"]);
    assert_eq!(dry["plan"]["steps"][0]["change"], "create", "{dry}");
    let first = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(first["revision"]["state"], "ready", "{first}");
    let second = env.json(&["deploy", v2.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(second["revision"]["state"], "ready", "{second}");
    let (r1, r2) = (revision_id(&first), revision_id(&second));

    // set-traffic, with a split (the pack says it supports one).
    let split = env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=50%"),
        &format!("{r2}=50%"),
    ]);
    assert!(split.to_string().contains(&r2), "{split}");

    // observe: the pack's kv records are its reality.
    let observed = env.json(&["observe", "--env", "dev"]);
    let revisions = observed["observation"]["revisions"].as_array().unwrap();
    assert_eq!(revisions.len(), 2, "{observed}");

    // The pack's command, through CLI dispatch; its config and kv imports
    // went through the 0.1 module's delegation to the latest.
    let info = env.json(&["--env", "dev", "legacy", "info"]);
    assert_eq!(info["api"], "0.1.0", "{info}");
    assert_eq!(info["target"], "old-target", "{info}");
    assert_eq!(info["revisions"], 2, "{info}");
    assert_eq!(info["traffic"], 1, "{info}");

    // teardown, through env down; apply again through env up.
    let down = env.json(&["env", "down", "dev"]);
    assert_eq!(down["revisions"].as_array().unwrap().len(), 2, "{down}");
    let info = env.json(&["--env", "dev", "legacy", "info"]);
    assert_eq!(info["revisions"], 0, "teardown forgot them: {info}");
    env.json(&["env", "up", "dev"]);
    let info = env.json(&["--env", "dev", "legacy", "info"]);
    assert_eq!(info["revisions"], 2, "apply recorded them again: {info}");
}

/// `validate`, `prepare` and `decommission` are 0.2.0 functions: for a 0.1
/// deployer the host answers with its defaults, through the same typed
/// client the lifecycle verbs use.
#[test]
fn a_0_1_deployer_gets_host_defaults_for_the_0_2_functions() {
    use std::sync::Arc;

    use envpack_host::runtime::{ApiVersion, Granter, InstanceContext, Runtime, Services};

    let file = build_pack(BIN, "legacy-deployer-v01");
    let runtime = Runtime::new(Default::default()).unwrap();
    let loaded = envpack_host::packs::load_file(&runtime, &file).unwrap();
    assert_eq!(loaded.api_version(), ApiVersion::V0_1);
    let requested = loaded.manifest().requested();
    let granter = Arc::new(Granter::new(
        loaded.label().clone(),
        requested.clone(),
        requested,
        "grant {cap}",
    ));
    let mut instance = loaded
        .instantiate(InstanceContext {
            granter,
            services: Services::default(),
            scratch_dir: None,
            scratch_quota: None,
        })
        .unwrap();
    let mut deployer = instance.deployer().unwrap();
    let checks = deployer.validate("dev").unwrap();
    assert_eq!(checks.len(), 1, "{checks:?}");
    assert_eq!(checks[0].name, "describe");
    assert!(checks[0].ok);
    assert!(checks[0].detail.contains("API 0.1.0"), "{checks:?}");
    assert!(deployer.prepare("dev").unwrap().is_empty());
    assert!(deployer.decommission("dev").unwrap().is_empty());
    // The pack itself is still called for what it defines.
    assert_eq!(deployer.describe().unwrap().attributes[0].1, "0.1.0");
}
