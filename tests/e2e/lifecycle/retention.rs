//! Revision retention: revisions at 0% keep running for the scale-down
//! delay (a rollback within it is instant), then stop; never-routed ones
//! are left alone; archived ones are hidden from `revisions list`.
use super::*;

fn state(env: &Env, rev: &str) -> String {
    let list = env.json(&["revisions", "list", "--env", "dev", "--all"]);
    list[0]["revisions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == rev)
        .map(|r| r["state"].as_str().unwrap().to_string())
        .unwrap()
}

#[test]
fn revisions_at_zero_stop_after_the_scale_down_delay() {
    let env = ladder();
    let id = |v: &Value| v["revision"]["id"].as_str().unwrap().to_string();
    let r1 = id(&deploy(&env, "dev", &bundle(&env, "1.0.0", "main", &[])));
    let r2 = id(&deploy(&env, "dev", &bundle(&env, "1.1.0", "main", &[])));
    let shown = env.json(&["env", "retention", "dev", "--scale-down-delay", "2s"]);
    assert_eq!(shown["scale_down_delay_secs"], 2);
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
    ]);

    // Within the delay the old revision still runs: the rollback is instant.
    let back = env.json(&["--env", "dev", "rollback"]);
    assert_eq!(back["rewarmed"], serde_json::json!([]), "{back}");
    env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
    ]);
    // A revision never routed to is waiting for its canary: left alone.
    let r3 = id(&deploy(&env, "dev", &bundle(&env, "1.2.0", "main", &[])));
    assert_eq!(state(&env, &r1), "ready");

    // Past the delay: planned, then stopped, audited.
    std::thread::sleep(std::time::Duration::from_millis(2500));
    let plan = env.json(&["--dry-run", "--env", "dev", "revisions", "scale-down"]);
    let whats: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["what"].as_str().unwrap())
        .collect();
    assert_eq!(whats, [format!("web {r1}")], "{plan}");
    let stopped = env.json(&["--env", "dev", "revisions", "scale-down"]);
    assert_eq!(stopped[0]["revision"], r1.as_str(), "{stopped}");
    assert_eq!(state(&env, &r1), "inactive");
    assert_eq!(state(&env, &r3), "ready", "never routed: not retired");
    assert_eq!(state(&env, &r2), "ready");
    let audit = env.json(&["audit", "--env", "dev", "--verb", "revision.scale-down"]);
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
    // Nothing more is due.
    let again = env.ok(&["--env", "dev", "revisions", "scale-down"]);
    assert!(
        again.contains("nothing in dev is past its scale-down delay"),
        "{again}"
    );

    // After the delay a rollback warms the old revision again.
    let back = env.json(&["--env", "dev", "rollback", "--to", &r1]);
    assert_eq!(back["rewarmed"], serde_json::json!([r1.as_str()]), "{back}");

    // Archived revisions are hidden unless --all.
    env.json(&["--env", "dev", "revisions", "drain", &r3]);
    env.json(&["--env", "dev", "revisions", "archive", &r3]);
    let list = env.ok(&["revisions", "list", "--env", "dev"]);
    assert!(!list.contains(&r3), "{list}");
    assert!(
        env.ok(&["revisions", "list", "--env", "dev", "--all"])
            .contains(&r3)
    );
}
