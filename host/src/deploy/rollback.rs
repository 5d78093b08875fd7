//! `rollback --env E [--to REVISION | --steps N]`: back through the traffic
//! history, warming again revisions that no longer run.

use serde::Serialize;

use super::model::{Deployment, RevState};
use super::records::{DeploymentRecords, Tracked, bundle_ref, rev_ref};
use super::traffic::{TrafficOutcome, apply_split};
use super::warm::Warmup;
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::runtime::slots::deployer::Weight;
use crate::store::now_rfc3339;

/// What `rollback` did.
#[derive(Clone, Debug, Serialize)]
pub struct RollbackOutcome {
    /// Deployment.
    pub deployment: String,
    /// The generation whose split was restored.
    pub restored_generation: u64,
    /// The traffic change it made.
    pub traffic: TrafficOutcome,
    /// Revisions re-warmed to take traffic again.
    pub rewarmed: Vec<String>,
}

/// Where to roll back to.
#[derive(Clone, Copy, Debug)]
pub struct RollbackOptions<'a> {
    /// The deployment (default: the only one).
    pub deployment: Option<&'a str>,
    /// Route 100% to this revision.
    pub to: Option<&'a str>,
    /// Else, how many traffic changes to go back.
    pub steps: usize,
    /// How long re-warming a revision may take.
    pub timeout: Option<std::time::Duration>,
}

/// The split to restore and the generation it came from (0 for `--to`).
pub fn target_split(
    dep: &Deployment,
    opts: &RollbackOptions<'_>,
    env: &EnvName,
) -> Result<(Vec<Weight>, u64)> {
    if let Some(r) = opts.to {
        let id = dep.revision(env, r)?.id.clone();
        return Ok((
            vec![Weight {
                revision: id,
                basis_points: 10_000,
            }],
            0,
        ));
    }
    let n = dep.traffic_history.len();
    let steps = opts.steps;
    if steps == 0 || steps >= n {
        return Err(Error::invalid(format!(
            "cannot roll {} back {steps} step(s): it has {} earlier traffic state(s)",
            dep.name,
            n.saturating_sub(1)
        ))
        .hint(format!("envpack history --env {env}")));
    }
    let entry = &dep.traffic_history[n - 1 - steps];
    Ok((entry.weights.clone(), entry.generation))
}

/// `rollback`.
pub fn rollback(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    opts: &RollbackOptions<'_>,
) -> Result<RollbackOutcome> {
    Session::scoped(home, runtime, env, |session| {
        let records = DeploymentRecords::new(session.records());
        let _lease = records.lock()?;
        let mut dep = records.find(opts.deployment)?;
        let (weights, restored) = target_split(&dep, opts, env)?;
        // Revisions that no longer run are warmed again before they get
        // traffic back; archived ones are gone.
        let mut rewarmed = Vec::new();
        {
            let warmup = Warmup::new(opts.timeout, session.local_runtime_dir());
            let slot = super::target::deployment_slot(&dep);
            super::target::with_target(session, &records, slot, None, |target| {
                for w in &weights {
                    if rewarm(&records, target, &warmup, &mut dep, &w.revision)? {
                        rewarmed.push(w.revision.clone());
                    }
                }
                Ok(())
            })?;
        }
        let traffic = apply_split(session, &records, &mut dep, weights, "rollback", None)?;
        Ok(RollbackOutcome {
            deployment: dep.name.clone(),
            restored_generation: restored,
            traffic,
            rewarmed,
        })
    })
}

/// Brings a revision back to `ready` if it is inactive or draining, applying
/// its recorded plan again; `true` when it had to.
fn rewarm(
    records: &DeploymentRecords,
    deployer: &mut dyn super::target::Target,
    warmup: &Warmup,
    dep: &mut Tracked<Deployment>,
    revision: &str,
) -> Result<bool> {
    let rev = dep.revision(records.name(), revision)?.clone();
    match rev.state {
        RevState::Ready => return Ok(false),
        RevState::Inactive | RevState::Draining => {}
        other => {
            return Err(Error::conflict(format!(
                "cannot roll back to revision {}: it is {other}",
                rev.id
            )));
        }
    }
    let (verified, _) = records.open_bundle(&rev.bundle_id)?;
    let rref = rev_ref(records.name(), &dep.name, &rev);
    let plan = rev
        .plan
        .clone()
        .ok_or_else(|| Error::internal("revision has no recorded plan"))?;
    rev.state.check(
        if rev.state == RevState::Draining {
            RevState::Ready
        } else {
            RevState::Warming
        },
        &rev.id,
    )?;
    let report = deployer.apply(&rref, &bundle_ref(&verified), &plan)?;
    if let Some(bad) = report.steps.iter().find(|s| !s.ok) {
        return Err(Error::unavailable(format!(
            "cannot bring {} back: apply step {} failed: {}",
            rev.id, bad.id, bad.message
        )));
    }
    warmup
        .warm(deployer, &rref)
        .map_err(|why| Error::unavailable(format!("cannot bring {} back: {why}", rev.id)))?;
    let r = dep.revision_mut(&rev.id)?;
    // A restarted revision may answer somewhere new.
    r.endpoint = report.endpoint.clone().or(r.endpoint.take());
    r.state = RevState::Ready;
    r.updated = now_rfc3339();
    Ok(true)
}
