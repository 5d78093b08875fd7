//! The double over HTTP, as a deployer drives it: server-side apply with
//! managers and conflicts, versions and generations, selectors, deletes,
//! rollouts (and failing ones), access reviews and error bodies.

#[path = "support/http.rs"]
mod http;

use std::time::Duration;

use envpack_k8s_double::{K8sDouble, Options, PodFailure, RolloutMatch};
use http::Client;
use serde_json::{Value, json};

const DEPLOY: &str = "/apis/apps/v1/namespaces/prod/deployments";

fn start() -> (K8sDouble, Client) {
    let double = K8sDouble::start(Options {
        namespaces: vec!["prod".into()],
        ..Options::default()
    })
    .expect("double starts");
    let client = Client::new(double.addr(), &double.token());
    (double, client)
}

fn deployment(name: &str, replicas: u64, image: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n  labels:\n    app: {name}\n    envpack.dev/revision: r1\n\
         spec:\n  replicas: {replicas}\n  selector:\n    matchLabels:\n      app: {name}\n  template:\n    metadata:\n      labels:\n        app: {name}\n\
         \x20   spec:\n      containers:\n      - name: app\n        image: {image}\n        ports:\n        - containerPort: 8080\n"
    )
}

fn apply(c: &Client, name: &str, manager: &str, force: bool, body: &str) -> http::Response {
    c.apply(
        &format!("{DEPLOY}/{name}?fieldManager={manager}&force={force}"),
        body,
    )
}

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
fn rollouts_become_available_after_the_delay() {
    let (double, c) = start();
    double.set_rollout_delay(Duration::from_secs(3600));
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 3, "reg/web:1"),
    );
    let d = c.get(&format!("{DEPLOY}/web")).json;
    assert_eq!(d["status"]["observedGeneration"], 1);
    assert!(d["status"].get("availableReplicas").is_none());
    assert_eq!(condition(&d, "Progressing")["reason"], "ReplicaSetUpdated");
    let pods = c
        .get("/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb")
        .json;
    assert_eq!(pods["items"][0]["status"]["phase"], "Pending");
    double.settle_rollouts();
    let d = c.get(&format!("{DEPLOY}/web")).json;
    assert_eq!(d["status"]["availableReplicas"], 3);
    assert_eq!(d["status"]["readyReplicas"], 3);
    assert_eq!(d["status"]["updatedReplicas"], 3);
    assert_eq!(condition(&d, "Available")["status"], "True");
    assert_eq!(
        condition(&d, "Progressing")["reason"],
        "NewReplicaSetAvailable"
    );
    let pods = c
        .get("/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb")
        .json;
    assert_eq!(pods["items"].as_array().map(Vec::len), Some(3));
    assert!(
        pods["items"]
            .as_array()
            .expect("pods")
            .iter()
            .all(|p| p["status"]["phase"] == "Running")
    );
}

fn condition<'a>(d: &'a Value, kind: &str) -> &'a Value {
    d["status"]["conditions"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["type"] == kind))
        .expect("condition present")
}

#[test]
fn a_scripted_rollout_fails_and_says_why() {
    let (double, c) = start();
    double.fail_rollout(
        RolloutMatch::Image("reg/web:bad".into()),
        PodFailure::ImagePullBackOff,
    );
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 1, "reg/web:bad"),
    );
    let d = c.get(&format!("{DEPLOY}/web")).json;
    let progressing = condition(&d, "Progressing");
    assert_eq!(progressing["status"], "False");
    assert_eq!(progressing["reason"], "ProgressDeadlineExceeded");
    assert_eq!(condition(&d, "Available")["status"], "False");
    let pods = c
        .get("/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb")
        .json;
    let waiting = &pods["items"][0]["status"]["containerStatuses"][0]["state"]["waiting"];
    assert_eq!(waiting["reason"], "ImagePullBackOff");
    assert!(
        waiting["message"]
            .as_str()
            .is_some_and(|m| m.contains("reg/web:bad"))
    );
    let events = c.get("/api/v1/namespaces/prod/events").json;
    assert!(
        events["items"]
            .as_array()
            .expect("events")
            .iter()
            .any(|e| e["reason"] == "Failed" && e["type"] == "Warning")
    );
    // A good image rolls out.
    let fixed = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 1, "reg/web:2"),
    );
    assert_eq!(condition(&fixed.json, "Available")["status"], "True");
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
fn http_routes_keep_their_weights() {
    let (double, c) = start();
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  parentRefs:\n  - name: gw\n  rules:\n  - backendRefs:\n    - name: web-r1\n      port: 80\n      weight: 9900\n    - name: web-r2\n      port: 80\n      weight: 100\n";
    let r = c.apply(
        "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web?fieldManager=envpack",
        route,
    );
    assert_eq!(r.code, 201, "{}", r.text);
    let stored = double.get("httproutes", "prod", "web").expect("stored");
    assert_eq!(stored["spec"]["rules"][0]["backendRefs"][1]["weight"], 100);
    assert_eq!(stored["metadata"]["generation"], 1);
    let flipped = route
        .replace("9900", "0")
        .replace("weight: 100", "weight: 10000");
    let r = c.apply(
        "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web?fieldManager=envpack",
        &flipped,
    );
    assert_eq!(r.json["spec"]["rules"][0]["backendRefs"][0]["weight"], 0);
    assert_eq!(r.json["metadata"]["generation"], 2);
}

#[test]
fn watches_replay_changes_and_mark_the_end_of_initial_events() {
    let (_double, c) = start();
    let created = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 1, "reg/web:1"),
    );
    let rv = created.json["metadata"]["resourceVersion"]
        .as_str()
        .expect("rv")
        .to_string();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    c.delete(&format!("{DEPLOY}/web"));
    let events = |query: &str| -> Vec<Value> {
        let r = c.get(&format!("{DEPLOY}?watch=true&timeoutSeconds=1&{query}"));
        assert_eq!(r.code, 200, "{}", r.text);
        r.text
            .lines()
            .map(|l| serde_json::from_str(l).expect("one JSON event per line"))
            .collect()
    };
    let replay = events(&format!("resourceVersion={rv}"));
    let kinds: Vec<&str> = replay.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["MODIFIED", "DELETED"]);
    assert_eq!(replay[0]["object"]["spec"]["replicas"], 2);
    apply(
        &c,
        "api",
        "envpack",
        false,
        &deployment("api", 1, "reg/api:1"),
    );
    let initial =
        events("sendInitialEvents=true&resourceVersionMatch=NotOlderThan&allowWatchBookmarks=true");
    let kinds: Vec<&str> = initial.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(kinds, ["ADDED", "BOOKMARK"]);
    assert_eq!(
        initial[1]["object"]["metadata"]["annotations"]["k8s.io/initial-events-end"],
        "true"
    );
}
