//! Acceptance 1: two revisions in dev, a 99/1 split applied as HTTPRoute
//! weights 9900/100 (read back with kubectl), promotion to a production
//! rung that accepts release tags only, a rollback there, and both
//! environments observed in sync.

use super::*;

/// `traffic set` in `env` (confirmed: prod is production).
fn split(c: &Cluster, env: &str, weights: &[String]) -> Value {
    let mut args = vec!["--yes", "--env", env, "traffic", "set", "web"];
    args.extend(weights.iter().map(String::as_str));
    c.env.json(&args)
}

/// Promotes the bundle in `file` to prod; returns prod's revision id.
fn promote(c: &Cluster, file: &Path) -> String {
    let id = c.env.json(&["bundle", "verify", file.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string();
    let out = c.env.json(&["--yes", "promote", &id, "--to", "prod"]);
    out["deploy"]["revision"]["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// What the pack applied for `r2` (and `r1`'s ConfigMap), as kubectl sees it.
fn applied_as_planned(c: &Cluster, r1: &str, r2: &str) {
    let dep = c.get(&["deployment", &object(r2), "--show-managed-fields"]);
    assert_eq!(dep["spec"]["replicas"], 2);
    let container = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(container["image"], image("web", '2'));
    let labels = &dep["metadata"]["labels"];
    assert_eq!(labels["envpack.greentic.dev/revision"], r2);
    assert_eq!(labels["envpack.greentic.dev/environment"], "dev");
    let managers: Vec<&str> = dep["metadata"]["managedFields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["manager"].as_str().unwrap())
        .collect();
    assert!(managers.contains(&"envpack"), "{managers:?}");
    assert_eq!(c.get(&["configmap", &object(r1)])["data"]["MODE"], "blue");
    c.get(&["service", &object(r2)]);
}

#[test]
fn deploy_split_promote_rollback_in_sync() {
    let c = Cluster::new();
    let prod = [
        "env",
        "init",
        "prod",
        "--after",
        "dev",
        "--production",
        "--allow-dev-secrets",
        "--allow-source",
        "release-tag",
        "--mode",
        "kubernetes",
    ];
    c.env.json(&prod);
    c.bind("prod", "prod");
    let v1 = c.bundle(
        "1.0.0",
        "release-tag",
        &image("web", '1'),
        &["config.MODE=blue"],
    );
    let v2 = c.bundle("1.1.0", "release-tag", &image("web", '2'), &["replicas=2"]);
    let r1 = c.deploy("dev", &v1);
    let r2 = c.deploy("dev", &v2);
    applied_as_planned(&c, &r1, &r2);

    // 99/1: exact basis points on the route, reported back as applied.
    let out = split(&c, "dev", &[format!("{r1}=99%"), format!("{r2}=1%")]);
    let route = c.get(&["httproute", "web-dev"]);
    assert_eq!(
        route_weights(&route),
        [(object(&r1), 9900), (object(&r2), 100)]
    );
    assert!(out.to_string().contains("9900"), "{out}");

    // Production takes release tags only, by promotion from dev.
    let main = c.bundle("1.2.0", "main", &image("web", '3'), &[]);
    c.env.fails(
        4,
        &["--yes", "deploy", main.to_str().unwrap(), "--env", "prod"],
    );
    split(&c, "dev", &[format!("{r1}=100%")]);
    let p1 = promote(&c, &v1);
    split(&c, "dev", &[format!("{r2}=100%")]);
    let p2 = promote(&c, &v2);
    split(&c, "prod", &[format!("{p2}=100%")]);
    let route = c.get(&["httproute", "web-prod", "-n", "prod"]);
    assert_eq!(route_weights(&route), [(object(&p2), 10000)]);

    // Roll production back: the route sends everything to 1.0.0 again.
    c.env
        .json(&["--yes", "--env", "prod", "rollback", "--steps", "1"]);
    let route = c.get(&["httproute", "web-prod", "-n", "prod"]);
    assert_eq!(route_weights(&route), [(object(&p1), 10000)]);
    let route = c.get(&["httproute", "web-dev"]);
    assert_eq!(route_weights(&route), [(object(&r2), 10000)]);

    for env in ["dev", "prod"] {
        let seen = c.env.json(&["--env", env, "observe"]);
        assert_eq!(seen["state"], "in-sync", "{env}: {seen}");
    }
}
