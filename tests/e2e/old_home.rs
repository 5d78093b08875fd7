//! An `ENVPACK_HOME` written by the envpack before the core restructuring
//! (round 1, commit 1dea23c) is read and used by this one without
//! migration: `env doctor`, `revisions list`, `traffic set`, the journals.
//!
//! The fixture `tests/fixtures/home-round1/envs/dev/` holds the files that
//! version wrote, byte for byte, after: `env init dev`, binding the
//! recorder test deployer, deploying two bundles of `web` and one
//! `traffic set` (see `tests/fixtures/home-round1/README.md`). Packs are
//! built from source here, so their digests differ from the ones that
//! version locked: the test installs the same packs and points the lock's
//! digests at them, changing nothing else.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::Path;

use envpack_e2e::{Env, build_pack, repo_root};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for e in fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// The old home, with the lock's digests pointing at the packs installed
/// now (built from the same sources).
fn old_home() -> Env {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "scratch"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    let installed = env.json(&["pack", "list"]);
    let dir = env.home().join("envs/dev");
    copy_dir(
        &repo_root().join("tests/fixtures/home-round1/envs/dev"),
        &dir,
    );
    let lock_path = dir.join("lock.json");
    let mut lock: Value = serde_json::from_slice(&fs::read(&lock_path).unwrap()).unwrap();
    for binding in lock["slots"].as_object_mut().unwrap().values_mut() {
        let d = binding["descriptor"].as_str().unwrap().to_string();
        let now = installed
            .as_array()
            .unwrap()
            .iter()
            .find(|p| p["descriptor"] == d.as_str())
            .unwrap_or_else(|| panic!("{d} is not installed: {installed}"));
        binding["digest"] = now["digest"].clone();
    }
    fs::write(&lock_path, serde_json::to_vec_pretty(&lock).unwrap()).unwrap();
    env
}

#[test]
fn a_home_from_round_one_is_read_and_used_as_it_is() {
    let env = old_home();
    let dir = env.home().join("envs/dev");
    let record_before = fs::read(dir.join("deployments/web.json")).unwrap();

    // Doctor reads env.json and lock.json as that version wrote them.
    let doctor = env.json(&["env", "doctor", "dev"]);
    assert_eq!(doctor["healthy"], true, "{doctor}");

    // Revisions and traffic come from the old deployment record.
    let deps = env.json(&["--env", "dev", "revisions", "list"]);
    let revs = deps[0]["revisions"].as_array().unwrap();
    assert_eq!(revs.len(), 2, "{deps}");
    assert!(revs.iter().all(|r| r["state"] == "ready"), "{deps}");
    let (r1, r2) = (
        revs[0]["id"].as_str().unwrap().to_string(),
        revs[1]["id"].as_str().unwrap().to_string(),
    );
    let shown = env.json(&["--env", "dev", "traffic", "show"]);
    let generation = shown["generation"].as_u64().unwrap();
    assert_eq!(generation, 2, "{shown}");
    assert_eq!(
        fs::read(dir.join("deployments/web.json")).unwrap(),
        record_before,
        "reading changes nothing"
    );

    // A traffic change on the old record: the next generation, recorded
    // next to the old history, with the old record kept as the backup.
    let set = env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=50%"),
        &format!("{r2}=50%"),
    ]);
    assert_eq!(set["generation"], generation + 1, "{set}");
    assert_eq!(set["outcome"], "applied");
    assert_eq!(
        fs::read(dir.join("deployments/web.json.bak")).unwrap(),
        record_before,
        "the record as the old version wrote it is the backup"
    );
    let after = env.json(&["--env", "dev", "traffic", "show"]);
    assert_eq!(after["weights"].as_array().unwrap().len(), 2, "{after}");

    // The journals continue: old lines first, then the new change.
    let audit = env.json(&["--env", "dev", "audit"]);
    let verbs: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["verb"].as_str().unwrap())
        .collect();
    assert_eq!(verbs.first(), Some(&"deploy"), "{audit}");
    assert_eq!(verbs.last(), Some(&"traffic.set"), "{audit}");
    assert!(verbs.len() > 3, "{audit}");
    let history = env.json(&["--env", "dev", "history"]);
    let generations: Vec<u64> = history
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|h| h["generation"].as_u64())
        .collect();
    assert_eq!(generations.last(), Some(&(generation + 1)), "{history}");

    // The recorder runs revisions elsewhere: no output to show, said so.
    let none = env.fails(9, &["--env", "dev", "logs", &r1]);
    assert!(
        none["message"].as_str().unwrap().contains("elsewhere"),
        "{none}"
    );

    // Rollback to the previous split.
    let rolled = env.json(&["--env", "dev", "rollback"]);
    assert_eq!(rolled["traffic"]["generation"], generation + 2, "{rolled}");
}
