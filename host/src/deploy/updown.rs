//! `env down` / `env up`: stop every running revision while keeping what the
//! environment expects to run, and start it again; and `env rm`, which
//! stops an environment's revisions before deleting it when forced.

use std::collections::BTreeSet;

use envpack_descriptor::Slot;
use serde::Serialize;

use super::journal::{self, AuditEvent, HistoryEntry};
use super::model::{RevState, Revision};
use super::records::{DeploymentRecords, bundle_ref, rev_ref};
use super::warm::Warmup;
use crate::env::{self, EnvName, EnvRecords, Session};
use crate::error::Result;
use crate::home::Home;
use crate::runtime::Runtime;
use crate::runtime::slots::deployer::DeployerClient;
use crate::store::now_rfc3339;

/// What `env down` / `env up` did.
#[derive(Clone, Debug, Serialize)]
pub struct EnvRunReport {
    /// Environment.
    pub environment: EnvName,
    /// Revisions stopped or started.
    pub revisions: Vec<String>,
    /// Revisions that could not be started again, with why.
    pub failed: Vec<(String, String)>,
    /// Processes of this machine's revisions that nothing accounted for
    /// (a revision that should not run, or an interrupted start), stopped.
    pub swept: Vec<crate::local::Stray>,
    /// What the deployer did to the target itself: `prepare` for `env up`
    /// (a namespace, a route), `decommission` for `env down`.
    pub target: Vec<crate::runtime::slots::deployer::StepResult>,
}

/// Fails when a target step (`prepare` / `decommission`) failed.
fn target_steps_ok(
    env: &EnvName,
    verb: &str,
    steps: &[crate::runtime::slots::deployer::StepResult],
) -> Result<()> {
    let failed: Vec<String> = steps
        .iter()
        .filter(|s| !s.ok)
        .map(|s| format!("{}: {}", s.id, s.message))
        .collect();
    if failed.is_empty() {
        return Ok(());
    }
    Err(crate::error::Error::unavailable(format!(
        "the deployer could not {verb} the target of {env}: {}",
        failed.join("; ")
    ))
    .hint(format!("envpack env validate {env}")))
}

/// Stops every process of the environment's local revisions that is not
/// one of `keep`'s recorded processes (nothing for remote deployers).
fn sweep(session: &Session<'_>, keep: &BTreeSet<String>) -> Vec<crate::local::Stray> {
    session
        .local_runtime_dir()
        .map(|d| crate::local::Processes::new(&d).sweep(keep))
        .unwrap_or_default()
}

/// Runs an environment-wide verb: under the deployment lease, audited
/// first, with the environment's deployer.
fn with_deployer<T>(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    verb: &str,
    f: impl FnOnce(&Session<'_>, &DeploymentRecords, &mut DeployerClient<'_>) -> Result<T>,
) -> Result<T> {
    Session::scoped(home, runtime, env, |session| {
        let records = DeploymentRecords::new(session.records());
        let _lease = records.lock()?;
        journal::audit(
            session.records(),
            &AuditEvent::new(verb, env.as_str(), "ok"),
        )?;
        let mut instance = session.instance(Slot::Deployer)?;
        let mut deployer = instance.deployer()?;
        f(session, &records, &mut deployer)
    })
}

/// `env down`: stops every running revision, keeping what the environment
/// expects to run (revisions stay `ready`), so `env up` can start them again.
pub fn down(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<EnvRunReport> {
    with_deployer(
        home,
        runtime,
        env,
        "env.down",
        |session, records, deployer| {
            let mut stopped = Vec::new();
            for mut dep in records.all()? {
                if super::target::deployment_slot(&dep) == Slot::Kinetic {
                    // A Kinetic install is not a process: it stays
                    // installed, as the environment expects.
                    continue;
                }
                for r in dep.revisions.iter().filter(|r| {
                    matches!(
                        r.state,
                        RevState::Ready | RevState::Warming | RevState::Staged
                    )
                }) {
                    deployer.teardown(&rev_ref(env, &dep.name, r))?;
                    stopped.push(r.id.clone());
                }
                // What the environment expects now: these do not run.
                let down: Vec<String> = dep
                    .revisions
                    .iter()
                    .filter(|r| stopped.contains(&r.id) && !dep.stopped.contains(&r.id))
                    .map(|r| r.id.clone())
                    .collect();
                if !down.is_empty() {
                    dep.stopped.extend(down);
                    records.save(&mut dep)?;
                }
            }
            // What prepare made goes once no revision needs it.
            let target = deployer.decommission(env.as_str())?;
            target_steps_ok(env, "decommission", &target)?;
            // Nothing of this environment runs after `env down`, recorded
            // or not.
            let swept = sweep(session, &BTreeSet::new());
            journal::history(
                session.records(),
                &HistoryEntry::new(
                    "env",
                    "",
                    None,
                    format!("env down: stopped {} revision(s)", stopped.len()),
                ),
            )?;
            Ok(EnvRunReport {
                environment: env.clone(),
                revisions: stopped,
                failed: vec![],
                swept,
                target,
            })
        },
    )
}

/// Applies a ready revision's recorded plan again and warms it; returns its
/// (possibly new) endpoint, or why it could not start.
fn restart(
    records: &DeploymentRecords,
    deployer: &mut DeployerClient<'_>,
    warmup: &Warmup,
    deployment: &str,
    r: &Revision,
) -> std::result::Result<Option<String>, String> {
    let rref = rev_ref(records.name(), deployment, r);
    let (verified, _) = records
        .open_bundle(&r.bundle_id)
        .map_err(|e| e.message().to_string())?;
    let plan = r.plan.clone().ok_or("no recorded plan")?;
    let report = deployer
        .apply(&rref, &bundle_ref(&verified), &plan)
        .map_err(|e| e.message_and_hint())?;
    warmup.warm(deployer, &rref)?;
    Ok(report.endpoint)
}

/// `env up`: starts again every revision the environment expects to run
/// (`ready`), applying its recorded plan and warming it.
pub fn up(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    timeout: Option<std::time::Duration>,
) -> Result<EnvRunReport> {
    with_deployer(
        home,
        runtime,
        env,
        "env.up",
        |session, records, deployer| {
            let (mut started, mut failed) = (Vec::new(), Vec::new());
            // What the mode needs on the target comes before any revision.
            let target = deployer.prepare(env.as_str())?;
            target_steps_ok(env, "prepare", &target)?;
            let warmup = Warmup::new(timeout, session.local_runtime_dir());
            // Only the ready revisions may run once `env up` is done.
            let ready: BTreeSet<String> = records
                .all()?
                .iter()
                .flat_map(|d| d.revisions.iter())
                .filter(|r| r.state == RevState::Ready)
                .map(|r| r.id.clone())
                .collect();
            let swept = sweep(session, &ready);
            for mut dep in records.all()? {
                if super::target::deployment_slot(&dep) == Slot::Kinetic {
                    continue;
                }
                let ready: Vec<Revision> = dep
                    .revisions
                    .iter()
                    .filter(|r| r.state == RevState::Ready)
                    .cloned()
                    .collect();
                for r in ready {
                    match restart(records, deployer, &warmup, &dep.name, &r) {
                        Ok(endpoint) => {
                            // A restarted process may listen on a new port.
                            let rev = dep.revision_mut(&r.id)?;
                            rev.endpoint = endpoint;
                            rev.updated = now_rfc3339();
                            dep.stopped.remove(&r.id);
                            started.push(r.id.clone());
                        }
                        Err(why) => failed.push((r.id.clone(), why)),
                    }
                }
                reapply_traffic(deployer, env, &dep, &mut failed);
                records.save(&mut dep)?;
            }
            journal::history(
                session.records(),
                &HistoryEntry::new(
                    "env",
                    "",
                    None,
                    format!(
                        "env up: started {} revision(s), {} failed",
                        started.len(),
                        failed.len()
                    ),
                ),
            )?;
            Ok(EnvRunReport {
                environment: env.clone(),
                revisions: started,
                failed,
                swept,
                target,
            })
        },
    )
}

/// Routes a deployment's traffic as its records say, again: a target that
/// was torn down (or recreated by `env reset`) has lost its routes, and
/// re-sending the same generation is idempotent where it had not.
fn reapply_traffic(
    deployer: &mut DeployerClient<'_>,
    env: &EnvName,
    dep: &super::model::Deployment,
    failed: &mut Vec<(String, String)>,
) {
    if dep.weights.is_empty() {
        return;
    }
    let split = crate::runtime::slots::deployer::TrafficSplit {
        environment: env.as_str(),
        deployment: &dep.name,
        generation: dep.generation,
        weights: &dep.weights,
    };
    if let Err(e) = deployer.set_traffic(&split) {
        failed.push((
            format!("{} traffic", dep.name),
            format!(
                "could not route generation {} again: {}",
                dep.generation,
                e.message()
            ),
        ));
    }
}

/// `env reset`: `env down`, then `env up`: what the environment runs is
/// torn down and recreated from its records (the recorded plans, warmed,
/// and the recorded traffic split).
pub fn reset(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    timeout: Option<std::time::Duration>,
) -> Result<EnvRunReport> {
    let stopped = down(home, runtime, env)?;
    let mut report = up(home, runtime, env, timeout)?;
    report.swept.extend(stopped.swept);
    report.target = stopped.target.into_iter().chain(report.target).collect();
    Ok(report)
}

/// `env rm`: a forced removal first stops what the environment runs, so no
/// revision process outlives it; then the environment is deleted.
pub fn remove_environment(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    force: bool,
) -> Result<()> {
    if force
        && EnvRecords::new(home, name).has_deployments()
        && let Err(e) = down(home, runtime, name)
    {
        tracing::warn!("could not stop the revisions of {name} before removing it: {e}");
    }
    env::remove(home, name, force)
}
