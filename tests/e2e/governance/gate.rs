//! The release gate on promotion: traffic, evidence, soak, drift.
use super::*;

fn refused_checks(env: &Env, args: &[&str]) -> (Vec<String>, Value) {
    let err = env.fails(4, args);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("refused by the release gate"), "{err}");
    let checks = message
        .lines()
        .skip(1)
        .map(|l| l.trim().split(':').next().unwrap().to_string())
        .collect();
    (checks, err)
}

#[test]
fn the_release_gate_needs_traffic_evidence_soak_and_no_drift() {
    let (env, _file, _revs) = ladder();
    env.json(&[
        "--yes",
        "env",
        "policy",
        "prod",
        "--require-evidence",
        "evidence/test-report.xml",
        "--soak",
        "50%:2s",
        "--require-no-drift",
    ]);
    let shown = env.json(&["env", "show", "prod"])["meta"]["policy"]["gate"].clone();
    assert_eq!(
        shown["soak"],
        serde_json::json!({"min_basis_points": 5000, "min_seconds": 2})
    );
    // 1.1.0 runs in dev with all the traffic but carries no evidence.
    let plain = env.json(&[
        "bundle",
        "verify",
        env.home().join("web-1.1.0.tgz").to_str().unwrap(),
    ]);
    let id = plain["id"].as_str().unwrap().to_string();
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["evidence", "soak"], "{err}");
    assert!(
        err["hint"].as_str().unwrap().contains("--evidence"),
        "{err}"
    );
    // With evidence, but not yet routed: it never carried traffic.
    let with = bundle_with_evidence(&env, "1.2.0", &["test-report.xml"]);
    let out = env.json(&["deploy", with.to_str().unwrap(), "--env", "dev"]);
    let rev = out["revision"]["id"].as_str().unwrap().to_string();
    let id = env.json(&["bundle", "verify", with.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["carried-traffic", "soak"], "{err}");
    assert!(
        err["hint"]
            .as_str()
            .unwrap()
            .contains("traffic set --env dev"),
        "{err}"
    );
    // Routed now, but the soak is short.
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{rev}=100%"),
    ]);
    let (checks, err) = refused_checks(&env, &["--yes", "promote", &id, "--to", "prod"]);
    assert_eq!(checks, ["soak"], "{err}");
    assert!(err["hint"].as_str().unwrap().contains("more"), "{err}");
    // Every refusal is audited and reported, and prod runs nothing.
    let denied = env.json(&["audit", "--env", "prod", "--verb", "promote"]);
    let denied: Vec<&Value> = denied
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["result"] == "denied")
        .collect();
    assert_eq!(denied.len(), 3, "{denied:?}");
    assert!(
        denied[0]["policy"]["reason"]
            .as_str()
            .unwrap()
            .contains("release gate")
    );
    assert!(!env.home().join("envs/prod/deployments/web.json").exists());
    std::thread::sleep(std::time::Duration::from_millis(2500));
    // Planning it observes dev for the gate without keeping the snapshot.
    let before = tree_digest(env.home());
    let planned = env.json(&["--dry-run", "promote", &id, "--to", "prod"]);
    assert_eq!(planned["dry_run"], true, "{planned}");
    assert_same_tree(
        "promote --dry-run with a gate",
        &before,
        &tree_digest(env.home()),
    );
    let done = env.json(&["--yes", "promote", &id, "--to", "prod"]);
    let report = &done["report"];
    assert_eq!(report["result"], "ok", "{report}");
    assert_eq!(report["gate"]["allowed"], true);
    let checks: Vec<&str> = report["gate"]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["check"].as_str().unwrap())
        .collect();
    assert_eq!(
        checks,
        ["carried-traffic", "evidence", "soak", "no-drift"],
        "{report}"
    );
    let evidence = &report["gate"]["checks"][1]["evidence"]["matched"][0];
    assert_eq!(evidence["path"], "evidence/test-report.xml");
    assert_eq!(evidence["sha256"].as_str().unwrap().len(), 64);
    assert!(
        report["gate"]["checks"][2]["evidence"]["span"]["seconds"]
            .as_u64()
            .unwrap()
            >= 2
    );
    assert_eq!(
        report["gate"]["checks"][2]["evidence"]["observed"],
        "running"
    );
    assert_eq!(report["from"], "dev");
    assert_eq!(report["from_revision"], rev.as_str());
    assert_eq!(report["verification"]["verified"], true);
    assert_eq!(report["pointer"]["deployment"], "web");
    // The stored reports: three refusals and the promotion, each with its gate.
    let stored: Vec<Value> = fs::read_dir(env.home().join("envs/prod/promotions"))
        .unwrap()
        .map(|e| serde_json::from_slice(&fs::read(e.unwrap().path()).unwrap()).unwrap())
        .collect();
    assert_eq!(stored.len(), 4);
    assert!(stored.iter().all(|r| r["gate"]["checks"].is_array()));
    // The report's schema documents every field.
    let schema = env.json(&["promote", "--report-schema"]);
    for field in [
        "gate",
        "verification",
        "pointer",
        "from",
        "from_revision",
        "policy",
    ] {
        assert!(
            schema["properties"][field].is_object(),
            "{field} undocumented: {schema}"
        );
    }
}
