//! The release gate of `promote`: evaluated before any side effect, each
//! check kept with its evidence in the promotion report.
//!
//! Always: the revision carried traffic in the previous rung (a revision
//! nobody was ever routed to proved nothing). Then what the target's policy
//! asks ([`Gate`]): evidence files in the bundle, a soak in the previous
//! rung (a share of traffic for a time, without a break, and observed
//! running), and the previous rung observed without drift.

use std::time::{Duration, SystemTime};

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::bundle::Verified;
use super::model::{Deployment, Revision};
use crate::env::{EnvName, Gate};

/// What an observation of the previous rung showed, taken at promotion
/// (the caller observes; `deploy` does not reach into `truth`).
#[derive(Clone, Debug, Default)]
pub struct SourceObservation {
    /// The snapshot it was kept as.
    pub snapshot: String,
    /// Why it could not be observed, if it could not.
    pub unobservable: Option<String>,
    /// Revision id -> observed state (`running`, `exited`, ...).
    pub states: std::collections::BTreeMap<String, String>,
    /// Drift in the deployment nobody accepted: `id field (expected ->
    /// observed)`.
    pub unaccepted_drift: Vec<String>,
}

/// One check of the gate.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateCheck {
    /// `carried-traffic`, `evidence`, `soak`, `no-drift`.
    pub check: String,
    /// Whether it passed.
    pub passed: bool,
    /// What was found.
    pub detail: String,
    /// How to make it pass, when it did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
    /// What it looked at: files and hashes, traffic spans, the snapshot.
    pub evidence: Value,
}

/// The gate's decision.
#[derive(Clone, Debug, Serialize, Deserialize, schemars::JsonSchema)]
pub struct GateDecision {
    /// Every check passed.
    pub allowed: bool,
    /// The checks, in order.
    pub checks: Vec<GateCheck>,
}

/// What the gate looks at.
pub struct GateInputs<'a> {
    /// The target's gate.
    pub gate: &'a Gate,
    /// The target environment (for fixes).
    pub to: &'a EnvName,
    /// The previous rung.
    pub from: &'a EnvName,
    /// The bundle, verified.
    pub verified: &'a Verified,
    /// The deployment in the previous rung.
    pub deployment: &'a Deployment,
    /// The revision there running the bundle.
    pub revision: &'a Revision,
    /// The previous rung as observed now, when the gate needs it.
    pub observed: Option<&'a SourceObservation>,
    /// Now.
    pub now: SystemTime,
}

/// Evaluates every check; the decision allows only when all pass.
pub fn evaluate(i: &GateInputs<'_>) -> GateDecision {
    let mut checks = vec![carried_traffic(i)];
    if !i.gate.evidence.is_empty() {
        checks.push(evidence(i));
    }
    if i.gate.soak.is_some() {
        checks.push(soak(i));
    }
    if i.gate.no_drift {
        checks.push(no_drift(i));
    }
    GateDecision {
        allowed: checks.iter().all(|c| c.passed),
        checks,
    }
}

fn check(
    name: &str,
    passed: bool,
    detail: String,
    fix: Option<String>,
    evidence: Value,
) -> GateCheck {
    GateCheck {
        check: name.into(),
        passed,
        detail,
        fix: if passed { None } else { fix },
        evidence,
    }
}

fn carried_traffic(i: &GateInputs<'_>) -> GateCheck {
    let id = &i.revision.id;
    let carried = i.deployment.weight_of(id) > 0
        || i.deployment.traffic_history.iter().any(|t| {
            t.weights
                .iter()
                .any(|w| &w.revision == id && w.basis_points > 0)
        });
    check(
        "carried-traffic",
        carried,
        if carried {
            format!("revision {id} carried traffic in {}", i.from)
        } else {
            format!("revision {id} never carried traffic in {}", i.from)
        },
        Some(format!(
            "envpack traffic set --env {} {} {id}=100%",
            i.from, i.deployment.name
        )),
        json!({"revision": id, "weights": i.deployment.weights}),
    )
}

fn evidence(i: &GateInputs<'_>) -> GateCheck {
    let files = &i.verified.manifest.evidence;
    let mut missing = Vec::new();
    let mut matched = Vec::new();
    for pattern in &i.gate.evidence {
        let bare = pattern.strip_prefix("evidence/").unwrap_or(pattern);
        let hits: Vec<_> = match globset::Glob::new(bare) {
            Ok(g) => {
                let m = g.compile_matcher();
                files.iter().filter(|f| m.is_match(&f.path)).collect()
            }
            Err(_) => Vec::new(),
        };
        if hits.is_empty() {
            missing.push(pattern.clone());
        }
        for f in hits {
            matched.push(json!({"pattern": pattern, "path": format!("evidence/{}", f.path), "sha256": f.sha256}));
        }
    }
    let passed = missing.is_empty();
    check(
        "evidence",
        passed,
        if passed {
            format!(
                "the bundle carries {} evidence file(s) the gate asks for",
                matched.len()
            )
        } else {
            format!("the bundle carries no evidence for {}", missing.join(", "))
        },
        Some(format!(
            "build the bundle again with the evidence: envpack bundle build ... --evidence FILE (for {})",
            missing.join(", ")
        )),
        json!({"required": i.gate.evidence, "matched": matched, "missing": missing}),
    )
}

/// The longest unbroken span, ending now at the latest, in which `id` had
/// at least `min` basis points: (start, length).
pub fn longest_span(
    dep: &Deployment,
    id: &str,
    min: u32,
    now: SystemTime,
) -> Option<(String, Duration)> {
    let at = |t: &str| humantime::parse_rfc3339_weak(t).ok();
    let mut best: Option<(String, Duration)> = None;
    let mut open: Option<(String, SystemTime)> = None;
    let mut close = |open: &mut Option<(String, SystemTime)>, end: SystemTime| {
        if let Some((start_text, start)) = open.take() {
            let len = end.duration_since(start).unwrap_or_default();
            if best.as_ref().is_none_or(|(_, b)| len > *b) {
                best = Some((start_text, len));
            }
        }
    };
    for entry in &dep.traffic_history {
        let Some(t) = at(&entry.at) else { continue };
        let bps = entry
            .weights
            .iter()
            .find(|w| w.revision == id)
            .map_or(0, |w| w.basis_points);
        match (bps >= min, open.is_some()) {
            (true, false) => open = Some((entry.at.clone(), t)),
            (false, true) => close(&mut open, t),
            _ => {}
        }
    }
    close(&mut open, now);
    best
}

fn soak(i: &GateInputs<'_>) -> GateCheck {
    let Some(soak) = i.gate.soak else {
        return check("soak", true, "no soak asked".into(), None, Value::Null);
    };
    let id = &i.revision.id;
    let span = longest_span(i.deployment, id, soak.min_basis_points, i.now);
    let long_enough = span
        .as_ref()
        .is_some_and(|(_, len)| len.as_secs() >= soak.min_seconds);
    let state = i.observed.and_then(|o| o.states.get(id.as_str())).cloned();
    let healthy = state
        .as_deref()
        .is_some_and(|s| matches!(s, "running" | "ready" | "healthy"));
    let served = span.as_ref().map_or("never".to_string(), |(start, len)| {
        format!(
            "for {} since {start}",
            humantime::format_duration(Duration::from_secs(len.as_secs()))
        )
    });
    let seen = state.clone().unwrap_or_else(|| "not observed".into());
    let detail = format!(
        "revision {id} served at least {} of traffic in {} {served}; observed {seen}; {} asks {soak}",
        crate::types::percent(soak.min_basis_points),
        i.from,
        i.to
    );
    let fix = if !long_enough {
        let have = span.as_ref().map_or(0, |(_, l)| l.as_secs());
        let wait = Duration::from_secs(soak.min_seconds.saturating_sub(have));
        format!(
            "keep it at {} or more in {} for {} more (envpack traffic set --env {} {} {id}=...), then promote again",
            crate::types::percent(soak.min_basis_points),
            i.from,
            humantime::format_duration(wait),
            i.from,
            i.deployment.name
        )
    } else {
        format!(
            "the revision is {seen} in {}: envpack status --env {}",
            i.from, i.from
        )
    };
    check(
        "soak",
        long_enough && healthy,
        detail,
        Some(fix),
        json!({
            "revision": id,
            "required": soak,
            "span": span.map(|(start, len)| json!({"since": start, "seconds": len.as_secs()})),
            "observed": state,
            "snapshot": i.observed.map(|o| o.snapshot.clone()),
        }),
    )
}

fn no_drift(i: &GateInputs<'_>) -> GateCheck {
    let Some(o) = i.observed else {
        return check(
            "no-drift",
            false,
            format!("{} was not observed", i.from),
            Some(format!("envpack drift --env {}", i.from)),
            Value::Null,
        );
    };
    let (passed, detail) = match &o.unobservable {
        Some(why) => (false, format!("{} could not be observed: {why}", i.from)),
        None if o.unaccepted_drift.is_empty() => (
            true,
            format!(
                "{} is observed without drift in {}",
                i.from, i.deployment.name
            ),
        ),
        None => (
            false,
            format!(
                "{} drifted in {}: {}",
                i.from,
                i.deployment.name,
                o.unaccepted_drift.join("; ")
            ),
        ),
    };
    check(
        "no-drift",
        passed,
        detail,
        Some(format!(
            "envpack drift --env {} (fix the drift, or accept it: envpack drift accept ID --reason ... --env {})",
            i.from, i.from
        )),
        json!({"snapshot": o.snapshot, "unaccepted": o.unaccepted_drift}),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dep(history: &[(&str, u32)]) -> Deployment {
        let mut d = Deployment::new("web", "2026-01-01T00:00:00Z");
        d.traffic_history = history
            .iter()
            .zip(1..)
            .map(
                |((at, bps), generation)| super::super::model::TrafficEntry {
                    generation,
                    weights: vec![crate::runtime::slots::deployer::Weight {
                        revision: "r1".into(),
                        basis_points: *bps,
                    }],
                    at: (*at).into(),
                    cause: "traffic".into(),
                    idempotency_key: None,
                },
            )
            .collect();
        d
    }

    fn t(s: &str) -> SystemTime {
        humantime::parse_rfc3339(s).expect("time")
    }

    #[test]
    fn soak_spans_are_unbroken_and_end_now() {
        let d = dep(&[
            ("2026-01-01T10:00:00Z", 10_000),
            ("2026-01-01T10:20:00Z", 500),
            ("2026-01-01T11:00:00Z", 2_000),
        ]);
        // 10:00-10:20 at 100% (20 min); from 11:00 on at 20%.
        let (start, len) = longest_span(&d, "r1", 1_000, t("2026-01-01T11:30:00Z")).expect("span");
        assert_eq!(
            (start.as_str(), len.as_secs()),
            ("2026-01-01T11:00:00Z", 1_800)
        );
        let (start, len) = longest_span(&d, "r1", 5_000, t("2026-01-01T12:00:00Z")).expect("span");
        assert_eq!(
            (start.as_str(), len.as_secs()),
            ("2026-01-01T10:00:00Z", 1_200)
        );
        assert!(longest_span(&d, "r2", 1, t("2026-01-01T12:00:00Z")).is_none());
    }

    #[test]
    fn drift_or_no_observation_refuses() {
        let d = dep(&[("2026-01-01T10:00:00Z", 10_000)]);
        let rev: Revision = serde_json::from_value(json!({
            "id": "r1", "sequence": 1, "bundle_id": format!("sha256:{}", "ab".repeat(32)),
            "version": "1.0.0", "source": "main", "state": "ready",
            "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z", "plan": null,
            "attributes": {}
        }))
        .expect("revision");
        let manifest = serde_json::from_value(json!({
            "contract": "release_bundle_v1", "name": "web", "version": "1.0.0",
            "created": "2026-01-01T00:00:00Z", "source": {"kind": "main", "ref": "main"},
            "files": []
        }))
        .expect("manifest");
        let verified = Verified {
            id: envpack_manifest::Digest::of(b"x"),
            manifest,
            file_digest: envpack_manifest::Digest::of(b"y"),
        };
        let gate = Gate {
            no_drift: true,
            ..Gate::default()
        };
        let (to, from): (EnvName, EnvName) =
            ("prod".parse().expect("n"), "staging".parse().expect("n"));
        let decide = |observed: Option<&SourceObservation>| {
            evaluate(&GateInputs {
                gate: &gate,
                to: &to,
                from: &from,
                verified: &verified,
                deployment: &d,
                revision: &rev,
                observed,
                now: t("2026-01-01T11:00:00Z"),
            })
        };
        let clean = SourceObservation::default();
        assert!(decide(Some(&clean)).allowed);
        let drifted = SourceObservation {
            unaccepted_drift: vec!["1a2b r1 files/index.html".into()],
            ..SourceObservation::default()
        };
        let d2 = decide(Some(&drifted));
        assert!(!d2.allowed);
        assert!(d2.checks[1].detail.contains("drifted"), "{:?}", d2.checks);
        assert!(
            d2.checks[1]
                .fix
                .as_deref()
                .is_some_and(|f| f.contains("drift accept"))
        );
        let blind = SourceObservation {
            unobservable: Some("the deployer timed out".into()),
            ..SourceObservation::default()
        };
        assert!(!decide(Some(&blind)).allowed, "unobservable never passes");
        assert!(!decide(None).allowed);
    }
}
