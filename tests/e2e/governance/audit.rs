//! Every change audited with its actor and command; a failed audit append
//! means no change; additive policy edits.
use super::*;

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

#[test]
fn an_empty_secret_is_refused_unless_asked_for() {
    let (env, _file, _revs) = ladder();
    let err = env.fails(2, &["--env", "dev", "secrets", "put", "EMPTY", ""]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("is empty; nothing was stored"),
        "{err}"
    );
    assert!(
        err["hint"].as_str().unwrap().contains("--allow-empty"),
        "{err}"
    );
    let names = env.json(&["--env", "dev", "secrets", "list"]);
    assert!(
        !names.as_array().unwrap().contains(&Value::from("EMPTY")),
        "{names}"
    );
    env.json(&[
        "--env",
        "dev",
        "secrets",
        "put",
        "EMPTY",
        "",
        "--allow-empty",
    ]);
    assert_eq!(
        env.json(&["--env", "dev", "secrets", "get", "EMPTY"])["value"],
        ""
    );
}
