//! The pods and events of a Deployment, derived on every read from the
//! Deployment, its rollout phase, the script, and the template that last
//! became available (whose pods keep serving while a new one rolls out).

use serde_json::{Value, json};

use crate::rollout::{Phase, hash_of, phase_of, replicas, suffix};
use crate::script::{PodFailure, Script};

/// What a pod's containers are doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Running,
    Creating,
    Failing(PodFailure),
}

/// The pods of a Deployment: its current template's, one per replica, and
/// while a changed template rolls out, the still-available pods of
/// `served` (the template that was available before).
pub fn pods(d: &Value, script: &Script, served: Option<&Value>) -> Vec<Value> {
    let phase = phase_of(d);
    let template = &d["spec"]["template"];
    let available = d["status"]["availableReplicas"].as_u64().unwrap_or(0);
    let changed = served.is_some_and(|t| t != template);
    let n = replicas(d);
    let ready_new = match phase {
        Phase::Available => n,
        _ if !changed => available.min(n),
        _ => 0,
    };
    let waiting = match script.failure_of(d) {
        Some(f) => State::Failing(f),
        None => State::Creating,
    };
    let mut out: Vec<Value> = (0..n)
        .map(|i| {
            pod(
                d,
                template,
                i,
                if i < ready_new {
                    State::Running
                } else {
                    waiting
                },
            )
        })
        .collect();
    if let Some(old) = served.filter(|_| changed && phase != Phase::Available) {
        out.extend((0..available).map(|i| pod(d, old, i, State::Running)));
    }
    out
}

fn pod(d: &Value, template: &Value, i: u64, state: State) -> Value {
    let hash = hash_of(template);
    let rs = format!(
        "{}-{hash}",
        d["metadata"]["name"].as_str().unwrap_or_default()
    );
    let ns = d["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut labels = template["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["pod-template-hash"] = json!(hash);
    let started = d["metadata"]["creationTimestamp"].clone();
    let name = format!("{rs}-{}", suffix(&format!("{rs}/{i}")));
    let containers = template["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let statuses: Vec<Value> = containers
        .iter()
        .map(|c| container_status(c, state, &name, &started))
        .collect();
    let ready = statuses.iter().all(|s| s["ready"] == true);
    let phase = if statuses
        .iter()
        .any(|s| s["state"].get("running").is_some() || s["lastState"].get("terminated").is_some())
    {
        "Running"
    } else {
        "Pending"
    };
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {
            "name": name,
            "namespace": ns,
            "uid": format!("pod-{}", suffix(&name)),
            "labels": labels,
            "creationTimestamp": started,
            "resourceVersion": d["metadata"]["resourceVersion"],
            "ownerReferences": [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": rs, "uid": format!("rs-{hash}"), "controller": true, "blockOwnerDeletion": true}],
        },
        "spec": template["spec"],
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
            "containerStatuses": statuses,
        },
    })
}

fn container_status(c: &Value, state: State, pod: &str, started: &Value) -> Value {
    let name = c["name"].as_str().unwrap_or_default();
    let image = c["image"].as_str().unwrap_or_default();
    let mut s = json!({"name": name, "image": image, "imageID": "", "restartCount": 0, "started": false, "ready": false});
    match state {
        State::Running => {
            s["ready"] = json!(true);
            s["started"] = json!(true);
            s["state"] = json!({"running": {"startedAt": started}});
        }
        State::Failing(PodFailure::ImagePullBackOff) => {
            let message = format!(
                "Back-off pulling image {image:?}: ErrImagePull: failed to pull and unpack image {image:?}: not found"
            );
            s["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": message}});
        }
        State::Failing(PodFailure::CrashLoopBackOff) => {
            s["restartCount"] = json!(5);
            let message = format!("back-off 2m40s restarting failed container={name} pod={pod}");
            s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": message}});
            s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": started}});
        }
        State::Creating => s["state"] = json!({"waiting": {"reason": "ContainerCreating"}}),
    }
    s
}

/// An event about `kind`/`name` in the Deployment's namespace.
fn event(
    d: &Value,
    about: (&str, &str, &Value),
    typ: &str,
    reason: &str,
    message: String,
    component: &str,
) -> Value {
    let (kind, name, uid) = about;
    let ns = d["metadata"]["namespace"].as_str().unwrap_or("default");
    let at = d["metadata"]["creationTimestamp"].clone();
    let api_version = if kind == "Pod" { "v1" } else { "apps/v1" };
    json!({
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": format!("{name}.{}", suffix(&format!("{name}{reason}{message}"))), "namespace": ns, "creationTimestamp": at},
        "involvedObject": {"kind": kind, "namespace": ns, "name": name, "uid": uid, "apiVersion": api_version},
        "type": typ,
        "reason": reason,
        "message": message,
        "source": {"component": component},
        "count": 1,
        "firstTimestamp": at,
        "lastTimestamp": at,
    })
}

/// The events of a Deployment's rollout: the scale-up, and the kubelet's
/// warnings for each failing container.
pub fn events(d: &Value, script: &Script, served: Option<&Value>) -> Vec<Value> {
    let deployment = d["metadata"]["name"].as_str().unwrap_or_default();
    let rs = format!("{deployment}-{}", hash_of(&d["spec"]["template"]));
    let scaled = format!("Scaled up replica set {rs} to {}", replicas(d));
    let mut out = vec![event(
        d,
        ("Deployment", deployment, &d["metadata"]["uid"]),
        "Normal",
        "ScalingReplicaSet",
        scaled,
        "deployment-controller",
    )];
    for pod in pods(d, script, served) {
        let name = pod["metadata"]["name"].as_str().unwrap_or_default();
        for cs in pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let image = cs["image"].as_str().unwrap_or_default();
            let container = cs["name"].as_str().unwrap_or_default();
            let (reason, message) = match cs["state"]["waiting"]["reason"].as_str() {
                Some("ImagePullBackOff") => (
                    "Failed",
                    format!(
                        "Failed to pull image {image:?}: rpc error: code = NotFound desc = failed to pull and unpack image {image:?}: not found"
                    ),
                ),
                Some("CrashLoopBackOff") => (
                    "BackOff",
                    format!("Back-off restarting failed container {container} in pod {name}"),
                ),
                _ => continue,
            };
            out.push(event(
                d,
                ("Pod", name, &pod["metadata"]["uid"]),
                "Warning",
                reason,
                message,
                "kubelet",
            ));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rollout::status;
    use crate::script::{RolloutFailure, RolloutMatch};

    fn deployment(replicas: u64, image: &str) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "generation": 2, "uid": "u"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": image}]}}}})
    }

    fn failing() -> Script {
        Script {
            failures: vec![RolloutFailure {
                matches: RolloutMatch::Image("bad".into()),
                failure: PodFailure::ImagePullBackOff,
            }],
            ..Script::default()
        }
    }

    #[test]
    fn a_failing_rollout_explains_itself_in_pods_and_events() {
        let mut d = deployment(2, "bad:1");
        d["status"] = status(&d, Phase::Failed, 0, false);
        let pods = pods(&d, &failing(), None);
        assert_eq!(pods.len(), 2);
        assert_eq!(
            pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff"
        );
        assert_eq!(pods[0]["metadata"]["labels"]["app"], "web");
        let events = events(&d, &failing(), None);
        assert!(
            events
                .iter()
                .any(|e| e["reason"] == "Failed" && e["involvedObject"]["kind"] == "Pod")
        );
    }

    #[test]
    fn the_previous_template_keeps_serving_during_a_failed_update() {
        let before = deployment(2, "good:1");
        let mut d = deployment(2, "bad:2");
        d["status"] = status(&d, Phase::Failed, 2, true);
        let pods = pods(&d, &failing(), Some(&before["spec"]["template"]));
        let running: Vec<&Value> = pods
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .collect();
        assert_eq!(pods.len(), 4);
        assert_eq!(running.len(), 2);
        assert!(
            running
                .iter()
                .all(|p| p["spec"]["containers"][0]["image"] == "good:1")
        );
        assert_eq!(
            d["status"]["conditions"][0]["status"], "True",
            "old pods keep it available"
        );
    }
}
