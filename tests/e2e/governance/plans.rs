//! `--dry-run` on every mutating verb, and confirmation in production.
use super::*;

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
    assert_eq!(split["before"], format!("{}=100%", revs[1]));
    assert!(split["after"].as_str().unwrap().contains("=50%"), "{plan}");
    // The bundle verbs write files, not environments: they plan too.
    let payload = env.home().join("payload-1.0.0");
    let out = env.home().join("dry.tgz");
    let key = env.home().join("dry.key");
    for args in [
        vec![
            "bundle",
            "build",
            "--no-git",
            payload.to_str().unwrap(),
            "--name",
            "web",
            "--version",
            "9.0.0",
            "--source",
            "main",
            "--ref",
            "main",
            "--out",
            out.to_str().unwrap(),
        ],
        vec!["bundle", "keygen", "--out", key.to_str().unwrap()],
    ] {
        let before = tree_digest(env.home());
        let mut all = vec!["--dry-run"];
        all.extend_from_slice(&args);
        let human = env.ok(&all);
        assert!(
            human.contains("dry run: nothing was written"),
            "{args:?}: {human}"
        );
        assert_same_tree(
            &format!("{args:?} --dry-run"),
            &before,
            &tree_digest(env.home()),
        );
    }
    let payload11 = env.home().join("payload-1.1.0");
    let built = env.json(&[
        "--dry-run",
        "bundle",
        "build",
        "--no-git",
        payload11.to_str().unwrap(),
        "--name",
        "web",
        "--version",
        "1.1.0",
        "--source",
        "release-tag",
        "--ref",
        "v1.1.0",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(
        built["id"],
        id.as_str(),
        "a dry run gives the id the bundle will have"
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

/// Runs `envpack ARGS` on a terminal (a pty made by util-linux `script`),
/// typing `input`; (exit code, what the terminal showed).
fn on_terminal(env: &Env, args: &str, input: &str) -> (i32, String) {
    use std::io::Write as _;
    let mut child = std::process::Command::new("script")
        .args(["-qec", &format!("{} {args}", env.bin()), "/dev/null"])
        .env("ENVPACK_HOME", env.home())
        .env("ENVPACK_NO_PROGRESS", "1")
        .env("ENVPACK_ACTOR", "ops@example.com")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

#[test]
fn a_terminal_is_shown_the_plan_and_asked_for_the_name() {
    let (env, _file, _revs) = ladder();
    // Typing something else than the name declines: nothing changes.
    let (code, shown) = on_terminal(&env, "env policy prod --add-source main", "yes\n");
    assert_eq!(code, 4, "{shown}");
    assert!(shown.contains("plan: env.policy prod in prod"), "{shown}");
    assert!(
        shown.contains("allowed sources  release-tag -> main, release-tag"),
        "{shown}"
    );
    assert!(shown.contains("Type its name to go ahead"), "{shown}");
    let policy = env.json(&["env", "show", "prod"])["meta"]["policy"]["allowed_sources"].clone();
    assert_eq!(policy, serde_json::json!(["release-tag"]));
    // Typing the name goes ahead.
    let (code, shown) = on_terminal(&env, "env policy prod --add-source main", "prod\n");
    assert_eq!(code, 0, "{shown}");
    let audit = env.json(&["audit", "--env", "prod", "--verb", "env.policy"]);
    let results: Vec<&str> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["result"].as_str().unwrap())
        .collect();
    assert_eq!(
        results,
        [
            "refused: declined at the terminal",
            "confirmed at the terminal",
            "started",
            "ok"
        ],
        "{audit}"
    );
}

#[test]
fn commands_that_cannot_plan_refuse_dry_run_rather_than_act() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "local"]);
    let before = tree_digest(env.home());
    for args in [
        vec!["--dry-run", "telemetry", "test", "--message", "x"],
        vec!["--dry-run", "observe"],
        vec![
            "--dry-run",
            "pack",
            "call",
            "greentic.state.fs",
            "get(\"k\")",
        ],
    ] {
        let err = env.fails(2, &args);
        assert!(
            err["message"]
                .as_str()
                .unwrap()
                .contains("cannot be planned"),
            "{args:?}: {err}"
        );
    }
    assert_same_tree("refused dry runs", &before, &tree_digest(env.home()));
}
