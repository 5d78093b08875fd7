//! `envpack pack dev`: dev builds without version bumps, rebinding a
//! non-production environment with its grants, the capability diff, garbage
//! collection, production refusing dev builds, and `--watch`.

use std::io::{BufRead, BufReader};
use std::process::Stdio;

use envpack_e2e::{Env, repo_root};
use serde_json::Value;

use super::{BIN, edit};

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn the_dev_loop_rebinds_with_grants_and_collects_old_builds() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    let target = repo_root().join("target/e2e-scaffold");
    let target = target.to_str().unwrap();
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "prod", "--production", "--allow-dev-secrets"]);
    env.json(&[
        "pack",
        "new",
        "loop",
        "--slot",
        "state",
        "--namespace",
        "acme",
        "--dir",
        dir,
    ]);
    let krate = work.path().join("loop");
    let krate_s = krate.to_str().unwrap();
    let dev = |extra: &[&'static str]| -> Vec<String> {
        let mut args: Vec<String> = [
            "--env",
            "dev",
            "pack",
            "dev",
            krate_s,
            "--target-dir",
            target,
        ]
        .iter()
        .map(ToString::to_string)
        .collect();
        args.extend(extra.iter().map(ToString::to_string));
        args
    };

    let first = env.json(&strs(&dev(&["--grant-requested"])));
    let v1 = first["installed"]["descriptor"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(v1.starts_with("acme.state.loop@0.1.0-dev."), "{first}");
    assert_eq!(
        first["bound"]["binding"]["descriptor"],
        v1.as_str(),
        "{first}"
    );
    assert!(
        env.ok(&["--env", "dev", "loop", "info"])
            .contains("holds 0 key(s)")
    );

    // A change of code and of the capabilities requested: the new build
    // needs kv, which the binding never granted, so the rebind is refused
    // with the capability diff; granting it goes through and shows it.
    edit(
        &krate.join("src/lib.rs"),
        "holds {} key(s)",
        "has {} key(s)",
    );
    edit(
        &krate.join("pack.toml"),
        "log = true\n",
        "log = true\nkv = true\n",
    );
    let error = env.fails(4, &strs(&dev(&[])));
    let message = error["message"].as_str().unwrap();
    assert!(message.contains("+ kv"), "{error}");
    let second = env.json(&strs(&dev(&["--grant", "kv"])));
    let v2 = second["installed"]["descriptor"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(v1, v2);
    assert_eq!(
        second["bound"]["added"],
        serde_json::json!(["kv"]),
        "{second}"
    );
    // log was kept from the first bind; kv added now.
    let grants = second["bound"]["binding"]["grants"].to_string();
    assert!(grants.contains("log") && grants.contains("kv"), "{grants}");
    assert!(
        env.ok(&["--env", "dev", "loop", "info"])
            .contains("has 0 key(s)")
    );
    // The first build is bound nowhere now: collected.
    assert_eq!(second["collected"], serde_json::json!([v1]), "{second}");

    // `pack list` says which builds are dev builds.
    let list = env.json(&["pack", "list"]);
    let ours: Vec<&Value> = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["descriptor"]
                .as_str()
                .unwrap()
                .starts_with("acme.state.loop@")
        })
        .collect();
    assert_eq!(ours.len(), 1, "{list}");
    assert_eq!(ours[0]["dev"], true, "{list}");
    assert!(env.ok(&["pack", "list"]).contains(" dev"));

    // Production: no requirement without a pre-release resolves a dev
    // build, binding one by its exact version is refused, and so is `pack dev`.
    env.fails(
        3,
        &[
            "env",
            "bind",
            "prod",
            "state",
            "acme.state.loop@^0.1",
            "--grant-requested",
        ],
    );
    let exact = format!("acme.state.loop@={}", v2.split('@').nth(1).unwrap());
    let error = env.fails(
        4,
        &["env", "bind", "prod", "state", &exact, "--grant-requested"],
    );
    assert!(
        error["message"].as_str().unwrap().contains("dev build"),
        "{error}"
    );
    let error = env.fails(
        4,
        &[
            "--env",
            "prod",
            "pack",
            "dev",
            krate_s,
            "--target-dir",
            target,
        ],
    );
    assert!(
        error["message"].as_str().unwrap().contains("production"),
        "{error}"
    );
}

#[test]
fn watch_rebuilds_on_change() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    let target = repo_root().join("target/e2e-scaffold");
    env.json(&["env", "init", "dev"]);
    env.json(&[
        "pack",
        "new",
        "watched",
        "--slot",
        "telemetry",
        "--dir",
        dir,
    ]);
    let krate = work.path().join("watched");
    let mut child = env
        .cmd()
        .args(["--json", "--env", "dev", "pack", "dev"])
        .arg(&krate)
        .arg("--target-dir")
        .arg(&target)
        .args(["--grant-requested", "--watch"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut round = || -> Value {
        let line = lines.next().expect("a round's envelope").unwrap();
        let v: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(v["ok"], true, "{v}");
        v["result"].clone()
    };
    let first = round();
    edit(&krate.join("src/lib.rs"), "hello from", "greetings from");
    let second = round();
    let _ = child.kill();
    let _ = child.wait();
    assert_ne!(
        first["installed"]["descriptor"], second["installed"]["descriptor"],
        "{second}"
    );
    let out = env.ok(&["--env", "dev", "watched", "info"]);
    assert!(out.contains("greetings from"), "{out}");
}
