//! `/api/v1/env/{env}/deployments/{dep}/drift`: one fresh observation, kept
//! as a snapshot (as `envpack drift` does), and the deployment's three
//! records side by side per revision (intent: the bundle; expectation: the
//! environment's records; reality: what the deployer saw), each drift
//! entry with expected and observed values, when it first appeared, and
//! its acceptance.

use serde_json::{Value, json};

use super::server::App;
use crate::deploy::DeploymentRecords;
use crate::env::{EnvName, EnvRecords};
use crate::error::Result;
use crate::truth::model::Observation;
use crate::truth::{self, store};

/// The drift view of one deployment.
pub(super) fn drift(app: &App, env: &EnvName, dep: &str) -> Result<Value> {
    let records = EnvRecords::new(&app.home, env);
    records.load()?;
    let record = DeploymentRecords::new(&records).find(Some(dep))?;
    let out = truth::observe(&app.home, &app.runtime, env)?;
    let snapshot = store::read(&records, &out.snapshot)?;
    let accepted = store::acceptances(&records)?;
    let first_seen = store::first_seen(&records)?;
    let entries: Vec<_> = out
        .drift
        .iter()
        .filter(|d| d.deployment == record.name)
        .collect();
    let state = match &out.observation {
        Observation::Unobservable { .. } => truth::state_of(None, &accepted),
        Observation::Observed { .. } => {
            let owned: Vec<_> = entries.iter().map(|d| (*d).clone()).collect();
            truth::state_of(Some(&owned), &accepted)
        }
    };
    let drift: Vec<Value> = entries
        .iter()
        .map(|d| {
            let acceptance = accepted.iter().rev().find(|a| a.entry == d.id);
            json!({
                "entry": d,
                "first_seen": first_seen.get(&d.id),
                "accepted": acceptance.is_some(),
                "acceptance": acceptance,
            })
        })
        .collect();
    let observed: Vec<_> = match &snapshot.observation {
        Observation::Observed { revisions } => revisions.iter().collect(),
        Observation::Unobservable { .. } => Vec::new(),
    };
    let mut rows = Vec::new();
    for e in snapshot
        .expectation
        .revisions
        .iter()
        .filter(|e| e.deployment == record.name)
    {
        let source = record
            .revisions
            .iter()
            .find(|r| r.id == e.revision)
            .map(|r| r.source);
        rows.push(json!({
            "revision": e.revision,
            "intent": {
                "bundle": e.bundle,
                "version": e.version,
                "source": source,
                "files": e.files,
                "problem": snapshot.expectation.intent_problems.get(&e.revision),
            },
            "expectation": {
                "lifecycle": e.lifecycle,
                "basis_points": e.basis_points,
                "running": e.running,
                "endpoint": e.endpoint,
                "attributes": e.attributes,
            },
            "reality": observed.iter().find(|o| o.revision == e.revision),
        }));
    }
    // Observed but expected nowhere: reality alone.
    for o in observed.iter().filter(|o| {
        o.deployment == record.name
            && !snapshot
                .expectation
                .revisions
                .iter()
                .any(|e| e.revision == o.revision)
    }) {
        rows.push(json!({
            "revision": o.revision,
            "intent": null,
            "expectation": null,
            "reality": o,
        }));
    }
    let unobservable = match &snapshot.observation {
        Observation::Unobservable { reason } => Some(reason.clone()),
        Observation::Observed { .. } => None,
    };
    Ok(json!({
        "environment": env,
        "deployment": record.name,
        "snapshot": out.snapshot,
        "at": out.at,
        "state": state,
        "unobservable": unobservable,
        "observer": snapshot.observer,
        "records": rows,
        "drift": drift,
    }))
}
