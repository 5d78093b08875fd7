//! The environment verbs on a `kubernetes` environment, through the pack's
//! validate / prepare / decommission: `env up` creates the namespace it
//! needs, `env down` scales down, deletes by label and removes what
//! prepare created, `env up` and `env reset` bring back exactly the
//! recorded expectation.

use super::*;

fn labelled(c: &Cluster, kinds: &str, namespace: &str) -> usize {
    let list = c.get(&[
        kinds,
        "-n",
        namespace,
        "-l",
        "envpack.greentic.dev/environment=edge",
    ]);
    list["items"].as_array().unwrap().len()
}

#[test]
fn up_down_reset_on_kubernetes() {
    let c = Cluster::new();
    c.env.json(&["env", "init", "edge", "--mode", "kubernetes"]);
    c.bind("edge", "edge-apps");
    // The namespace does not exist yet: validate says so, with the fix.
    let r = c.env.run(&["--json", "env", "validate", "edge"]);
    assert_eq!(r.code, 10, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout
            .contains("namespace \\\"edge-apps\\\" does not exist"),
        "{}",
        r.stdout
    );
    c.env.json(&["env", "up", "edge"]);
    c.get(&["namespace", "edge-apps"]);

    let r1 = c.deploy("edge", &c.bundle("1.0.0", "main", &image("web", '1'), &[]));
    let r2 = c.deploy("edge", &c.bundle("1.1.0", "main", &image("web", '2'), &[]));
    c.env.json(&[
        "--env",
        "edge",
        "traffic",
        "set",
        "web",
        &format!("{r1}=90%"),
        &format!("{r2}=10%"),
    ]);
    let checks = c.env.json(&["env", "validate", "edge"]);
    assert!(
        checks
            .to_string()
            .contains("rbac:delete/httproutes.gateway.networking.k8s.io"),
        "{checks}"
    );

    c.env.json(&["env", "down", "edge"]);
    let gone = c.kubectl_run(&["get", "namespace", "edge-apps"]);
    assert!(
        !gone.status.success(),
        "decommission deletes the namespace prepare created"
    );

    c.env.json(&["env", "up", "edge"]);
    assert_eq!(labelled(&c, "deployments,services", "edge-apps"), 4);
    let route = c.get(&["httproute", "web-edge", "-n", "edge-apps"]);
    assert_eq!(
        route_weights(&route),
        [(object(&r1), 9000), (object(&r2), 1000)]
    );
    assert_eq!(
        c.env.json(&["--env", "edge", "observe"])["state"],
        "in-sync"
    );

    c.kubectl(&["-n", "edge-apps", "delete", "deployment", &object(&r2)]);
    c.env.json(&["env", "reset", "edge"]);
    assert_eq!(labelled(&c, "deployments,services", "edge-apps"), 4);
    let route = c.get(&["httproute", "web-edge", "-n", "edge-apps"]);
    assert_eq!(
        route_weights(&route),
        [(object(&r1), 9000), (object(&r2), 1000)]
    );
    assert_eq!(
        c.env.json(&["--env", "edge", "observe"])["state"],
        "in-sync"
    );
}
