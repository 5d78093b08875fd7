//! Acceptance 2: out-of-band kubectl edits (an image changed, a Deployment
//! scaled, a Service deleted) are drift entries, `drift` exits 2, and
//! `status` shows the deployment drifted.

use super::*;

fn entry<'a>(drift: &'a Value, revision: &str, field: &str) -> &'a Value {
    drift["drift"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["revision"] == revision && d["field"] == field)
        .unwrap_or_else(|| panic!("no {field} drift for {revision}: {drift}"))
}

#[test]
fn kubectl_edits_show_as_drift() {
    let c = Cluster::new();
    let r1 = c.deploy("dev", &c.bundle("1.0.0", "main", &image("web", '1'), &[]));
    let r2 = c.deploy("dev", &c.bundle("1.1.0", "main", &image("web", '2'), &[]));
    let seen = c.env.json(&["--env", "dev", "observe"]);
    assert_eq!(seen["state"], "in-sync", "{seen}");

    let edited = image("web", 'e');
    c.kubectl(&[
        "set",
        "image",
        &format!("deployment/{}", object(&r1)),
        &format!("app={edited}"),
    ]);
    c.kubectl(&[
        "scale",
        &format!("deployment/{}", object(&r2)),
        "--replicas=3",
    ]);
    c.kubectl(&["delete", "service", &object(&r2)]);

    let r = c.env.run(&["--json", "drift", "--env", "dev"]);
    assert_eq!(r.code, 2, "drift exits 2: {}{}", r.stdout, r.stderr);
    let drift = r.envelope()["error"]["details"].clone();
    let drift = if drift.is_null() {
        r.envelope()["result"].clone()
    } else {
        drift
    };
    let img = entry(&drift, &r1, "image");
    assert_eq!(img["kind"], "changed");
    assert_eq!(img["expected"], image("web", '1'));
    assert_eq!(img["observed"], edited);
    let replicas = entry(&drift, &r2, "replicas");
    assert_eq!(
        (replicas["expected"].as_str(), replicas["observed"].as_str()),
        (Some("1"), Some("3"))
    );
    let svc = entry(&drift, &r2, "service");
    assert_eq!(svc["kind"], "missing");
    assert_eq!(svc["expected"], object(&r2));
    // The applied spec changed under both.
    entry(&drift, &r1, "spec-hash");
    entry(&drift, &r2, "spec-hash");

    let status = c.env.json(&["status", "--env", "dev"]);
    assert_eq!(status["deployments"][0]["drift"], "drifted", "{status}");
    let text = c.env.run(&["status", "--env", "dev"]).stdout;
    assert!(text.contains("drifted"), "{text}");
}
