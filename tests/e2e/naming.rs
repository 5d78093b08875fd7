//! Issue 13 (first part): one way to name the environment. `--env` and
//! `ENVPACK_ENV` reach the `env` subcommands that also take a positional
//! name; naming two different environments is refused; a mistyped name
//! gets "did you mean"; hints carry `--env` and work when run.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use envpack_e2e::{Env, build_pack};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

#[test]
fn the_environment_is_named_one_way_and_hints_run() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "staging", "--after", "dev"]);

    // --env and ENVPACK_ENV reach env show/down/up/doctor without a
    // positional; never a silent `local`.
    assert_eq!(env.json(&["env", "show", "--env", "dev"])["name"], "dev");
    assert_eq!(
        env.json(&["env", "down", "--env", "dev"])["environment"],
        "dev"
    );
    assert_eq!(
        env.json(&["env", "up", "--env", "dev"])["environment"],
        "dev"
    );
    assert_eq!(
        env.json(&["env", "doctor", "--env", "dev"])["environment"],
        "dev"
    );
    let from_var = env
        .cmd()
        .args(["--json", "env", "show"])
        .env("ENVPACK_ENV", "staging")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&from_var.stdout).unwrap();
    assert_eq!(v["result"]["name"], "staging", "{v}");
    // The positional wins over ENVPACK_ENV, but not over an explicit --env.
    let positional = env
        .cmd()
        .args(["--json", "env", "show", "dev"])
        .env("ENVPACK_ENV", "staging")
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&positional.stdout).unwrap();
    assert_eq!(v["result"]["name"], "dev", "{v}");
    let both = env.fails(2, &["env", "show", "staging", "--env", "dev"]);
    assert!(
        both["message"]
            .as_str()
            .unwrap()
            .contains("two environments are named"),
        "{both}"
    );
    assert_eq!(
        env.json(&["env", "show", "dev", "--env", "dev"])["name"],
        "dev"
    );

    // A mistyped name: did you mean, and a hint that works.
    let typo = env.fails(3, &["promote", "0123", "--to", "stagign"]);
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"staging\"?"),
        "{typo}"
    );
    assert!(
        typo["hint"]
            .as_str()
            .unwrap()
            .starts_with("envpack env show staging")
    );
    let typo = env.fails(3, &["env", "show", "deb"]);
    assert!(
        typo["message"]
            .as_str()
            .unwrap()
            .contains("did you mean \"dev\"?"),
        "{typo}"
    );
    let unrelated = env.fails(3, &["env", "show", "zzzz"]);
    assert_eq!(unrelated["hint"], "envpack env init zzzz");

    // An unknown revision's hint names the environment and runs as printed.
    let deployer = build_pack(BIN, "test-deployer");
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.recorder@0.1.0",
        "--grant-requested",
    ]);
    let payload = env.home().join("payload");
    std::fs::create_dir_all(&payload).unwrap();
    std::fs::write(payload.join("index.html"), "hi").unwrap();
    let bundle = env.home().join("web.tgz");
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        payload.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        "1.0.0",
        "--source",
        "main",
        "--ref",
        "main",
        "--out",
        bundle.to_str().unwrap(),
    ]);
    env.json(&["deploy", bundle.to_str().unwrap(), "--env", "dev"]);
    let missing = env.fails(
        3,
        &[
            "revisions",
            "show",
            "rnope",
            "--env",
            "dev",
            "--deployment",
            "web",
        ],
    );
    let hint = missing["hint"].as_str().unwrap().to_string();
    assert!(hint.contains("--env dev"), "{missing}");
    let words: Vec<&str> = hint.split_whitespace().collect();
    assert_eq!(words[0], "envpack");
    let listed = env.json(&words[1..]);
    assert_eq!(listed[0]["name"], "web", "the hint ran: {listed}");
}

#[test]
fn output_formats_quiet_names_wide_and_traffic_in_percent() {
    let env = Env::new(BIN);
    // -q prints nothing on success; errors still reach stderr.
    let quiet = env.run(&["-q", "env", "init", "dev"]);
    assert_eq!((quiet.code, quiet.stdout.as_str()), (0, ""), "{quiet:?}");
    env.json(&["env", "init", "qa"]);
    let err = env.run(&["-q", "env", "show", "nope"]);
    assert_eq!(err.code, 3);
    assert!(
        err.stderr
            .contains("error: environment \"nope\" does not exist"),
        "{err:?}"
    );
    // -o name: the ids of a list, one per line, for scripts.
    assert_eq!(env.ok(&["env", "list", "-o", "name"]), "dev\nqa\n");
    // -o json is --json.
    let json = env.run(&["-o", "json", "env", "list"]);
    assert_eq!(json.envelope()["result"][0]["name"], "dev");
    // A usage error with -o json is an envelope too.
    let usage = env.run(&["-o", "json", "env", "bind"]);
    assert_eq!(
        (usage.code, usage.envelope()["ok"].clone()),
        (2, serde_json::Value::from(false))
    );

    // Revisions: percent for people, basis points next to each revision in JSON.
    let rev = deploy_site(&env);
    let human = env.ok(&["revisions", "list", "--env", "dev"]);
    assert!(human.contains("100%") && !human.contains("bps"), "{human}");
    let names = env.ok(&["revisions", "list", "--env", "dev", "-o", "name"]);
    assert_eq!(names.trim(), rev);
    let wide = env.ok(&["revisions", "list", "--env", "dev", "-o", "wide"]);
    assert!(
        wide.contains("SOURCE") && wide.contains("CREATED") && wide.contains("main"),
        "{wide}"
    );
    let listed = env.json(&["revisions", "list", "--env", "dev"]);
    assert_eq!(listed[0]["revisions"][0]["basis_points"], 10000, "{listed}");
    assert_eq!(listed[0]["revisions"][0]["traffic"], "100%");
    let shown = env.ok(&["traffic", "show", "--env", "dev"]);
    assert!(shown.contains(&format!("{rev}=100%")), "{shown}");
    // The deployment is named --deployment here too, as elsewhere.
    env.json(&[
        "traffic",
        "set",
        "--env",
        "dev",
        "--deployment",
        "site",
        &format!("{rev}=100%"),
    ]);
    let shown = env.json(&["traffic", "show", "--env", "dev", "--deployment", "site"]);
    assert_eq!(shown["deployment"], "site");
}

#[test]
fn help_reaches_pack_commands() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "local"]);
    let help = env.ok(&["help", "telemetry", "test"]);
    assert!(help.contains("Usage: envpack telemetry test"), "{help}");
    let builtin = env.ok(&["help", "env", "down"]);
    assert!(builtin.contains("Examples:"), "{builtin}");
    let unknown = env.fails(2, &["help", "nosuch"]);
    assert_eq!(
        unknown["message"], "unknown command \"nosuch\"",
        "{unknown}"
    );
}

/// What the shell gets for `words` (the last is the word being completed),
/// through clap's dynamic completion protocol (fish's: one candidate per
/// line, then a tab and its help).
fn complete(env: &Env, words: &[&str]) -> Vec<String> {
    let out = env
        .cmd()
        .env("COMPLETE", "fish")
        .arg("--")
        .arg("envpack")
        .args(words)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_string())
        .filter(|c| !c.starts_with('-'))
        .collect()
}

#[test]
fn shells_complete_environments_slots_packs_and_revisions() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "prod", "--production", "--allow-dev-secrets"]);
    assert_eq!(complete(&env, &["env", "show", ""]), ["dev", "prod"]);
    // The commands packs contribute complete too (telemetry test, from the
    // default telemetry pack of --env).
    assert_eq!(complete(&env, &["--env", "dev", "tele"]), ["telemetry"]);
    assert!(complete(&env, &["--env", "dev", "telemetry", ""]).contains(&"test".to_string()));
    assert_eq!(complete(&env, &["--env", "p"]), ["prod"]);
    assert!(complete(&env, &["env", "bind", "dev", ""]).contains(&"state".to_string()));
    let packs = complete(&env, &["env", "bind", "dev", "state", "greentic.state"]);
    assert_eq!(
        packs,
        ["greentic.state.fs@0.1.0", "greentic.state.redis@0.1.0"],
        "{packs:?}"
    );
    let rev = deploy_site(&env);
    assert_eq!(
        complete(&env, &["revisions", "drain", "--env", "dev", &rev[..4]]),
        std::slice::from_ref(&rev)
    );
    assert_eq!(complete(&env, &["traffic", "set", "s"]), ["site"]);
    assert_eq!(complete(&env, &["rollback", "--to", ""]), [rev]);
}

/// Binds dev to the recorder deployer and deploys a one-page `site` there;
/// the revision id.
fn deploy_site(env: &Env) -> String {
    let deployer = build_pack(BIN, "test-deployer");
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.recorder@0.1.0",
        "--grant-requested",
    ]);
    let dir = env.home().join("site");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("index.html"), "hi\n").unwrap();
    let out = env.home().join("site.tgz");
    let (dir, out) = (dir.to_str().unwrap(), out.to_str().unwrap());
    env.json(&[
        "bundle",
        "build",
        "--no-git",
        dir,
        "--name",
        "site",
        "--version",
        "1.0.0",
        "--source",
        "main",
        "--ref",
        "main",
        "--out",
        out,
    ]);
    let deployed = env.json(&["deploy", out, "--env", "dev"]);
    deployed["revision"]["id"].as_str().unwrap().to_string()
}
