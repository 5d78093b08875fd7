//! The deployment controller, simulated: a Deployment's status after a
//! change (progressing, then available or `ProgressDeadlineExceeded`), and
//! the pods and events a deployer reads to say why a rollout failed.
//!
//! Pods and events are derived from the Deployments on every read, never
//! stored: a pod is `Running` once its Deployment is available, and waits
//! in `ImagePullBackOff` or `CrashLoopBackOff` when the script says the
//! rollout fails.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::script::{PodFailure, Script};

/// Where a rollout stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Pods are being started (during the configured delay).
    Progressing,
    /// Every replica is updated, ready and available.
    Available,
    /// The progress deadline passed without the pods becoming ready.
    Failed,
}

/// `spec.replicas`, defaulted to 1 like the server.
pub fn replicas(d: &Value) -> u64 {
    d["spec"]["replicas"].as_u64().unwrap_or(1)
}

/// Whether a write needs the controller to roll the Deployment out again.
pub fn needs_rollout(old: Option<&Value>, new: &Value) -> bool {
    match old {
        None => true,
        Some(old) => {
            old["metadata"]["generation"] != new["metadata"]["generation"]
                || replicas(old) != replicas(new)
                || old["status"]["observedGeneration"] != new["metadata"]["generation"]
        }
    }
}

/// The Deployment's `status` in a phase.
pub fn status(d: &Value, phase: Phase) -> Value {
    let n = replicas(d);
    let rs = replica_set_name(d);
    let now = clock::now();
    let cond = |kind: &str, ok: bool, reason: &str, message: String| {
        json!({
            "type": kind,
            "status": if ok { "True" } else { "False" },
            "lastUpdateTime": now,
            "lastTransitionTime": now,
            "reason": reason,
            "message": message,
        })
    };
    let available = phase == Phase::Available;
    let availability = if available || n == 0 {
        cond(
            "Available",
            true,
            "MinimumReplicasAvailable",
            "Deployment has minimum availability.".into(),
        )
    } else {
        cond(
            "Available",
            false,
            "MinimumReplicasUnavailable",
            "Deployment does not have minimum availability.".into(),
        )
    };
    let progress = match phase {
        Phase::Available => cond(
            "Progressing",
            true,
            "NewReplicaSetAvailable",
            format!("ReplicaSet {rs:?} has successfully progressed."),
        ),
        Phase::Progressing => cond(
            "Progressing",
            true,
            "ReplicaSetUpdated",
            format!("ReplicaSet {rs:?} is progressing."),
        ),
        Phase::Failed => cond(
            "Progressing",
            false,
            "ProgressDeadlineExceeded",
            format!("ReplicaSet {rs:?} has timed out progressing."),
        ),
    };
    let mut s = json!({
        "observedGeneration": d["metadata"]["generation"].as_u64().unwrap_or(1),
        "replicas": n,
        "updatedReplicas": n,
        "conditions": [availability, progress],
    });
    // The real controller leaves zero counts out.
    if available && n > 0 {
        s["readyReplicas"] = json!(n);
        s["availableReplicas"] = json!(n);
    } else if n > 0 {
        s["unavailableReplicas"] = json!(n);
    }
    s
}

/// Where a settled rollout ends: available, unless the script fails it.
pub fn settled_phase(d: &Value, script: &Script) -> Phase {
    if replicas(d) > 0 && script.failure_of(d).is_some() {
        Phase::Failed
    } else {
        Phase::Available
    }
}

/// The phase a stored Deployment's status shows.
pub fn phase_of(d: &Value) -> Phase {
    let conds = d["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let has = |t: &str, s: &str| conds.iter().any(|c| c["type"] == t && c["status"] == s);
    if has("Progressing", "False") {
        Phase::Failed
    } else if has("Available", "True")
        && d["status"]["observedGeneration"] == d["metadata"]["generation"]
    {
        Phase::Available
    } else {
        Phase::Progressing
    }
}

/// `pod-template-hash`: a stable hash of the pod template, spelled with
/// the alphabet the real controller uses.
pub fn template_hash(d: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(d["spec"]["template"].to_string().as_bytes());
    digest
        .iter()
        .take(10)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

pub fn replica_set_name(d: &Value) -> String {
    format!(
        "{}-{}",
        d["metadata"]["name"].as_str().unwrap_or_default(),
        template_hash(d)
    )
}

/// Five characters of the controller's alphabet, stable for a seed.
pub fn suffix(seed: &str) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    Sha256::digest(seed.as_bytes())
        .iter()
        .take(5)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}

/// The pods of a Deployment, in the state its rollout is in.
pub fn pods(d: &Value, script: &Script) -> Vec<Value> {
    let phase = phase_of(d);
    let failure = script.failure_of(d);
    let rs = replica_set_name(d);
    let hash = template_hash(d);
    let ns = d["metadata"]["namespace"].as_str().unwrap_or("default");
    let mut labels = d["spec"]["template"]["metadata"]["labels"].clone();
    if !labels.is_object() {
        labels = json!({});
    }
    labels["pod-template-hash"] = json!(hash);
    let started = d["metadata"]["creationTimestamp"].clone();
    (0..replicas(d))
        .map(|i| {
            let name = format!("{rs}-{}", suffix(&format!("{rs}/{i}")));
            let containers = d["spec"]["template"]["spec"]["containers"].as_array().cloned().unwrap_or_default();
            let statuses: Vec<Value> = containers
                .iter()
                .map(|c| container_status(c, phase, failure, &name, &started))
                .collect();
            let ready = statuses.iter().all(|s| s["ready"] == true);
            let pod_phase = if statuses.iter().any(|s| s["state"].get("running").is_some() || s["lastState"].get("terminated").is_some()) {
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
                "spec": d["spec"]["template"]["spec"],
                "status": {
                    "phase": pod_phase,
                    "conditions": [{"type": "Ready", "status": if ready { "True" } else { "False" }}],
                    "containerStatuses": statuses,
                },
            })
        })
        .collect()
}

fn container_status(
    c: &Value,
    phase: Phase,
    failure: Option<PodFailure>,
    pod: &str,
    started: &Value,
) -> Value {
    let name = c["name"].as_str().unwrap_or_default();
    let image = c["image"].as_str().unwrap_or_default();
    let base = json!({"name": name, "image": image, "imageID": "", "restartCount": 0, "started": false, "ready": false});
    let fails = phase != Phase::Available && failure.is_some();
    let mut s = base;
    match (phase, fails.then_some(failure).flatten()) {
        (Phase::Available, _) => {
            s["ready"] = json!(true);
            s["started"] = json!(true);
            s["state"] = json!({"running": {"startedAt": started}});
        }
        (_, Some(PodFailure::ImagePullBackOff)) => {
            s["state"] = json!({"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image {image:?}: ErrImagePull: failed to pull and unpack image {image:?}: not found")}});
        }
        (_, Some(PodFailure::CrashLoopBackOff)) => {
            s["restartCount"] = json!(5);
            s["state"] = json!({"waiting": {"reason": "CrashLoopBackOff", "message": format!("back-off 2m40s restarting failed container={name} pod={pod}")}});
            s["lastState"] = json!({"terminated": {"exitCode": 1, "reason": "Error", "startedAt": started, "finishedAt": started}});
        }
        _ => {
            s["state"] = json!({"waiting": {"reason": "ContainerCreating"}});
        }
    }
    s
}

/// The events of a Deployment's rollout: the scale-up, and for failing
/// pods the kubelet's warnings.
pub fn events(d: &Value, script: &Script) -> Vec<Value> {
    let ns = d["metadata"]["namespace"].as_str().unwrap_or("default");
    let at = d["metadata"]["creationTimestamp"].clone();
    let rs = replica_set_name(d);
    let event = |kind: &str,
                 name: &str,
                 uid: &Value,
                 typ: &str,
                 reason: &str,
                 message: String,
                 component: &str| {
        json!({
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": format!("{name}.{}", suffix(&format!("{name}{reason}{message}"))), "namespace": ns, "creationTimestamp": at},
            "involvedObject": {"kind": kind, "namespace": ns, "name": name, "uid": uid, "apiVersion": if kind == "Pod" { "v1" } else { "apps/v1" }},
            "type": typ,
            "reason": reason,
            "message": message,
            "source": {"component": component},
            "count": 1,
            "firstTimestamp": at,
            "lastTimestamp": at,
        })
    };
    let mut out = vec![event(
        "Deployment",
        d["metadata"]["name"].as_str().unwrap_or_default(),
        &d["metadata"]["uid"],
        "Normal",
        "ScalingReplicaSet",
        format!("Scaled up replica set {rs} to {}", replicas(d)),
        "deployment-controller",
    )];
    for pod in pods(d, script) {
        let name = pod["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        for cs in pod["status"]["containerStatuses"]
            .as_array()
            .cloned()
            .unwrap_or_default()
        {
            let image = cs["image"].as_str().unwrap_or_default();
            let (reason, message) = match cs["state"]["waiting"]["reason"].as_str() {
                Some("ImagePullBackOff") => (
                    "Failed",
                    format!(
                        "Failed to pull image {image:?}: rpc error: code = NotFound desc = failed to pull and unpack image {image:?}: not found"
                    ),
                ),
                Some("CrashLoopBackOff") => (
                    "BackOff",
                    format!(
                        "Back-off restarting failed container {} in pod {name}",
                        cs["name"].as_str().unwrap_or_default()
                    ),
                ),
                _ => continue,
            };
            out.push(event(
                "Pod",
                &name,
                &pod["metadata"]["uid"],
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
    use crate::script::{RolloutFailure, RolloutMatch};

    fn deployment(replicas: u64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "generation": 2, "uid": "u"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "bad:1"}]}}}})
    }

    #[test]
    fn available_status_counts_every_replica() {
        let d = deployment(3);
        let s = status(&d, Phase::Available);
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(s["availableReplicas"], 3);
        assert_eq!(s["conditions"][0]["type"], "Available");
        assert_eq!(s["conditions"][1]["reason"], "NewReplicaSetAvailable");
        let mut d = d;
        d["status"] = s;
        assert_eq!(phase_of(&d), Phase::Available);
        assert!(
            pods(&d, &Script::default())
                .iter()
                .all(|p| p["status"]["phase"] == "Running")
        );
    }

    #[test]
    fn a_failing_rollout_explains_itself_in_pods_and_events() {
        let script = Script {
            failures: vec![RolloutFailure {
                matches: RolloutMatch::Image("bad".into()),
                failure: PodFailure::ImagePullBackOff,
            }],
            ..Script::default()
        };
        let mut d = deployment(2);
        assert_eq!(settled_phase(&d, &script), Phase::Failed);
        d["status"] = status(&d, Phase::Failed);
        assert_eq!(
            d["status"]["conditions"][1]["reason"],
            "ProgressDeadlineExceeded"
        );
        let pods = pods(&d, &script);
        assert_eq!(pods.len(), 2);
        assert_eq!(
            pods[0]["status"]["containerStatuses"][0]["state"]["waiting"]["reason"],
            "ImagePullBackOff"
        );
        assert_eq!(pods[0]["metadata"]["labels"]["app"], "web");
        let events = events(&d, &script);
        assert!(
            events
                .iter()
                .any(|e| e["reason"] == "Failed" && e["involvedObject"]["kind"] == "Pod")
        );
    }
}
