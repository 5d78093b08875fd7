//! Rollout status of a Deployment, as `health` reports it during warm-up:
//! the controller must have observed the latest generation, every replica
//! must be updated and available, and no condition may say the rollout
//! failed. When it is not healthy, the pods' last state and the events of
//! the revision's objects say why.

use envpack_sdk::deployer::HealthStatus;
use serde_json::Value;

use crate::kube::{Kube, name_of};
use crate::objects::{EVENT, POD};

fn count(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

fn condition<'a>(dep: &'a Value, kind: &str) -> Option<&'a Value> {
    dep["status"]["conditions"]
        .as_array()?
        .iter()
        .find(|c| c["type"] == kind)
}

fn describe(c: &Value) -> String {
    format!(
        "{}: {}",
        c["reason"].as_str().unwrap_or("unknown"),
        c["message"].as_str().unwrap_or("")
    )
}

/// The status of a Deployment's rollout, from the object alone.
pub fn status(dep: &Value) -> (HealthStatus, String) {
    let generation = count(&dep["metadata"]["generation"]);
    let observed = count(&dep["status"]["observedGeneration"]);
    if observed < generation {
        return (
            HealthStatus::Unknown,
            format!(
                "the deployment controller has not observed generation {generation} yet (it has seen {observed})"
            ),
        );
    }
    if let Some(c) = condition(dep, "Progressing").filter(|c| c["status"] == "False") {
        return (
            HealthStatus::Unhealthy,
            format!("the rollout failed: {}", describe(c)),
        );
    }
    if let Some(c) = condition(dep, "ReplicaFailure").filter(|c| c["status"] == "True") {
        return (
            HealthStatus::Unhealthy,
            format!("replicas cannot be created: {}", describe(c)),
        );
    }
    let desired = dep["spec"]["replicas"].as_u64().unwrap_or(1);
    let updated = count(&dep["status"]["updatedReplicas"]);
    let available = count(&dep["status"]["availableReplicas"]);
    let progress = format!("{updated} of {desired} replicas updated, {available} available");
    if updated >= desired && available >= desired {
        return (HealthStatus::Healthy, progress);
    }
    let why = condition(dep, "Available")
        .filter(|c| c["status"] != "True")
        .map(|c| format!(" ({})", describe(c)))
        .unwrap_or_default();
    (HealthStatus::Degraded, format!("{progress}{why}"))
}

/// What the revision's pods and events say, for a failure reason: each
/// pod's phase and its containers' waiting or last terminated state, and
/// the newest warnings. Best effort: a failing list adds nothing.
pub fn evidence(kube: &Kube<'_>, selector: &str, object: &str) -> String {
    let mut out: Vec<String> = Vec::new();
    let mut names = vec![object.to_string()];
    for pod in kube.list(&POD, selector).unwrap_or_default() {
        let name = name_of(&pod).to_string();
        let mut facts = vec![format!(
            "phase {}",
            pod["status"]["phase"].as_str().unwrap_or("Unknown")
        )];
        for c in pod["status"]["containerStatuses"]
            .as_array()
            .into_iter()
            .flatten()
        {
            let state = &c["state"];
            if let Some(w) = state.get("waiting") {
                facts.push(format!(
                    "{} waiting: {}",
                    c["name"].as_str().unwrap_or("?"),
                    describe(w)
                ));
            }
            if let Some(t) = c["lastState"].get("terminated") {
                facts.push(format!(
                    "{} last terminated: {} (exit code {})",
                    c["name"].as_str().unwrap_or("?"),
                    t["reason"].as_str().unwrap_or("unknown"),
                    t["exitCode"]
                ));
            }
        }
        out.push(format!("pod {name}: {}", facts.join(", ")));
        names.push(name);
    }
    let events = kube
        .list(&EVENT, "")
        .unwrap_or_default()
        .into_iter()
        .filter(|e| {
            e["involvedObject"]["name"].as_str().is_some_and(|n| {
                names.iter().any(|m| m == n) || n.starts_with(&format!("{object}-"))
            })
        })
        .filter_map(|e| {
            Some(format!(
                "event {} {}: {}",
                e["type"].as_str().unwrap_or("Normal"),
                e["reason"].as_str()?,
                e["message"].as_str().unwrap_or("")
            ))
        });
    out.extend(events.rev().take(5));
    out.join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_rollouts() {
        let d = |status: Value| json!({"metadata": {"generation": 2}, "spec": {"replicas": 2}, "status": status});
        assert_eq!(
            status(&d(json!({"observedGeneration": 1}))).0,
            HealthStatus::Unknown
        );
        let ok = d(json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 2}));
        assert_eq!(
            status(&ok),
            (
                HealthStatus::Healthy,
                "2 of 2 replicas updated, 2 available".into()
            )
        );
        let slow = d(
            json!({"observedGeneration": 2, "updatedReplicas": 2, "availableReplicas": 0,
            "conditions": [{"type": "Available", "status": "False", "reason": "MinimumReplicasUnavailable", "message": "Deployment does not have minimum availability."}]}),
        );
        let (s, m) = status(&slow);
        assert_eq!(s, HealthStatus::Degraded);
        assert!(m.contains("MinimumReplicasUnavailable"), "{m}");
        let failed = d(
            json!({"observedGeneration": 2, "conditions": [{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "ReplicaSet \"web\" has timed out progressing."}]}),
        );
        let (s, m) = status(&failed);
        assert_eq!(s, HealthStatus::Unhealthy);
        assert!(m.contains("ProgressDeadlineExceeded"), "{m}");
    }
}
