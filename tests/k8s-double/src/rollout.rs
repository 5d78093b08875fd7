//! The deployment controller, simulated: a Deployment's status after a
//! change (progressing, then available or `ProgressDeadlineExceeded`). The
//! pods and events that say why are derived in [`crate::pods`].

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::clock;
use crate::script::Script;

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

/// The Deployment's `status` in a phase. `serving` is how many replicas
/// were available before this rollout, and `replaced` whether they run a
/// previous template (whose pods keep serving until the new ones are
/// ready, as in a rolling update) rather than this one (a scale).
pub fn status(d: &Value, phase: Phase, serving: u64, replaced: bool) -> Value {
    let n = replicas(d);
    let settled = phase == Phase::Available;
    let serving = if settled { n } else { serving.min(n) };
    // maxUnavailable 25%, rounded down, like the default strategy.
    let enough = n == 0 || (serving > 0 && serving >= n - n / 4);
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
    let availability = if enough {
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
        "conditions": [availability, progress],
    });
    // The real controller leaves zero counts out.
    let old_pods = if replaced && !settled { serving } else { 0 };
    let counts = [
        ("replicas", n + old_pods),
        ("updatedReplicas", n),
        ("readyReplicas", serving),
        ("availableReplicas", serving),
        ("unavailableReplicas", n - serving),
    ];
    for (field, count) in counts {
        if count > 0 {
            s[field] = json!(count);
        }
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

/// The phase a stored Deployment's status shows (its `Progressing`
/// condition, for the generation it has).
pub fn phase_of(d: &Value) -> Phase {
    let conds = d["status"]["conditions"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let reason = conds
        .iter()
        .find(|c| c["type"] == "Progressing")
        .and_then(|c| c["reason"].as_str().map(str::to_string));
    let current = d["status"]["observedGeneration"] == d["metadata"]["generation"];
    match reason.as_deref() {
        Some("ProgressDeadlineExceeded") if current => Phase::Failed,
        Some("NewReplicaSetAvailable") if current => Phase::Available,
        _ => Phase::Progressing,
    }
}

/// `pod-template-hash`: a stable hash of a pod template, spelled with the
/// alphabet the real controller uses.
pub fn hash_of(template: &Value) -> String {
    const ALPHABET: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";
    let digest = Sha256::digest(template.to_string().as_bytes());
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
        hash_of(&d["spec"]["template"])
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::script::{PodFailure, RolloutFailure, RolloutMatch};

    fn deployment(replicas: u64) -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "prod", "generation": 2, "uid": "u"},
            "spec": {"replicas": replicas, "template": {"metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "app", "image": "bad:1"}]}}}})
    }

    #[test]
    fn available_status_counts_every_replica() {
        let mut d = deployment(3);
        let s = status(&d, Phase::Available, 0, false);
        assert_eq!(s["observedGeneration"], 2);
        assert_eq!(
            (
                s["availableReplicas"].as_u64(),
                s["updatedReplicas"].as_u64()
            ),
            (Some(3), Some(3))
        );
        assert!(s.get("unavailableReplicas").is_none());
        assert_eq!(s["conditions"][0]["type"], "Available");
        assert_eq!(s["conditions"][1]["reason"], "NewReplicaSetAvailable");
        d["status"] = s;
        assert_eq!(phase_of(&d), Phase::Available);
    }

    #[test]
    fn a_rolling_update_keeps_the_old_replicas_available() {
        let mut d = deployment(4);
        d["status"] = status(&d, Phase::Progressing, 4, true);
        assert_eq!(d["status"]["replicas"], 8);
        assert_eq!(d["status"]["availableReplicas"], 4);
        assert_eq!(d["status"]["conditions"][0]["status"], "True");
        assert_eq!(phase_of(&d), Phase::Progressing);
        let fresh = status(&d, Phase::Progressing, 0, false);
        assert_eq!(fresh["conditions"][0]["status"], "False");
        assert_eq!(fresh["unavailableReplicas"], 4);
    }

    #[test]
    fn scripted_failures_settle_as_missed_deadlines() {
        let script = Script {
            failures: vec![RolloutFailure {
                matches: RolloutMatch::Image("bad".into()),
                failure: PodFailure::ImagePullBackOff,
            }],
            ..Script::default()
        };
        let mut d = deployment(2);
        assert_eq!(settled_phase(&d, &script), Phase::Failed);
        d["status"] = status(&d, Phase::Failed, 0, false);
        assert_eq!(
            d["status"]["conditions"][1]["reason"],
            "ProgressDeadlineExceeded"
        );
        assert_eq!(phase_of(&d), Phase::Failed);
        assert_eq!(settled_phase(&deployment(0), &script), Phase::Available);
    }
}
