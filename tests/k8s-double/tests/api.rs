//! The double over HTTP, as a deployer drives it: server-side apply with
//! managers and conflicts, versions and generations, selectors, deletes,
//! access reviews, dry runs, field validation and error bodies (the
//! simulated controllers are in `controllers.rs`).

// Each suite uses part of the shared client.
#[allow(dead_code)]
#[path = "support/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "support/http.rs"]
mod http;

use fixtures::{DEPLOY, apply, deployment, start};
use http::Client;
use serde_json::json;

#[test]
fn apply_creates_then_reapplies_without_a_write() {
    let (double, c) = start();
    let created = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    assert_eq!(created.code, 201, "{}", created.text);
    let meta = &created.json["metadata"];
    assert_eq!(meta["generation"], 1);
    assert_eq!(meta["namespace"], "prod");
    assert!(meta["uid"].as_str().is_some_and(|u| !u.is_empty()));
    assert!(meta["creationTimestamp"].as_str().is_some());
    assert_eq!(meta["managedFields"][0]["manager"], "envpack");
    assert_eq!(meta["managedFields"][0]["operation"], "Apply");
    // Server defaults are filled in, and owned by no applier.
    assert_eq!(created.json["spec"]["revisionHistoryLimit"], 10);
    let sent = double
        .requests()
        .into_iter()
        .find(|r| r.method == "PATCH")
        .expect("the apply is recorded");
    assert_eq!(sent.query["fieldManager"], "envpack");
    assert_eq!(sent.content_type, "application/apply-patch+yaml");
    assert!(sent.body.contains("image: reg/web:1"), "{}", sent.body);
    assert_eq!(sent.code, 201);
    let rv = double.resource_version();
    let again = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    assert_eq!(again.code, 200);
    assert_eq!(
        double.resource_version(),
        rv,
        "an unchanged apply writes nothing"
    );
    assert_eq!(
        again.json["metadata"]["resourceVersion"],
        created.json["metadata"]["resourceVersion"]
    );
}

#[test]
fn generation_moves_with_the_spec_and_resource_version_with_every_write() {
    let (double, c) = start();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    let rv1 = double.resource_version();
    let changed = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:2"),
    );
    assert_eq!(changed.json["metadata"]["generation"], 2);
    assert!(double.resource_version() > rv1);
    let labelled = c.patch(
        &format!("{DEPLOY}/web"),
        "application/merge-patch+json",
        &json!({"metadata": {"labels": {"extra": "x"}}}),
    );
    assert_eq!(labelled.code, 200, "{}", labelled.text);
    assert_eq!(
        labelled.json["metadata"]["generation"], 2,
        "a label is not a spec change"
    );
    let cm = c.apply(
        "/api/v1/namespaces/prod/configmaps/cfg?fieldManager=envpack",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cfg\ndata:\n  a: \"1\"\n",
    );
    assert_eq!(cm.code, 201, "{}", cm.text);
    assert!(
        cm.json["metadata"].get("generation").is_none(),
        "ConfigMaps keep no generation"
    );
    let rv: u64 = cm.json["metadata"]["resourceVersion"]
        .as_str()
        .and_then(|s| s.parse().ok())
        .expect("numeric resourceVersion");
    assert_eq!(rv, double.resource_version());
}

#[test]
fn another_manager_conflicts_until_it_forces() {
    let (double, c) = start();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    let conflict = apply(
        &c,
        "web",
        "intruder",
        false,
        &deployment("web", 5, "reg/web:1"),
    );
    assert_eq!(conflict.code, 409, "{}", conflict.text);
    assert_eq!(conflict.json["kind"], "Status");
    assert_eq!(conflict.json["reason"], "Conflict");
    assert_eq!(
        conflict.json["message"],
        "Apply failed with 1 conflict: conflict with \"envpack\" using apps/v1: .spec.replicas"
    );
    assert_eq!(
        conflict.json["details"]["causes"][0]["field"],
        ".spec.replicas"
    );
    let forced = apply(
        &c,
        "web",
        "intruder",
        true,
        &deployment("web", 5, "reg/web:1"),
    );
    assert_eq!(forced.code, 200, "{}", forced.text);
    assert_eq!(forced.json["spec"]["replicas"], 5);
    // Now envpack's own re-apply conflicts with the intruder, naming it.
    let back = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    assert_eq!(back.code, 409);
    assert!(
        back.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("conflict with \"intruder\"")),
        "{}",
        back.text
    );
    let stored = double.get("deployments", "prod", "web").expect("stored");
    assert_eq!(stored["spec"]["replicas"], 5);
}

#[test]
fn a_scale_is_an_update_that_takes_replicas() {
    let (double, c) = start();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    let scaled = c.patch(
        &format!("{DEPLOY}/web/scale?fieldManager=kubectl-scale"),
        "application/merge-patch+json",
        &json!({"spec": {"replicas": 0}}),
    );
    assert_eq!(scaled.code, 200, "{}", scaled.text);
    assert_eq!(scaled.json["kind"], "Scale");
    assert_eq!(scaled.json["spec"]["replicas"], 0);
    let d = double.get("deployments", "prod", "web").expect("stored");
    assert_eq!(d["spec"]["replicas"], 0);
    let managers: Vec<(&str, &str)> = d["metadata"]["managedFields"]
        .as_array()
        .expect("managed")
        .iter()
        .map(|e| {
            (
                e["manager"].as_str().unwrap_or(""),
                e["subresource"].as_str().unwrap_or(""),
            )
        })
        .collect();
    assert!(
        managers.contains(&("kubectl-scale", "scale")),
        "{managers:?}"
    );
    let conflict = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    assert_eq!(conflict.code, 409);
    assert_eq!(
        conflict.json["details"]["causes"][0]["message"],
        "conflict with \"kubectl-scale\" with subresource \"scale\" using apps/v1"
    );
}

#[test]
fn lists_filter_by_label_selectors() {
    let (_double, c) = start();
    for (name, tier) in [("a", "front"), ("b", "back"), ("c", "front")] {
        let cm = format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  labels:\n    tier: {tier}\n    {}\n",
            if name == "c" {
                "canary: \"yes\""
            } else {
                "stable: \"yes\""
            }
        );
        assert_eq!(
            c.apply(
                &format!("/api/v1/namespaces/prod/configmaps/{name}?fieldManager=t"),
                &cm
            )
            .code,
            201
        );
    }
    let names = |sel: &str| -> Vec<String> {
        let r = c.get(&format!(
            "/api/v1/namespaces/prod/configmaps?labelSelector={sel}"
        ));
        assert_eq!(r.code, 200, "{sel}: {}", r.text);
        assert_eq!(r.json["kind"], "ConfigMapList");
        r.json["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|i| i["metadata"]["name"].as_str().unwrap_or("").to_string())
            .collect()
    };
    assert_eq!(names("tier%3Dfront"), ["a", "c"]);
    assert_eq!(names("tier!%3Dfront"), ["b"]);
    assert_eq!(names("tier%20in%20(back,front)"), ["a", "b", "c"]);
    assert_eq!(names("tier%20notin%20(front)"), ["b"]);
    assert_eq!(names("canary"), ["c"]);
    assert_eq!(names("!canary"), ["a", "b"]);
    assert_eq!(names("tier%3Dfront,!canary"), ["a"]);
    let bad = c.get("/api/v1/namespaces/prod/configmaps?labelSelector=tier%20in%20front");
    assert_eq!(bad.code, 400);
    assert_eq!(bad.json["reason"], "BadRequest");
    let all = c.get("/api/v1/configmaps");
    assert_eq!(all.json["items"].as_array().map(Vec::len), Some(3));
}

#[test]
fn deletes_answer_success_then_not_found() {
    let (double, c) = start();
    let svc = "apiVersion: v1\nkind: Service\nmetadata:\n  name: web\nspec:\n  selector:\n    app: web\n  ports:\n  - port: 80\n    targetPort: 8080\n";
    let created = c.apply(
        "/api/v1/namespaces/prod/services/web?fieldManager=envpack",
        svc,
    );
    assert_eq!(created.code, 201, "{}", created.text);
    assert!(
        created.json["spec"]["clusterIP"]
            .as_str()
            .is_some_and(|ip| ip.starts_with("10."))
    );
    let gone = c.delete("/api/v1/namespaces/prod/services/web");
    assert_eq!(gone.code, 200);
    assert_eq!(gone.json["status"], "Success");
    assert!(double.get("services", "prod", "web").is_none());
    let again = c.delete("/api/v1/namespaces/prod/services/web");
    assert_eq!(again.code, 404);
    assert_eq!(again.json["message"], "services \"web\" not found");
}

#[test]
fn access_reviews_answer_from_the_rbac_table_and_denials_are_enforced() {
    let (double, c) = start();
    double.deny("patch", "deployments");
    let review = |verb: &str, resource: &str| {
        let r = c.post("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", &json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": "prod", "verb": verb, "group": "apps", "resource": resource}}
        }));
        assert_eq!(r.code, 201, "{}", r.text);
        r.json["status"]["allowed"]
            .as_bool()
            .expect("allowed is a bool")
    };
    assert!(!review("patch", "deployments"));
    assert!(review("get", "deployments"));
    let refused = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 1, "reg/web:1"),
    );
    assert_eq!(refused.code, 403);
    assert_eq!(refused.json["reason"], "Forbidden");
    assert_eq!(
        refused.json["message"],
        "deployments.apps \"web\" is forbidden: User \"envpack-double\" cannot patch resource \"deployments\" in API group \"apps\" in the namespace \"prod\""
    );
    double.allow_all();
    assert!(review("patch", "deployments"));
}

#[test]
fn errors_are_status_bodies() {
    let (double, c) = start();
    let anonymous = Client {
        addr: double.addr(),
        token: None,
    };
    let r = anonymous.get("/api/v1/namespaces/prod/configmaps");
    assert_eq!(
        (r.code, r.json["kind"].as_str(), r.json["reason"].as_str()),
        (401, Some("Status"), Some("Unauthorized"))
    );
    let wrong = Client::new(double.addr(), "not-the-token").get("/apis");
    assert_eq!(wrong.code, 401);
    assert_eq!(anonymous.get("/version").code, 200, "/version is public");
    let missing = c.get(&format!("{DEPLOY}/nope"));
    assert_eq!(
        (missing.code, missing.json["reason"].as_str()),
        (404, Some("NotFound"))
    );
    assert_eq!(
        missing.json["message"],
        "deployments.apps \"nope\" not found"
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "1"}});
    assert_eq!(c.post("/api/v1/namespaces/prod/configmaps", &cm).code, 201);
    let dup = c.post("/api/v1/namespaces/prod/configmaps", &cm);
    assert_eq!(
        (dup.code, dup.json["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    let invalid = apply(
        &c,
        "Bad_Name",
        "envpack",
        false,
        &deployment("Bad_Name", 1, "x:1"),
    );
    assert_eq!(
        (invalid.code, invalid.json["reason"].as_str()),
        (422, Some("Invalid")),
        "{}",
        invalid.text
    );
    let no_ns = c.apply(
        "/api/v1/namespaces/nowhere/configmaps/c?fieldManager=t",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n",
    );
    assert_eq!(no_ns.code, 404);
    assert_eq!(no_ns.json["message"], "namespaces \"nowhere\" not found");
    let no_manager = c.apply(&format!("{DEPLOY}/web"), &deployment("web", 1, "x:1"));
    assert_eq!(no_manager.code, 400);
    let stale = c.put("/api/v1/namespaces/prod/configmaps/c", &json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "resourceVersion": "1"}}));
    assert_eq!(
        (stale.code, stale.json["reason"].as_str()),
        (409, Some("Conflict"))
    );
    assert_eq!(c.get("/apis/batch/v1/jobs").code, 404);
    let pinned = c.apply(
        "/api/v1/namespaces/prod/configmaps/c?fieldManager=t",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  resourceVersion: \"1\"\n",
    );
    assert_eq!(
        (pinned.code, pinned.json["reason"].as_str()),
        (409, Some("Conflict")),
        "an applied resourceVersion is a precondition"
    );
}

#[test]
fn dry_run_changes_nothing() {
    let (double, c) = start();
    let rv = double.resource_version();
    let r = c.apply(
        &format!("{DEPLOY}/web?fieldManager=envpack&dryRun=All"),
        &deployment("web", 1, "reg/web:1"),
    );
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.json["metadata"]["name"], "web");
    assert_eq!(double.resource_version(), rv);
    assert!(double.get("deployments", "prod", "web").is_none());
}

#[test]
fn unknown_fields_are_dropped_or_refused_when_strict() {
    let (double, c) = start();
    let typo =
        deployment("web", 2, "reg/web:1").replace("  replicas: 2", "  replicas: 2\n  replicaz: 3");
    let strict = c.apply(
        &format!("{DEPLOY}/web?fieldManager=envpack&fieldValidation=Strict"),
        &typo,
    );
    assert_eq!(
        (strict.code, strict.json["reason"].as_str()),
        (400, Some("BadRequest")),
        "{}",
        strict.text
    );
    assert!(
        strict.json["message"]
            .as_str()
            .is_some_and(|m| m.ends_with(".spec.replicaz: field not declared in schema")),
        "{}",
        strict.text
    );
    let lax = apply(&c, "web", "envpack", false, &typo);
    assert_eq!(lax.code, 201, "{}", lax.text);
    assert!(lax.json["spec"].get("replicaz").is_none());
    let stored = double.get("deployments", "prod", "web").expect("stored");
    assert!(
        !stored["metadata"]["managedFields"]
            .to_string()
            .contains("replicaz")
    );
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "dta": {}});
    let refused = c.post(
        "/api/v1/namespaces/prod/configmaps?fieldValidation=Strict",
        &cm,
    );
    assert_eq!(refused.code, 400);
    assert!(
        refused.json["message"]
            .as_str()
            .is_some_and(|m| m.contains("unknown field \"dta\"")),
        "{}",
        refused.text
    );
}

#[test]
fn hostile_requests_get_status_answers_never_a_dropped_connection() {
    let (double, c) = start();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 1, "reg/web:1"),
    );
    let cases: &[(&str, &str, Option<&str>, &[u8])] = &[
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=x", Some("application/apply-patch+yaml"), b"\xff\xfe{{{"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web?fieldManager=x", Some("application/apply-patch+yaml"), b"- just\n- a list\n"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/merge-patch+json"), b"{\"metadata\": \"flat\"}"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/merge-patch+json"), b"{\"spec\": {\"template\": \"x\"}}"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/strategic-merge-patch+json"), b"{\"$patch\": \"delete\"}"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/strategic-merge-patch+json"), b"{\"spec\": {\"template\": {\"spec\": {\"containers\": [{\"$patch\": \"bogus\"}]}}}}"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/json-patch+json"), b"[{\"op\": \"replace\", \"path\": \"\", \"value\": 5}]"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/json-patch+json"), b"[{\"op\": \"add\", \"path\": \"/spec/template/spec/containers/99\", \"value\": {}}]"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/scale", Some("application/merge-patch+json"), b"{\"spec\": {\"replicas\": -3}}"),
        ("PATCH", "/apis/apps/v1/namespaces/prod/deployments/web/status", Some("application/merge-patch+json"), b"{\"status\": \"broken\"}"),
        ("PUT", "/apis/apps/v1/namespaces/prod/deployments/web", Some("application/json"), b"[]"),
        ("POST", "/apis/apps/v1/namespaces/prod/deployments", Some("application/vnd.kubernetes.protobuf"), b"k8s\x00\x0a\xff"),
        ("POST", "/api/v1/namespaces/prod/configmaps", Some("application/json"), b"{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"c\"},\"data\":{\"k\":{\"nested\":1}}}"),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Some("application/json"), b"{\"apiVersion\":\"authorization.k8s.io/v1\",\"kind\":\"SelfSubjectAccessReview\",\"spec\":{}}"),
        ("GET", "/api/v1/namespaces/prod/pods?labelSelector=%zz%%&fieldSelector=nonsense", None, b""),
        ("GET", "/apis/apps/v1/namespaces/prod/deployments?watch=true&resourceVersion=abc", None, b""),
        ("GET", "/api/v1/namespaces//configmaps", None, b""),
        ("DELETE", "/apis/apps/v1/namespaces/prod/deployments/web?dryRun=Sometimes", None, b""),
        ("TRACE", "/apis/apps/v1/namespaces/prod/deployments/web", None, b""),
    ];
    for (method, path, content_type, body) in cases {
        let r = c.send(method, path, *content_type, body);
        assert!(
            (400..500).contains(&r.code),
            "{method} {path}: {} {}",
            r.code,
            r.text
        );
        assert_eq!(r.json["kind"], "Status", "{method} {path}: {}", r.text);
    }
    let d = double
        .get("deployments", "prod", "web")
        .expect("still there");
    assert_eq!(d["spec"]["replicas"], 1, "nothing hostile was stored");
    assert_eq!(c.get("/version").code, 200);
}
