//! Issue 4: deploy, traffic, policy-gated promotion, rollback, audit and
//! history, through the real binary with a test deployer pack.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::path::{Path, PathBuf};

use envpack_e2e::{Env, build_pack};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// An environment ladder dev -> staging -> prod on the recorder deployer.
fn ladder() -> Env {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&[
        "env",
        "init",
        "staging",
        "--after",
        "dev",
        "--allow-source",
        "main",
        "--allow-source",
        "release-tag",
    ]);
    env.json(&[
        "env",
        "init",
        "prod",
        "--after",
        "staging",
        "--production",
        "--allow-dev-secrets",
    ]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    for e in ["dev", "staging", "prod"] {
        // Changes to prod are confirmed: there is no terminal here.
        env.json(&[
            "--yes",
            "env",
            "bind",
            e,
            "deployer",
            "acme.deployer.recorder@0.1.0",
            "--grant-requested",
        ]);
        // Keep stderr quiet: only warnings and errors reach telemetry output.
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

fn bundle(env: &Env, version: &str, source: &str, attrs: &[&str]) -> PathBuf {
    let dir = env.home().join(format!("payload-{version}"));
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join("index.html"), format!("version {version}\n")).unwrap();
    let out = env.home().join(format!("web-{version}-{source}.tgz"));
    let reference = if source == "release-tag" {
        format!("v{version}")
    } else {
        "feat/login".into()
    };
    // --force: the same version is built again later (the same bytes).
    let mut args = vec![
        "bundle",
        "build",
        "--no-git",
        "--force",
        dir.to_str().unwrap(),
    ];
    args.extend(["--name", "web", "--version", version, "--source", source]);
    args.extend(["--ref", &reference, "--out", out.to_str().unwrap()]);
    for a in attrs {
        args.push("--attr");
        args.push(a);
    }
    env.json(&args);
    out
}

fn bundle_id(env: &Env, file: &Path) -> String {
    env.json(&["bundle", "verify", file.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn deploy(env: &Env, e: &str, file: &Path) -> Value {
    env.json(&["deploy", file.to_str().unwrap(), "--env", e])
}

fn traffic(env: &Env, e: &str) -> Value {
    env.json(&["--env", e, "traffic", "show"])
}

#[test]
fn full_flow_on_a_ladder() {
    let env = ladder();

    // A feature-branch bundle deploys to dev but prod's policy refuses it.
    let feature = bundle(&env, "0.9.0", "feature-branch", &[]);
    let dry = env.json(&[
        "deploy",
        feature.to_str().unwrap(),
        "--env",
        "dev",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["plan"]["steps"][0]["change"], "create");
    env.fails(3, &["--env", "dev", "traffic", "show"]); // a dry run records nothing
    let first = deploy(&env, "dev", &feature);
    assert_eq!(first["revision"]["state"], "ready");
    assert_eq!(first["revision"]["sequence"], 1);
    assert_eq!(
        first["weights"][0]["basis_points"], 10000,
        "the first revision takes all traffic"
    );
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
            .contains("allows bundles from release-tag only"),
        "{refused}"
    );
    // Before any side effect: prod has no deployment.
    assert!(!env.home().join("envs/prod/deployments/web.json").exists());
    // Production takes bundles only by promotion, even from a release tag.
    let v1 = bundle(&env, "1.0.0", "release-tag", &[]);
    let direct = env.fails(
        4,
        &["--yes", "deploy", v1.to_str().unwrap(), "--env", "prod"],
    );
    assert!(
        direct["message"]
            .as_str()
            .unwrap()
            .contains("only by promotion from staging"),
        "{direct}"
    );

    // Release tags flow dev -> staging -> prod with the very same bundle id.
    let mut ids = Vec::new();
    for version in ["1.0.0", "1.1.0", "1.2.0"] {
        let file = bundle(&env, version, "release-tag", &[]);
        let id = bundle_id(&env, &file);
        let out = deploy(&env, "dev", &file);
        let rev = out["revision"]["id"].as_str().unwrap().to_string();
        env.json(&[
            "--env",
            "dev",
            "traffic",
            "set",
            "web",
            &format!("{rev}=100%"),
        ]);
        // Not promotable to prod before it runs in staging.
        env.fails(4, &["--yes", "promote", &id, "--to", "prod"]);
        let staged = env.json(&["promote", &id, "--to", "staging"]);
        assert_eq!(staged["report"]["bundle"], id);
        assert_eq!(staged["report"]["from"], "dev");
        let srev = staged["deploy"]["revision"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        env.json(&[
            "--env",
            "staging",
            "traffic",
            "set",
            "web",
            &format!("{srev}=100%"),
        ]);
        let prod = env.json(&["--yes", "promote", &id[..20], "--to", "prod"]);
        assert_eq!(
            prod["deploy"]["bundle"], id,
            "prod runs the identical bundle"
        );
        assert_eq!(prod["report"]["policy"]["allowed"], true);
        let prev = prod["deploy"]["revision"]["id"]
            .as_str()
            .unwrap()
            .to_string();
        env.json(&[
            "--yes",
            "--env",
            "prod",
            "traffic",
            "set",
            "web",
            &format!("{prev}=100%"),
        ]);
        ids.push((id, prev));
    }
    let reports = fs::read_dir(env.home().join("envs/prod/promotions"))
        .unwrap()
        .count();
    assert_eq!(reports, 3, "one promotion report per promotion");
    let now = traffic(&env, "prod");
    assert_eq!(now["weights"][0]["revision"], ids[2].1.as_str());

    // Roll prod back two steps: 1.2.0 -> (1.1.0) -> 1.0.0's split.
    let rb = env.json(&["--yes", "--env", "prod", "rollback", "--steps", "2"]);
    assert_eq!(rb["traffic"]["weights"][0]["revision"], ids[0].1.as_str());
    assert_eq!(
        traffic(&env, "prod")["weights"][0]["revision"],
        ids[0].1.as_str()
    );
    // ...and to a named revision.
    env.json(&["--yes", "--env", "prod", "rollback", "--to", &ids[1].1]);
    assert_eq!(
        traffic(&env, "prod")["weights"][0]["revision"],
        ids[1].1.as_str()
    );

    // History and audit tell the story.
    let history = env.json(&["--env", "prod", "history"]);
    let kinds: Vec<&str> = history
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "promote").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "rollback").count(),
        2,
        "{kinds:?}"
    );
    let audit = env.json(&["--env", "prod", "audit"]);
    let verbs: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            format!(
                "{}:{}",
                a["verb"].as_str().unwrap(),
                a["result"].as_str().unwrap()
            )
        })
        .collect();
    // The refused deploy is audited with its policy decision, after the
    // --yes that confirmed trying it.
    let first_deploy = verbs.iter().position(|v| v.starts_with("deploy")).unwrap();
    assert_eq!(
        verbs[first_deploy], "deploy:confirmed with --yes",
        "{verbs:?}"
    );
    let first_deploy = first_deploy + 1;
    assert_eq!(verbs[first_deploy], "deploy:denied", "{verbs:?}");
    assert!(verbs.contains(&"promote:ok".to_string()), "{verbs:?}");
    assert!(verbs.contains(&"rollback:ok".to_string()), "{verbs:?}");
    let denied = &audit[first_deploy];
    assert_eq!(denied["policy"]["allowed"], false);
    let gens: Vec<(u64, u64)> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verb"] == "traffic.set" && a["result"] == "ok")
        .map(|a| {
            (
                a["before_generation"].as_u64().unwrap(),
                a["after_generation"].as_u64().unwrap(),
            )
        })
        .collect();
    assert!(gens.iter().all(|(b, a)| a == &(b + 1)), "{gens:?}");
    assert!(env.ok(&["--env", "prod", "audit"]).contains("promote"));
}

fn deployment_bytes(env: &Env, e: &str) -> Vec<u8> {
    fs::read(env.home().join(format!("envs/{e}/deployments/web.json"))).unwrap()
}

#[test]
fn invalid_splits_transitions_and_keys_change_nothing() {
    let env = ladder();
    let a = deploy(&env, "dev", &bundle(&env, "1.0.0", "main", &[]))["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = deploy(&env, "dev", &bundle(&env, "1.1.0", "main", &[]))["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    // A revision whose apply fails ends failed, with the reason kept.
    let broken = bundle(&env, "1.2.0", "main", &["fail=apply"]);
    let err = env.fails(9, &["deploy", broken.to_str().unwrap(), "--env", "dev"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("simulated apply failure"),
        "{err}"
    );
    let revs = env.json(&["--env", "dev", "revisions", "list"]);
    let failed = revs[0]["revisions"][2].clone();
    assert_eq!(failed["state"], "failed");
    assert!(
        failed["reason"]
            .as_str()
            .unwrap()
            .contains("simulated apply failure")
    );
    let f = failed["id"].as_str().unwrap().to_string();
    // An unhealthy revision fails its warm-up.
    let sick = bundle(&env, "1.3.0", "main", &["health=unhealthy"]);
    let err = env
        .cmd()
        .args(["--json", "deploy", sick.to_str().unwrap(), "--env", "dev"])
        .env("ENVPACK_WARM_TIMEOUT_MS", "300")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&err.stdout);
    assert_eq!(err.status.code(), Some(9), "{stdout}");
    assert!(stdout.contains("not healthy within 300 ms"), "{stdout}");

    let before = deployment_bytes(&env, "dev");
    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (vec![format!("{a}=99.99%")], 2, "sum to 9999"),
        (
            vec![format!("{a}=99%"), format!("{b}=1.01%")],
            2,
            "sum to 10001",
        ),
        (vec![format!("{a}=4294967296bps")], 2, "cannot exceed"),
        (
            vec![format!("{a}=99999999999999999999999bps")],
            2,
            "whole number",
        ),
        (
            vec![format!("{a}=10000bps"), format!("{b}=4294967295bps")],
            2,
            "cannot exceed",
        ),
        (
            vec![format!("{a}=50%"), format!("{f}=50%")],
            5,
            "only ready revisions",
        ),
        (
            vec![format!("{a}=50%"), "rnope=50%".to_string()],
            3,
            "no revision",
        ),
        (vec![format!("{a}=100")], 2, "needs a unit"),
        (vec![format!("{a}=50%"), format!("{a}=50%")], 2, "twice"),
    ];
    for (entries, code, needle) in &cases {
        let mut args = vec!["--env", "dev", "traffic", "set", "web"];
        args.extend(entries.iter().map(String::as_str));
        let e = env.fails(*code, &args);
        assert!(
            e["message"].as_str().unwrap().contains(needle),
            "{entries:?}: {e}"
        );
        assert_eq!(
            deployment_bytes(&env, "dev"),
            before,
            "{entries:?} changed state"
        );
    }

    // Invalid transitions.
    let e = env.fails(5, &["--env", "dev", "revisions", "archive", &a]);
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("receives 100% of traffic (10000bps)"),
        "{e}"
    );
    let e = env.fails(5, &["--env", "dev", "revisions", "drain", &f]);
    assert!(
        e["message"].as_str().unwrap().contains("allowed next"),
        "{e}"
    );
    assert_eq!(deployment_bytes(&env, "dev"), before);

    // Idempotency: same key + same split replays; same key + another split is refused.
    let split = [format!("{a}=99%"), format!("{b}=1%")];
    let set = |key: &str, entries: &[String]| {
        let mut args = vec![
            "--env",
            "dev",
            "traffic",
            "set",
            "web",
            "--idempotency-key",
            key,
        ];
        args.extend(entries.iter().map(String::as_str));
        env.run(&[&["--json"][..], &args].concat())
    };
    let first = set("k1", &split).envelope();
    assert_eq!(first["result"]["outcome"], "applied");
    let g = first["result"]["generation"].as_u64().unwrap();
    let replay = set("k1", &split).envelope();
    assert_eq!(replay["result"]["outcome"], "replayed");
    assert_eq!(replay["result"]["generation"], g);
    let after_replay = deployment_bytes(&env, "dev");
    let other = set("k1", &[format!("{a}=100%")]);
    assert_eq!(other.code, 5);
    assert!(
        other.envelope()["error"]["message"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    assert_eq!(deployment_bytes(&env, "dev"), after_replay);

    // Draining a revision without traffic stops it; archive needs no traffic too.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{b}=100%"),
    ]);
    assert_eq!(
        env.json(&["--env", "dev", "revisions", "drain", &a])["state"],
        "inactive"
    );
    assert_eq!(
        env.json(&["--env", "dev", "revisions", "archive", &a])["state"],
        "archived"
    );
    env.fails(5, &["--env", "dev", "revisions", "archive", &a]);
    // Failed revisions can be archived; archived ones cannot come back.
    env.fails(5, &["--env", "dev", "rollback", "--to", &a]);

    // Drain and archive take answers files too.
    assert!(env.json(&["revisions", "drain", "--schema"])["properties"]["revision"].is_object());

    // When the audit log cannot be written, the verb fails and changes nothing.
    let audit = env.home().join("envs/dev/audit.jsonl");
    fs::remove_file(&audit).unwrap();
    fs::create_dir(&audit).unwrap();
    let before = deployment_bytes(&env, "dev");
    let e = env.fails(
        1,
        &[
            "--env",
            "dev",
            "traffic",
            "set",
            "web",
            &format!("{b}=100%"),
        ],
    );
    assert!(e["message"].as_str().unwrap().contains("audit log"), "{e}");
    assert_eq!(deployment_bytes(&env, "dev"), before);
    let e = env.fails(
        1,
        &[
            "deploy",
            bundle(&env, "1.4.0", "main", &[]).to_str().unwrap(),
            "--env",
            "dev",
        ],
    );
    assert!(
        e["message"]
            .as_str()
            .unwrap()
            .contains("the change was not made"),
        "{e}"
    );
    assert_eq!(deployment_bytes(&env, "dev"), before);
}

#[path = "lifecycle/concurrency.rs"]
mod concurrency;
#[path = "lifecycle/retention.rs"]
mod retention;
