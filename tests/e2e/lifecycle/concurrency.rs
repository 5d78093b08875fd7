//! Concurrent traffic changes, a deploy killed midway, answers files.
use super::*;

#[test]
fn concurrent_traffic_changes_keep_a_gap_free_history() {
    let env = ladder();
    let a = deploy(&env, "dev", &bundle(&env, "1.0.0", "main", &[]))["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = deploy(&env, "dev", &bundle(&env, "1.1.0", "main", &[]))["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let children: Vec<_> = (0..8u32)
        .map(|i| {
            env.cmd()
                .args([
                    "--env",
                    "dev",
                    "traffic",
                    "set",
                    "web",
                    &format!("{a}={}bps", 9000 + i),
                    &format!("{b}={}bps", 1000 - i),
                ])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let dep: Value = serde_json::from_slice(&deployment_bytes(&env, "dev")).unwrap();
    let gens: Vec<u64> = dep["traffic_history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["generation"].as_u64().unwrap())
        .collect();
    assert_eq!(
        gens,
        (1..=9).collect::<Vec<_>>(),
        "gap-free, one per change"
    );
    assert_eq!(dep["generation"], 9);
    let mut seen: Vec<u64> = dep["traffic_history"].as_array().unwrap()[1..]
        .iter()
        .map(|t| t["weights"][0]["basis_points"].as_u64().unwrap())
        .collect();
    seen.sort();
    assert_eq!(seen, (9000..9008).collect::<Vec<_>>(), "no lost update");
    let audit = env.json(&["--env", "dev", "audit"]);
    let sets = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verb"] == "traffic.set")
        .count();
    assert_eq!(sets, 8);
}

#[test]
fn a_deploy_killed_midway_leaves_a_readable_environment() {
    let env = ladder();
    deploy(&env, "dev", &bundle(&env, "1.0.0", "main", &[]));
    let sick = bundle(&env, "2.0.0", "main", &["health=unhealthy"]);
    let mut child = env
        .cmd()
        .args(["deploy", sick.to_str().unwrap(), "--env", "dev"])
        .env("ENVPACK_WARM_TIMEOUT_MS", "60000")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the revision is recorded as warming, then SIGKILL.
    let path = env.home().join("envs/dev/deployments/web.json");
    let start = std::time::Instant::now();
    loop {
        let text = fs::read_to_string(&path).unwrap_or_default();
        if text.contains("\"warming\"") {
            break;
        }
        assert!(
            start.elapsed().as_secs() < 60,
            "deploy never reached warming"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let doctor = env.json(&["env", "doctor", "dev"]);
    assert_eq!(doctor["healthy"], true);
    let revs = env.json(&["--env", "dev", "revisions", "list"]);
    assert_eq!(
        revs[0]["revisions"][1]["state"], "warming",
        "the interrupted revision is shown as it was left"
    );
    // The interrupted revision can be cleared away.
    let stuck = revs[0]["revisions"][1]["id"].as_str().unwrap().to_string();
    let archived = env.json(&["--env", "dev", "revisions", "archive", &stuck]);
    assert_eq!(archived["state"], "archived");
    assert!(archived["reason"].as_str().unwrap().contains("abandoned"));
    // The environment keeps working: traffic still routes to the first revision.
    assert_eq!(traffic(&env, "dev")["weights"][0]["basis_points"], 10000);
    deploy(&env, "dev", &bundle(&env, "3.0.0", "main", &[]));
}

#[test]
fn answers_files_and_schemas() {
    let env = ladder();
    let schema = env.json(&["deploy", "--schema"]);
    assert!(schema["properties"]["bundle"].is_object(), "{schema}");
    assert!(env.json(&["traffic", "set", "--schema"])["properties"]["weights"].is_object());
    assert!(
        env.json(&["promote", "--schema"])["required"]
            .to_string()
            .contains("bundle_id")
    );
    let file = bundle(&env, "1.0.0", "main", &[]);
    let answers = env.home().join("deploy.json");
    fs::write(
        &answers,
        serde_json::json!({"env": "dev", "bundle": file, "dry_run": false}).to_string(),
    )
    .unwrap();
    let out = env.json(&["deploy", "--answers", answers.to_str().unwrap()]);
    assert_eq!(out["revision"]["state"], "ready");
    fs::write(&answers, r#"{"env": "dev", "bundel": "x"}"#).unwrap();
    let bad = env.fails(2, &["deploy", "--answers", answers.to_str().unwrap()]);
    assert!(bad["message"].as_str().unwrap().contains("bundel"), "{bad}");
}
