//! `traffic set`: a new split, checked, audited before the deployer
//! applies it, with idempotency keys that make retries safe.

use serde::Serialize;

use super::journal::{self, AuditEvent, HistoryEntry};
use super::model::{Deployment, RevState, TrafficEntry, check_sum, parse_weight};
use super::records::{DeploymentRecords, Tracked};
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::runtime::slots::deployer::{TrafficSplit, Weight};
use crate::store::now_rfc3339;

/// What a traffic change did.
#[derive(Clone, Debug, Serialize)]
pub struct TrafficOutcome {
    /// Deployment.
    pub deployment: String,
    /// Generation after.
    pub generation: u64,
    /// Split after.
    pub weights: Vec<Weight>,
    /// `applied`, or `replayed` for a retried idempotency key.
    pub outcome: &'static str,
    /// What the deployer reported applying.
    pub applied: Vec<Weight>,
    /// What went wrong after the change was made (the history line could
    /// not be written); the change itself stands.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// What `traffic set` changes.
#[derive(Clone, Copy, Debug)]
pub struct TrafficOptions<'a> {
    /// The deployment (default: the only one).
    pub deployment: Option<&'a str>,
    /// `REVISION=WEIGHT` entries.
    pub entries: &'a [String],
    /// Makes retries safe.
    pub idempotency_key: Option<&'a str>,
}

/// Resolves `REV=WEIGHT` entries against a deployment and checks them:
/// known revisions, only ready ones with weight, an exact sum.
pub fn resolve_weights(env: &EnvName, dep: &Deployment, entries: &[String]) -> Result<Vec<Weight>> {
    let mut weights = Vec::new();
    for e in entries {
        let (rev, bps) = parse_weight(e)?;
        let r = dep.revision(env, &rev)?;
        if bps > 0 && r.state != RevState::Ready {
            return Err(Error::conflict(format!(
                "revision {} is {}; only ready revisions can receive traffic",
                r.id, r.state
            )));
        }
        weights.push(Weight {
            revision: r.id.clone(),
            basis_points: bps,
        });
    }
    check_sum(&weights)?;
    weights.retain(|w| w.basis_points > 0);
    weights.sort();
    Ok(weights)
}

/// What an idempotency key already did: the same split is replayed, a
/// different one refused.
fn replay(dep: &Deployment, key: &str, weights: &[Weight]) -> Result<Option<(u64, Vec<Weight>)>> {
    let Some(generation) = dep.idempotency.get(key).copied() else {
        return Ok(None);
    };
    let earlier = dep
        .traffic_history
        .iter()
        .find(|t| t.generation == generation)
        .map(|t| t.weights.clone())
        .unwrap_or_default();
    if earlier == weights {
        return Ok(Some((generation, earlier)));
    }
    Err(Error::conflict(format!(
        "idempotency key {key:?} was already used for a different split (generation {generation})"
    ))
    .hint("use a new idempotency key for a new change"))
}

/// `traffic set`.
pub fn set_traffic(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    opts: &TrafficOptions<'_>,
) -> Result<TrafficOutcome> {
    Session::scoped(home, runtime, env, |session| {
        let records = DeploymentRecords::new(session.records());
        let _lease = records.lock()?;
        let mut dep = records.find(opts.deployment)?;
        let weights = resolve_weights(env, &dep, opts.entries)?;
        if let Some(key) = opts.idempotency_key
            && let Some((generation, earlier)) = replay(&dep, key, &weights)?
        {
            let mut ev = AuditEvent::new("traffic.set", &dep.name, "replayed");
            ev.idempotency_key = Some(key.into());
            ev.before_generation = Some(dep.generation);
            ev.after_generation = Some(dep.generation);
            journal::audit(session.records(), &ev)?;
            return Ok(TrafficOutcome {
                deployment: dep.name.clone(),
                generation,
                weights: earlier.clone(),
                outcome: "replayed",
                applied: earlier,
                warnings: Vec::new(),
            });
        }
        apply_split(
            session,
            &records,
            &mut dep,
            weights,
            "traffic",
            opts.idempotency_key,
        )
    })
}

/// Applies a split through the deployer, bumps the generation, and records
/// it. The caller holds the deployment lease. `cause` is `traffic` or
/// `rollback`.
pub(crate) fn apply_split(
    session: &Session<'_>,
    records: &DeploymentRecords,
    dep: &mut Tracked<Deployment>,
    weights: Vec<Weight>,
    cause: &str,
    idempotency_key: Option<&str>,
) -> Result<TrafficOutcome> {
    let before = dep.generation;
    let generation = before + 1;
    let mut ev = AuditEvent::new(
        if cause == "rollback" {
            "rollback"
        } else {
            "traffic.set"
        },
        &dep.name,
        "ok",
    );
    ev.before_generation = Some(before);
    ev.after_generation = Some(generation);
    ev.idempotency_key = idempotency_key.map(str::to_string);
    let split = TrafficSplit {
        environment: session.name().as_str(),
        deployment: &dep.name,
        generation,
        weights: &weights,
    };
    let slot = super::target::deployment_slot(dep);
    let applied = super::target::with_target(session, records, slot, None, |target| {
        // Audit before the side effect: no audit, no change.
        journal::audit(session.records(), &ev)?;
        Ok(target.set_traffic(&split))
    })?;
    let report = match applied {
        Ok(r) => r,
        Err(e) => {
            ev.result = format!("failed: {}", e.message());
            journal::audit(session.records(), &ev)?;
            return Err(e);
        }
    };
    dep.generation = generation;
    dep.weights = weights.clone();
    dep.traffic_history.push(TrafficEntry {
        generation,
        weights: weights.clone(),
        at: now_rfc3339(),
        cause: cause.into(),
        idempotency_key: idempotency_key.map(str::to_string),
    });
    if let Some(k) = idempotency_key {
        dep.idempotency.insert(k.to_string(), generation);
    }
    records.save(dep)?;
    let warnings = record_history(session, cause, &dep.name, generation, &weights);
    Ok(TrafficOutcome {
        deployment: dep.name.clone(),
        generation,
        weights,
        outcome: "applied",
        applied: report.applied,
        warnings,
    })
}

/// The history line of an applied split; the warnings when it could not
/// be written.
fn record_history(
    session: &Session<'_>,
    cause: &str,
    deployment: &str,
    generation: u64,
    weights: &[Weight],
) -> Vec<String> {
    let shown: Vec<String> = weights
        .iter()
        .map(|w| format!("{}={}bps", w.revision, w.basis_points))
        .collect();
    // By now the deployer has applied the split and the deployment record
    // (the source of truth, audited above) says so: the change is made.
    // Failing here would report "not made" for a change that was made, and
    // writing history before the deployer call would record a split that
    // may never happen. So a history line that cannot be written is a
    // warning on a successful change, with how to repair the file.
    let entry = HistoryEntry::new(
        cause,
        deployment,
        Some(generation),
        format!("{cause}: {}", shown.join(" ")),
    );
    match journal::history(session.records(), &entry) {
        Ok(()) => Vec::new(),
        Err(e) => vec![history_warning(&e, session.name())],
    }
}

/// The warning for a change made whose history line was not written.
fn history_warning(e: &Error, env: &EnvName) -> String {
    let hint = e
        .hint_text()
        .map(str::to_string)
        .unwrap_or_else(|| format!("envpack env doctor {env}"));
    format!(
        "the change was made, but its history line was not written: {}; \
         make the history file writable (help: {hint})",
        e.message()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::Revision;

    fn dep() -> Deployment {
        let mut d = Deployment::new("web", "now");
        for (id, state) in [
            ("r1", RevState::Ready),
            ("r2", RevState::Ready),
            ("r3", RevState::Failed),
        ] {
            d.revisions.push(Revision {
                id: id.into(),
                sequence: 1,
                bundle_id: envpack_manifest::Digest::of(id.as_bytes()),
                version: "1.0.0".into(),
                source: crate::types::SourceKind::Main,
                state,
                created: String::new(),
                updated: String::new(),
                plan: None,
                endpoint: None,
                reason: None,
                attributes: Default::default(),
                applied: Default::default(),
            });
        }
        d
    }

    fn entries(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    /// The split rules, without Wasm: exact sums, ready revisions only,
    /// zero weights dropped, sorted.
    #[test]
    fn weights_resolve() {
        let d = dep();
        let w = resolve_weights(
            &"dev".parse().expect("env"),
            &d,
            &entries(&["r2=1%", "r1=99%"]),
        )
        .expect("ok");
        assert_eq!(
            w.iter()
                .map(|w| (w.revision.as_str(), w.basis_points))
                .collect::<Vec<_>>(),
            [("r1", 9900), ("r2", 100)]
        );
        let w = resolve_weights(
            &"dev".parse().expect("env"),
            &d,
            &entries(&["r1=100%", "r3=0%"]),
        )
        .expect("zero to failed");
        assert_eq!(w.len(), 1);
        assert!(
            resolve_weights(
                &"dev".parse().expect("env"),
                &d,
                &entries(&["r1=50%", "r3=50%"])
            )
            .is_err()
        );
        assert!(
            resolve_weights(&"dev".parse().expect("env"), &d, &entries(&["r1=99.99%"])).is_err()
        );
        assert!(resolve_weights(&"dev".parse().expect("env"), &d, &entries(&["r9=100%"])).is_err());
    }

    /// Idempotency: same key and split replays, a different split is refused.
    #[test]
    fn idempotency_keys() {
        let mut d = dep();
        let split = vec![Weight {
            revision: "r1".into(),
            basis_points: 10_000,
        }];
        d.traffic_history.push(TrafficEntry {
            generation: 2,
            weights: split.clone(),
            at: String::new(),
            cause: "traffic".into(),
            idempotency_key: Some("k".into()),
        });
        d.idempotency.insert("k".into(), 2);
        assert_eq!(
            replay(&d, "k", &split).expect("replay").map(|r| r.0),
            Some(2)
        );
        assert!(replay(&d, "other", &split).expect("new key").is_none());
        let different = vec![Weight {
            revision: "r2".into(),
            basis_points: 10_000,
        }];
        assert!(replay(&d, "k", &different).is_err());
    }
}
