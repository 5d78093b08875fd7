//! Server-side apply as the API server sees it: every write is a `PATCH`
//! with `application/apply-patch+yaml` and field manager `envpack`, never
//! forced unless the operator sets `force_conflicts`; a field another
//! manager took (a `kubectl scale`) makes a re-apply a conflict naming that
//! manager, and forcing takes it back. No Secret is ever written.

use super::*;

/// The pack's apply requests the double recorded.
fn applies(c: &Cluster) -> Vec<envpack_e2e::k8s_double::RequestRecord> {
    c.double
        .requests()
        .into_iter()
        .filter(|r| {
            r.method == "PATCH" && r.query.get("fieldManager").is_some_and(|m| m == "envpack")
        })
        .collect()
}

#[test]
fn applies_are_server_side_and_forced_only_when_asked() {
    let c = Cluster::new();
    let r1 = c.deploy(
        "dev",
        &c.bundle(
            "1.0.0",
            "main",
            &image("web", '1'),
            &["secret.DB=web-db/password"],
        ),
    );
    let first = applies(&c);
    assert!(first.len() >= 3, "{first:?}");
    for r in &first {
        assert_eq!(r.content_type, "application/apply-patch+yaml", "{r:?}");
        assert!(
            !r.query.contains_key("force"),
            "not forced unless asked: {r:?}"
        );
    }
    let requests = c.double.requests();
    assert!(
        requests.iter().all(|r| !r.path.contains("/secrets")),
        "a Secret was touched"
    );

    // kubectl takes spec.replicas; applying the revision again conflicts.
    c.kubectl(&[
        "scale",
        &format!("deployment/{}", object(&r1)),
        "--replicas=3",
    ]);
    let up = c.env.run(&["--json", "env", "up", "dev"]);
    let text = format!("{}{}", up.stdout, up.stderr);
    assert!(
        text.contains("conflicts with other field managers"),
        "{text}"
    );
    assert!(text.contains("force_conflicts true"), "{text}");
    let dep = c.get(&["deployment", &object(&r1)]);
    assert_eq!(dep["spec"]["replicas"], 3, "a conflict changes nothing");

    // The operator asks for force: the pack takes the field back.
    c.config("dev", "force_conflicts", "true");
    c.env.json(&["env", "up", "dev"]);
    let dep = c.get(&["deployment", &object(&r1)]);
    assert_eq!(dep["spec"]["replicas"], 1);
    let forced = applies(&c);
    let last = forced.last().unwrap();
    assert_eq!(
        last.query.get("force").map(String::as_str),
        Some("true"),
        "{last:?}"
    );
    assert_eq!(c.env.json(&["--env", "dev", "observe"])["state"], "in-sync");
}
