//! The JSON API's reads (`GET /api/v1/...`), each the `result` of the
//! `--json` envelope, built from the operations the CLI commands call
//! (documented in `docs/ui-api.md`).

use serde_json::{Value, json};

use super::auth::decoded_param;
use super::server::App;
use crate::deploy::DeploymentRecords;
use crate::deploy::journal;
use crate::env::audit_query::{self, AuditQuery};
use crate::env::{self, EnvName, EnvRecords};
use crate::error::{Error, Result};
use crate::truth::{self, DeploymentStatus};

/// Answers `GET /api/v1/<path>`.
pub(super) fn get(app: &App, path: &str, query: Option<&str>) -> Result<Value> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["ladder"] => ladder(app),
        ["audit"] => audit(app, query),
        ["env", e, "packs"] => packs(app, &name(e)?),
        ["env", e, "deployments", d] => deployment(app, &name(e)?, d),
        ["env", e, "deployments", d, "drift"] => super::drift::drift(app, &name(e)?, d),
        _ => Err(Error::not_found(format!("no API at /api/v1/{path}"))
            .hint("the API is listed in docs/ui-api.md: /api/v1/ladder, /api/v1/audit, /api/v1/env/ENV/deployments/DEP, ...")),
    }
}

fn name(s: &str) -> Result<EnvName> {
    s.parse()
}

/// `/api/v1/ladder`: every environment in ladder order with its policy
/// and gate, every deployment's status in each (as `envpack status --all`),
/// and each promotion the ladder offers with what its gate still needs.
fn ladder(app: &App) -> Result<Value> {
    let mut environments = Vec::new();
    let mut cells: Vec<DeploymentStatus> = Vec::new();
    let mut failed = Vec::new();
    let mut promotions = Vec::new();
    for name in truth::ladder_order(&app.home)? {
        let view = env::show(&app.home, &name)?;
        let p = &view.meta.policy;
        environments.push(json!({
            "name": name,
            "mode": view.meta.mode,
            "after": p.after,
            "production": p.production,
            "allowed_sources": p.allowed_sources,
            "gate": p.gate,
        }));
        match truth::status(&app.home, &app.runtime, &name) {
            Ok(mut s) => cells.append(&mut s),
            Err(e) => failed.push(json!({"environment": name, "error": e.message()})),
        }
        match truth::promotion::previews(&app.home, &app.runtime, &name) {
            Ok(list) => promotions.extend(list),
            Err(e) => failed.push(json!({"environment": name, "error": e.message()})),
        }
    }
    let mut deployments: Vec<&str> = cells.iter().map(|c| c.deployment.as_str()).collect();
    deployments.sort_unstable();
    deployments.dedup();
    Ok(json!({
        "environments": environments,
        "deployment_names": deployments,
        "deployments": cells,
        "promotions": promotions,
        "failed": failed,
    }))
}

/// `/api/v1/env/{env}/deployments/{dep}`: the deployment's status (as
/// `envpack status`), its revisions, every traffic generation (rollbacks
/// marked), its history, and the canary's share and age.
fn deployment(app: &App, env: &EnvName, dep: &str) -> Result<Value> {
    let records = EnvRecords::new(&app.home, env);
    records.load()?;
    let record = DeploymentRecords::new(&records).find(Some(dep))?;
    let status = truth::status(&app.home, &app.runtime, env)?
        .into_iter()
        .find(|s| s.deployment == record.name);
    let traffic: Vec<Value> = record
        .traffic_history
        .iter()
        .map(|t| {
            json!({
                "generation": t.generation,
                "at": t.at,
                "cause": t.cause,
                "rollback": t.cause == "rollback",
                "weights": t.weights,
            })
        })
        .collect();
    let revisions: Vec<Value> = record
        .revisions
        .iter()
        .map(|r| {
            json!({
                "id": r.id,
                "sequence": r.sequence,
                "version": r.version,
                "bundle": r.bundle_id,
                "source": r.source,
                "lifecycle": r.state,
                "basis_points": record.weight_of(&r.id),
                "created": r.created,
                "updated": r.updated,
                "endpoint": r.endpoint,
                "reason": r.reason,
            })
        })
        .collect();
    let history: Vec<_> = journal::read_history(&records)?
        .into_iter()
        .filter(|h| h.deployment == record.name)
        .collect();
    Ok(json!({
        "environment": env,
        "deployment": record.name,
        "generation": record.generation,
        "weights": record.weights,
        "status": status,
        "revisions": revisions,
        "traffic_history": traffic,
        "canary": canary(&record),
        "history": history,
    }))
}

/// The canary of a split: the newest revision taking part in a split of
/// two or more, its share, and since when it has had traffic without a
/// break.
fn canary(d: &crate::deploy::model::Deployment) -> Value {
    if d.weights.len() < 2 {
        return Value::Null;
    }
    let newest = d
        .weights
        .iter()
        .filter_map(|w| d.revisions.iter().find(|r| r.id == w.revision))
        .max_by_key(|r| r.sequence);
    let Some(rev) = newest else {
        return Value::Null;
    };
    let has = |t: &crate::deploy::model::TrafficEntry| {
        t.weights
            .iter()
            .any(|w| w.revision == rev.id && w.basis_points > 0)
    };
    let since = d
        .traffic_history
        .iter()
        .rev()
        .take_while(|t| has(t))
        .last()
        .map(|t| t.at.clone());
    json!({
        "revision": rev.id,
        "version": rev.version,
        "basis_points": d.weight_of(&rev.id),
        "share": crate::types::percent(d.weight_of(&rev.id)),
        "since": since,
        "age": since.as_deref().map(truth::age),
    })
}

/// `/api/v1/audit?env=&actor=&verb=`: as `envpack audit --all` (or
/// `--env ENV`) with `--actor` and `--verb`.
fn audit(app: &App, query: Option<&str>) -> Result<Value> {
    let param = |n: &str| decoded_param(query, n).filter(|v| !v.is_empty());
    let environments = match param("env") {
        Some(e) => {
            let e: EnvName = e.parse()?;
            EnvRecords::new(&app.home, &e).load()?;
            Some(vec![e])
        }
        None => None,
    };
    let q = AuditQuery {
        environments,
        actor: param("actor"),
        verb: param("verb"),
        ..AuditQuery::default()
    };
    let backend = crate::backend::open(&app.home);
    Ok(Value::from(audit_query::to_json(&audit_query::query(
        &backend, &q,
    )?)))
}

/// `/api/v1/env/{env}/packs`: each slot's binding (as `envpack env
/// show`), what the pack requests, and the capability diff an upgrade to
/// the newest installed pack matching the requirement would bring.
fn packs(app: &App, env: &EnvName) -> Result<Value> {
    let view = env::show(&app.home, env)?;
    let store = crate::store::Store::open(&app.home);
    let mut slots = Vec::new();
    for (slot, b) in &view.lock.slots {
        let current = store.load(&b.descriptor, None).ok();
        let requested = current
            .as_ref()
            .map(|p| p.manifest().requested())
            .unwrap_or_default();
        let upgrade = match store.resolve(&b.requirement) {
            Ok(newest) if newest != b.descriptor => match store.load(&newest, None) {
                Ok(pack) => {
                    let wants = pack.manifest().requested();
                    let (added, removed) = env::capability_diff(&requested, &wants);
                    json!({
                        "descriptor": newest,
                        "digest": pack.label().digest,
                        "added": added,
                        "removed": removed,
                        "not_granted": wants.unsatisfied_by(&b.grants),
                        "command": format!("envpack env bind {env} {slot} {}", b.requirement),
                    })
                }
                Err(e) => json!({"descriptor": newest, "error": e.message()}),
            },
            _ => Value::Null,
        };
        slots.push(json!({
            "slot": slot,
            "descriptor": b.descriptor,
            "requirement": b.requirement,
            "digest": b.digest,
            "grants": b.grants,
            "requested": requested,
            "bound_at": b.bound_at,
            "upgrade": upgrade,
        }));
    }
    Ok(json!({
        "environment": env,
        "mode": view.meta.mode,
        "lock_generation": view.lock.generation,
        "policy": view.meta.policy,
        "slots": slots,
    }))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::canary;
    use serde_json::json;

    fn deployment(
        weights: &[(&str, u32)],
        history: &[(&[(&str, u32)], &str)],
    ) -> crate::deploy::model::Deployment {
        let rev = |id: &str, seq: u64| {
            json!({"id": id, "sequence": seq, "bundle_id": format!("sha256:{}", "a".repeat(64)),
                   "version": format!("1.{seq}.0"), "source": "main", "state": "ready",
                   "created": "2026-01-01T00:00:00Z", "updated": "2026-01-01T00:00:00Z", "plan": null})
        };
        let split = |w: &[(&str, u32)]| -> Vec<serde_json::Value> {
            w.iter()
                .map(|(r, b)| json!({"revision": r, "basis_points": b}))
                .collect()
        };
        let traffic: Vec<_> = history
            .iter()
            .enumerate()
            .map(|(i, (w, at))| json!({"generation": i + 1, "weights": split(w), "at": at, "cause": "traffic"}))
            .collect();
        serde_json::from_value(json!({
            "format": 1, "name": "web", "created": "2026-01-01T00:00:00Z",
            "revisions": [rev("r1", 1), rev("r2", 2)],
            "generation": history.len(), "weights": split(weights), "traffic_history": traffic,
        }))
        .unwrap()
    }

    #[test]
    fn the_canary_is_the_newest_revision_in_a_split_since_its_traffic_began() {
        let one = deployment(
            &[("r1", 10000)],
            &[(&[("r1", 10000)], "2026-01-01T00:00:00Z")],
        );
        assert!(canary(&one).is_null(), "one revision serving is no canary");
        let d = deployment(
            &[("r1", 9000), ("r2", 1000)],
            &[
                (&[("r2", 10000)], "2026-01-01T00:00:00Z"),
                (&[("r1", 10000)], "2026-01-02T00:00:00Z"),
                (&[("r1", 9500), ("r2", 500)], "2026-01-03T00:00:00Z"),
                (&[("r1", 9000), ("r2", 1000)], "2026-01-04T00:00:00Z"),
            ],
        );
        let c = canary(&d);
        assert_eq!(c["revision"], "r2");
        assert_eq!(c["basis_points"], 1000);
        assert_eq!(c["share"], "10%");
        // Since the unbroken run began, not its first traffic ever.
        assert_eq!(c["since"], "2026-01-03T00:00:00Z");
    }
}
