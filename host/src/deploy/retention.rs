//! Revision retention: a revision that drops to 0% of traffic keeps
//! running for the environment's scale-down delay (a rollback within it is
//! instant), then stops (ready -> draining -> inactive), except the `keep`
//! most recent. A revision never routed to is left alone: it is waiting for
//! its canary, not retired.
//!
//! There is no controller: every traffic change, rollback, deploy and
//! promotion sweeps its environment afterwards, and `envpack revisions
//! scale-down` sweeps on demand (from cron, say).

use std::time::{Duration, SystemTime};

use envpack_descriptor::Slot;
use serde::Serialize;

use super::journal::{self, AuditEvent, HistoryEntry};
use super::lifecycle::path_to;
use super::model::{Deployment, RevState};
use super::records::{DeploymentRecords, rev_ref};
use crate::env::{EnvName, Retention, Session};
use crate::error::Result;
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::now_rfc3339;

/// A revision at 0% and since when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Retired {
    /// The deployment.
    pub deployment: String,
    /// The revision.
    pub revision: String,
    /// When it dropped to 0%.
    pub since: String,
}

/// When `id` dropped to 0%: the first traffic change after the last one
/// that gave it weight. `None` while it has weight, or if it never had any.
pub fn dropped_at(dep: &Deployment, id: &str) -> Option<String> {
    if dep.weight_of(id) > 0 {
        return None;
    }
    let had = |e: &super::model::TrafficEntry| {
        e.weights
            .iter()
            .any(|w| w.revision == id && w.basis_points > 0)
    };
    let last = dep.traffic_history.iter().rposition(had)?;
    dep.traffic_history.get(last + 1).map(|e| e.at.clone())
}

/// The revisions of `dep` the retention stops now, oldest drop first.
pub fn due(dep: &Deployment, retention: &Retention, now: SystemTime) -> Vec<Retired> {
    let mut idle: Vec<Retired> = dep
        .revisions
        .iter()
        .filter(|r| r.state == RevState::Ready)
        .filter_map(|r| {
            dropped_at(dep, &r.id).map(|since| Retired {
                deployment: dep.name.clone(),
                revision: r.id.clone(),
                since,
            })
        })
        .collect();
    // Newest drop first: the first `keep` stay ready for a rollback.
    idle.sort_by(|a, b| b.since.cmp(&a.since));
    let keep = retention.keep.unwrap_or(0) as usize;
    let delay = retention.delay();
    let mut out: Vec<Retired> = idle
        .into_iter()
        .skip(keep)
        .filter(|r| {
            humantime::parse_rfc3339_weak(&r.since)
                .is_ok_and(|t| now.duration_since(t).unwrap_or(Duration::ZERO) >= delay)
        })
        .collect();
    out.reverse();
    out
}

/// Stops what is due in the session's environment (the caller holds no
/// deployment lease; this takes it). Each stop is audited.
pub fn sweep(session: &Session<'_>) -> Result<Vec<Retired>> {
    let records = DeploymentRecords::new(session.records());
    let retention = session.meta().retention.clone();
    let now = SystemTime::now();
    let deps = records.all()?;
    if deps.iter().all(|d| due(d, &retention, now).is_empty()) {
        return Ok(Vec::new());
    }
    let _lease = records.lock()?;
    let mut instance = session.instance(Slot::Deployer)?;
    let mut deployer = instance.deployer()?;
    let env = session.name();
    let mut stopped = Vec::new();
    for mut dep in records.all()? {
        for r in due(&dep, &retention, now) {
            let mut rev = dep.revision(env, &r.revision)?.clone();
            let path = path_to(rev.state, RevState::Draining, &rev.id)?;
            let mut ev = AuditEvent::new(
                "revision.scale-down",
                format!("{} {}", dep.name, rev.id),
                "ok",
            );
            ev.before = Some(serde_json::json!({"state": rev.state, "at_zero_since": r.since}));
            ev.after = Some(serde_json::json!({"state": RevState::Inactive}));
            journal::audit(session.records(), &ev)?;
            // A Kinetic install is not stopped by scaling down: only the
            // record changes (the Kinetic target's teardown does nothing).
            if super::target::deployment_slot(&dep) != Slot::Kinetic {
                deployer.teardown(&rev_ref(env, &dep.name, &rev))?;
            }
            rev.state = *path.last().unwrap_or(&RevState::Inactive);
            rev.updated = now_rfc3339();
            let id = rev.id.clone();
            *dep.revision_mut(&id)? = rev;
            stopped.push(r);
        }
        records.save(&mut dep)?;
    }
    for r in &stopped {
        let entry = HistoryEntry::new(
            "revision",
            &r.deployment,
            None,
            format!(
                "revision {} -> inactive (at 0% since {}, past the scale-down delay)",
                r.revision, r.since
            ),
        )
        .with_revision(&r.revision);
        journal::history(session.records(), &entry)?;
    }
    Ok(stopped)
}

/// `revisions scale-down`, and the sweep after each traffic change: what
/// was stopped.
pub fn scale_down(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<Vec<Retired>> {
    Session::scoped(home, runtime, env, sweep)
}

/// A sweep after a change that succeeded: a failure is a warning, never a
/// failed change.
pub fn after_change(home: &Home, runtime: &Runtime, env: &EnvName) -> (Vec<Retired>, Vec<String>) {
    match scale_down(home, runtime, env) {
        Ok(stopped) => (stopped, Vec::new()),
        Err(e) => (
            Vec::new(),
            vec![format!(
                "the change is made, but stopping revisions past the scale-down delay failed: {} (retry: envpack revisions scale-down --env {env})",
                e.message()
            )],
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::slots::deployer::Weight;

    fn dep(history: &[(&str, &[(&str, u32)])]) -> Deployment {
        let mut d = Deployment::new("web", "2026-01-01T00:00:00Z");
        for (i, (at, ws)) in history.iter().enumerate() {
            let weights: Vec<Weight> = ws
                .iter()
                .map(|(r, b)| Weight {
                    revision: (*r).into(),
                    basis_points: *b,
                })
                .collect();
            d.traffic_history.push(super::super::model::TrafficEntry {
                generation: i as u64 + 1,
                weights: weights.clone(),
                at: (*at).into(),
                cause: "traffic".into(),
                idempotency_key: None,
            });
            d.weights = weights;
        }
        for id in ["r1", "r2", "r3"] {
            d.revisions.push(
                serde_json::from_value(serde_json::json!({
                    "id": id, "sequence": 1, "bundle_id": format!("sha256:{}", "ab".repeat(32)),
                    "version": "1.0.0", "source": "main", "state": "ready",
                    "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z",
                    "plan": null, "attributes": {}
                }))
                .expect("revision"),
            );
        }
        d
    }

    #[test]
    fn only_revisions_that_dropped_to_zero_are_retired_after_the_delay() {
        let d = dep(&[
            ("2026-01-01T10:00:00Z", &[("r1", 10_000)]),
            ("2026-01-01T10:10:00Z", &[("r1", 9_000), ("r2", 1_000)]),
            ("2026-01-01T10:20:00Z", &[("r2", 10_000)]),
        ]);
        assert_eq!(
            dropped_at(&d, "r1").as_deref(),
            Some("2026-01-01T10:20:00Z")
        );
        assert_eq!(dropped_at(&d, "r2"), None, "it carries traffic");
        assert_eq!(
            dropped_at(&d, "r3"),
            None,
            "never routed: waiting for its canary"
        );
        let t = |s: &str| humantime::parse_rfc3339(s).expect("time");
        let five_min = Retention::default();
        assert!(
            due(&d, &five_min, t("2026-01-01T10:24:00Z")).is_empty(),
            "within the delay"
        );
        let later = due(&d, &five_min, t("2026-01-01T10:25:00Z"));
        assert_eq!(
            later
                .iter()
                .map(|r| r.revision.as_str())
                .collect::<Vec<_>>(),
            ["r1"]
        );
        let keep = Retention {
            keep: Some(1),
            ..Retention::default()
        };
        assert!(
            due(&d, &keep, t("2026-01-01T12:00:00Z")).is_empty(),
            "kept for rollback"
        );
    }
}
