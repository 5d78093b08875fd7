//! Simulated controllers over HTTP: Deployment rollouts (available after
//! the delay, scripted failures, rolling updates), watches, and the
//! Gateway controller's route status.

// Each suite uses part of the shared client.
#[allow(dead_code)]
#[path = "support/fixtures.rs"]
mod fixtures;
#[allow(dead_code)]
#[path = "support/http.rs"]
mod http;

use std::time::Duration;

use envpack_k8s_double::{PodFailure, RolloutMatch};
use fixtures::{DEPLOY, apply, condition, deployment, start};
use serde_json::Value;

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

#[test]
fn routes_attached_to_a_gateway_report_status() {
    let (double, c) = start();
    let gw = "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: gw\nspec:\n  gatewayClassName: envpack\n  listeners:\n  - name: http\n    port: 80\n    protocol: HTTP\n";
    let r = c.apply(
        "/apis/gateway.networking.k8s.io/v1/namespaces/prod/gateways/gw?fieldManager=ops",
        gw,
    );
    assert_eq!(r.code, 201, "{}", r.text);
    assert_eq!(r.json["status"]["conditions"][1]["type"], "Programmed");
    let svc =
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: web-r1\nspec:\n  ports:\n  - port: 80\n";
    assert_eq!(
        c.apply(
            "/api/v1/namespaces/prod/services/web-r1?fieldManager=envpack",
            svc
        )
        .code,
        201
    );
    let route = "apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata:\n  name: web\nspec:\n  parentRefs:\n  - name: gw\n  - name: elsewhere\n  rules:\n  - backendRefs:\n    - name: web-r1\n      port: 80\n      weight: 9900\n    - name: web-r2\n      port: 80\n      weight: 100\n";
    let r = c.apply(
        "/apis/gateway.networking.k8s.io/v1/namespaces/prod/httproutes/web?fieldManager=envpack",
        route,
    );
    let parents = r.json["status"]["parents"]
        .as_array()
        .expect("parents")
        .clone();
    assert_eq!(
        parents.len(),
        1,
        "only the Gateway that exists answers: {parents:?}"
    );
    assert_eq!(parents[0]["conditions"][0]["type"], "Accepted");
    assert_eq!(parents[0]["conditions"][1]["reason"], "BackendNotFound");
    assert!(
        parents[0]["conditions"][1]["message"]
            .as_str()
            .is_some_and(|m| m.contains("prod/web-r2"))
    );
    let gateways = double.list("gateways", Some("prod")).expect("served");
    assert_eq!(gateways.len(), 1);
    let bad = c.apply("/apis/gateway.networking.k8s.io/v1/namespaces/prod/gateways/nope?fieldManager=ops", "apiVersion: gateway.networking.k8s.io/v1\nkind: Gateway\nmetadata:\n  name: nope\nspec: {}\n");
    assert_eq!(bad.code, 422, "{}", bad.text);
}

#[test]
fn a_failed_update_leaves_the_old_pods_serving() {
    let (double, c) = start();
    apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:1"),
    );
    double.fail_rollout(
        RolloutMatch::Image("reg/web:bad".into()),
        PodFailure::CrashLoopBackOff,
    );
    double.set_rollout_delay(Duration::from_secs(3600));
    let updating = apply(
        &c,
        "web",
        "envpack",
        false,
        &deployment("web", 2, "reg/web:bad"),
    )
    .json;
    assert_eq!(
        condition(&updating, "Progressing")["reason"],
        "ReplicaSetUpdated"
    );
    assert_eq!(
        condition(&updating, "Available")["status"],
        "True",
        "the old replicas still serve"
    );
    assert_eq!(updating["status"]["replicas"], 4);
    double.settle_rollouts();
    let d = c.get(&format!("{DEPLOY}/web")).json;
    assert_eq!(
        condition(&d, "Progressing")["reason"],
        "ProgressDeadlineExceeded"
    );
    assert_eq!(condition(&d, "Available")["status"], "True");
    assert_eq!(d["status"]["availableReplicas"], 2);
    let pods = c
        .get("/api/v1/namespaces/prod/pods?labelSelector=app%3Dweb")
        .json;
    let pods = pods["items"].as_array().expect("pods");
    let image = |p: &Value| {
        p["spec"]["containers"][0]["image"]
            .as_str()
            .unwrap_or("")
            .to_string()
    };
    let old: Vec<&Value> = pods.iter().filter(|p| image(p) == "reg/web:1").collect();
    let new: Vec<&Value> = pods.iter().filter(|p| image(p) == "reg/web:bad").collect();
    assert_eq!((old.len(), new.len()), (2, 2));
    assert!(old.iter().all(|p| p["status"]["phase"] == "Running"));
    let last = &new[0]["status"]["containerStatuses"][0];
    assert_eq!(last["state"]["waiting"]["reason"], "CrashLoopBackOff");
    assert_eq!(last["lastState"]["terminated"]["exitCode"], 1);
    assert_ne!(
        old[0]["metadata"]["labels"]["pod-template-hash"],
        new[0]["metadata"]["labels"]["pod-template-hash"]
    );
}
