//! A release manager's day, end to end: build from a real git repository
//! at a tag, sign, deploy to dev, promote to staging, soak; the gate
//! refuses prod until the evidence and the soak hold; promote with --yes;
//! the audit names the release manager for every step and the promotion
//! reports hold every gate decision.
use std::process::Command;

use super::*;

const ACTOR: &str = "rm@example.com";

/// Runs git in `dir` with a fixed identity and no user or system config.
fn git(dir: &std::path::Path, args: &[&str]) {
    let out = Command::new("git")
        .current_dir(dir)
        .args(["-c", "user.name=Release", "-c", "user.email=rm@example.com"])
        .args(["-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false"])
        .args(args)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `envpack --json ARGS` as the release manager; (exit code, envelope).
fn rm(env: &Env, args: &[&str]) -> (i32, Value) {
    let out = env
        .cmd()
        .env("ENVPACK_ACTOR", ACTOR)
        .arg("--json")
        .args(args)
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: no envelope ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (out.status.code().unwrap_or(-1), v)
}

fn ok(env: &Env, args: &[&str]) -> Value {
    let (code, v) = rm(env, args);
    assert_eq!(code, 0, "{args:?}: {v}");
    v["result"].clone()
}

/// Builds `site` at `tag` (committed and tagged first) and signs it.
fn release(
    env: &Env,
    repo: &std::path::Path,
    key: &str,
    tag: &str,
    evidence: Option<&str>,
) -> (String, String) {
    fs::write(repo.join("site/index.html"), format!("release {tag}\n")).unwrap();
    git(repo, &["add", "-A"]);
    git(repo, &["commit", "-q", "-m", tag]);
    git(repo, &["tag", tag]);
    let out = env.home().join(format!("site-{tag}.tgz"));
    let (site, out_s) = (repo.join("site"), out.display().to_string());
    let version = tag.trim_start_matches('v');
    let mut args = vec![
        "bundle",
        "build",
        site.to_str().unwrap(),
        "--name",
        "site",
        "--version",
        version,
        "--source",
        "release-tag",
        "--ref",
        tag,
        "--out",
        &out_s,
    ];
    if let Some(e) = evidence {
        args.extend(["--evidence", e]);
    }
    let built = ok(env, &args);
    assert_eq!(built["manifest"]["source"]["provenance"], "git", "{built}");
    ok(env, &["bundle", "sign", &out_s, "--key", key]);
    (built["id"].as_str().unwrap().to_string(), out_s)
}

fn revision_of(env: &Env, e: &str) -> String {
    let list = env.json(&["revisions", "list", "--env", e]);
    let revs = list[0]["revisions"].as_array().unwrap();
    revs.last().unwrap()["id"].as_str().unwrap().to_string()
}

fn gate_failures(v: &Value) -> String {
    v["error"]["message"].as_str().unwrap().to_string()
}

#[test]
fn a_release_managers_day() {
    let deployer = build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    let repo = env.home().join("repo");
    fs::create_dir_all(repo.join("site")).unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    let key = env.home().join("release.key");
    let key_s = key.display().to_string();
    ok(&env, &["bundle", "keygen", "--out", &key_s]);
    let public = format!("{key_s}.pub");
    ok(&env, &["env", "init", "dev"]);
    ok(
        &env,
        &[
            "env",
            "init",
            "staging",
            "--after",
            "dev",
            "--allow-source",
            "release-tag",
        ],
    );
    ok(
        &env,
        &[
            "env",
            "init",
            "prod",
            "--after",
            "staging",
            "--production",
            "--allow-dev-secrets",
        ],
    );
    ok(&env, &["pack", "install", deployer.to_str().unwrap()]);
    for e in ["dev", "staging", "prod"] {
        ok(
            &env,
            &[
                "--yes",
                "env",
                "bind",
                e,
                "deployer",
                "acme.deployer.recorder@0.1.0",
                "--grant-requested",
            ],
        );
        ok(
            &env,
            &[
                "--yes",
                "env",
                "config",
                e,
                "greentic.telemetry.stdout",
                "level",
                "warn",
            ],
        );
        ok(
            &env,
            &[
                "--yes",
                "env",
                "policy",
                e,
                "--trust-key",
                &public,
                "--require-signature",
            ],
        );
    }
    ok(
        &env,
        &[
            "--yes",
            "env",
            "policy",
            "prod",
            "--tag-pattern",
            "v*",
            "--require-evidence",
            "evidence/test-report.xml",
            "--soak",
            "100%:2s",
            "--require-no-drift",
        ],
    );

    // 1.0.0: built at its tag and signed, but without test evidence.
    let (v1, file1) = release(&env, &repo, &key_s, "v1.0.0", None);
    ok(&env, &["deploy", &file1, "--env", "dev"]);
    ok(&env, &["promote", &v1, "--to", "staging"]);
    let (code, refused) = rm(&env, &["--yes", "promote", &v1, "--to", "prod"]);
    assert_eq!(code, 4, "{refused}");
    assert!(
        gate_failures(&refused).contains("evidence: the bundle carries no evidence"),
        "{refused}"
    );

    // 1.1.0 carries the test report; promoted at once, the soak is short.
    let report = env.home().join("test-report.xml");
    fs::write(&report, "<testsuite tests=\"12\" failures=\"0\"/>\n").unwrap();
    let (v2, file2) = release(
        &env,
        &repo,
        &key_s,
        "v1.1.0",
        Some(report.to_str().unwrap()),
    );
    ok(&env, &["deploy", &file2, "--env", "dev"]);
    let dev_rev = revision_of(&env, "dev");
    ok(
        &env,
        &[
            "--env",
            "dev",
            "traffic",
            "set",
            "site",
            &format!("{dev_rev}=100%"),
        ],
    );
    ok(&env, &["promote", &v2, "--to", "staging"]);
    let staging_rev = revision_of(&env, "staging");
    ok(
        &env,
        &[
            "--env",
            "staging",
            "traffic",
            "set",
            "site",
            &format!("{staging_rev}=100%"),
        ],
    );
    let (code, refused) = rm(&env, &["--yes", "promote", &v2, "--to", "prod"]);
    assert_eq!(code, 4, "{refused}");
    let why = gate_failures(&refused);
    assert!(why.contains("soak:") && !why.contains("evidence:"), "{why}");
    assert!(
        refused["error"]["hint"].as_str().unwrap().contains("more"),
        "{refused}"
    );

    // After the soak: without --yes (no terminal here) prod is refused...
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let (code, unconfirmed) = rm(&env, &["promote", &v2, "--to", "prod"]);
    assert_eq!(code, 4, "{unconfirmed}");
    assert!(
        unconfirmed["error"]["hint"]
            .as_str()
            .unwrap()
            .contains("--yes")
    );
    // ...and with --yes it goes through, every gate check passing.
    let done = ok(&env, &["--yes", "promote", &v2, "--to", "prod"]);
    assert_eq!(done["report"]["gate"]["allowed"], true, "{done}");
    assert_eq!(done["report"]["from"], "staging");
    assert_eq!(done["report"]["from_revision"], staging_rev.as_str());
    assert_eq!(done["deploy"]["bundle"], v2.as_str());

    // The audit: every step, by the release manager.
    let audit = env.json(&["audit", "--all", "--by", ACTOR]);
    let steps: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            format!(
                "{} {} {}",
                e["environment"].as_str().unwrap(),
                e["verb"].as_str().unwrap(),
                e["result"].as_str().unwrap()
            )
        })
        .collect();
    for step in [
        "- pack.install ok",
        "prod env.policy ok",
        "dev deploy ok",
        "staging promote ok",
        "prod promote denied",
        "dev traffic.set ok",
        "prod promote refused: production change not confirmed (no --yes, no terminal)",
        "prod promote confirmed with --yes",
        "prod promote ok",
    ] {
        assert!(
            steps.iter().any(|s| s == step),
            "no `{step}` in the audit: {steps:#?}"
        );
    }
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .all(|e| e["actor_source"] == "ENVPACK_ACTOR")
    );

    // The promotion reports of prod: both refusals and the promotion, each
    // with its gate decision.
    let mut reports: Vec<Value> = fs::read_dir(env.home().join("envs/prod/promotions"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    reports.sort_by_key(|r| r["at"].as_str().unwrap().to_string() + r["result"].as_str().unwrap());
    let results: Vec<&str> = reports
        .iter()
        .map(|r| r["result"].as_str().unwrap())
        .collect();
    assert_eq!(results.len(), 3, "{results:?}");
    assert!(results.contains(&"ok"), "{results:?}");
    assert!(
        results.iter().any(|r| r.contains("evidence")),
        "{results:?}"
    );
    assert!(results.iter().any(|r| r.contains("soak")), "{results:?}");
    for r in &reports {
        let checks = r["gate"]["checks"].as_array().unwrap();
        let names: Vec<&str> = checks
            .iter()
            .map(|c| c["check"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["carried-traffic", "evidence", "soak", "no-drift"],
            "{r}"
        );
    }
}
