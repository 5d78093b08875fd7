//! Acceptance 1: two revisions in dev, a 99/1 split applied as HTTPRoute
//! weights 9900/100 (read back with kubectl), promotion to a production
//! rung that accepts release tags only, a rollback there, and both
//! environments observed in sync.

use super::*;

#[test]
fn deploy_split_promote_rollback_in_sync() {
    let c = Cluster::new();
    c.env.json(&[
        "env",
        "init",
        "prod",
        "--after",
        "dev",
        "--production",
        "--allow-source",
        "release-tag",
        "--mode",
        "kubernetes",
    ]);
    c.bind("prod", "prod");

    let v1 = c.bundle(
        "1.0.0",
        "release-tag",
        &image("web", '1'),
        &["config.MODE=blue", "port=8080"],
    );
    let v2 = c.bundle(
        "1.1.0",
        "release-tag",
        &image("web", '2'),
        &["replicas=2", "port=8080"],
    );
    let r1 = c.deploy("dev", &v1);
    let r2 = c.deploy("dev", &v2);

    // What the pack applied, as kubectl sees it.
    let dep = c.get(&["deployment", &object(&r2), "--show-managed-fields"]);
    assert_eq!(dep["spec"]["replicas"], 2);
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["image"],
        image("web", '2')
    );
    assert_eq!(
        dep["metadata"]["labels"]["envpack.greentic.dev/revision"],
        r2.as_str()
    );
    assert_eq!(
        dep["metadata"]["labels"]["envpack.greentic.dev/environment"],
        "dev"
    );
    let managers: Vec<&str> = dep["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"envpack"), "{managers:?}");
    let cm = c.get(&["configmap", &object(&r1)]);
    assert_eq!(cm["data"]["MODE"], "blue");
    c.get(&["service", &object(&r2)]);

    // 99/1: exact basis points on the route, reported back as applied.
    let split = c.env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=99%"),
        &format!("{r2}=1%"),
    ]);
    let route = c.get(&["httproute", "web-dev"]);
    assert_eq!(
        route_weights(&route),
        [(object(&r1), 9900), (object(&r2), 100)]
    );
    assert!(split.to_string().contains("9900"), "{split}");

    // Promote to production: a main-branch bundle is refused there.
    let main = c.bundle("1.2.0", "main", &image("web", '3'), &[]);
    c.env.fails(
        4,
        &["--yes", "deploy", main.to_str().unwrap(), "--env", "prod"],
    );
    let id = |f: &Path| {
        c.env.json(&["bundle", "verify", f.to_str().unwrap()])["id"]
            .as_str()
            .unwrap()
            .to_string()
    };
    c.env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r1}=100%"),
    ]);
    let p1 = c.env.json(&["--yes", "promote", &id(&v1), "--to", "prod"]);
    let p1 = p1["deploy"]["revision"]["id"].as_str().unwrap().to_string();
    c.env.json(&[
        "--env",
        "dev",
        "traffic",
        "set",
        "web",
        &format!("{r2}=100%"),
    ]);
    let p2 = c.env.json(&["--yes", "promote", &id(&v2), "--to", "prod"]);
    let p2 = p2["deploy"]["revision"]["id"].as_str().unwrap().to_string();
    c.env.json(&[
        "--yes",
        "--env",
        "prod",
        "traffic",
        "set",
        "web",
        &format!("{p2}=100%"),
    ]);
    let prod = c.get(&["httproute", "web-prod", "-n", "prod"]);
    assert_eq!(route_weights(&prod), [(object(&p2), 10000)]);

    // Roll production back: the route sends everything to 1.0.0 again.
    c.env
        .json(&["--yes", "--env", "prod", "rollback", "--steps", "1"]);
    let prod = c.get(&["httproute", "web-prod", "-n", "prod"]);
    assert_eq!(route_weights(&prod), [(object(&p1), 10000)]);
    let dev = c.get(&["httproute", "web-dev"]);
    assert_eq!(route_weights(&dev), [(object(&r2), 10000)]);

    for env in ["dev", "prod"] {
        let seen = c.env.json(&["--env", env, "observe"]);
        assert_eq!(seen["state"], "in-sync", "{env}: {seen}");
    }
}
