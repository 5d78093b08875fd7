//! Plans of the deployment verbs, read from the records alone (no pack
//! runs, nothing written): what `traffic set`, `rollback`, `revisions
//! drain|archive`, `env down|up` and `env rm` would change.

use super::lifecycle::{TransitionOptions, check_transition};
use super::model::{Deployment, RevState};
use super::records::DeploymentRecords;
use super::rollback::{RollbackOptions, target_split};
use super::traffic::resolve_weights;
use crate::env::plan::Plan;
use crate::env::{EnvName, EnvRecords};
use crate::error::Result;
use crate::home::Home;
use crate::runtime::slots::deployer::Weight;

/// A split as printed: `r1=99% r2=1%`, or `-` for none.
pub fn split_text(weights: &[Weight]) -> String {
    if weights.is_empty() {
        return "-".into();
    }
    weights_text(weights)
}

/// The weights as people read them: `r1=99% r2=1%` (empty for none).
pub fn weights_text(weights: &[Weight]) -> String {
    weights
        .iter()
        .map(|w| format!("{}={}", w.revision, crate::types::percent(w.basis_points)))
        .collect::<Vec<_>>()
        .join(" ")
}

fn records(home: &Home, env: &EnvName) -> Result<EnvRecords> {
    let records = EnvRecords::new(home, env);
    records.load()?;
    Ok(records)
}

fn split_plan(verb: &str, env: &EnvName, dep: &Deployment, weights: &[Weight]) -> Plan {
    let mut sorted = weights.to_vec();
    sorted.retain(|w| w.basis_points > 0);
    sorted.sort();
    Plan::new(verb, env, &dep.name)
        .change("split", split_text(&dep.weights), split_text(&sorted))
        .change(
            "generation",
            dep.generation.to_string(),
            (dep.generation + 1).to_string(),
        )
}

/// `traffic set --dry-run`.
pub fn traffic(
    home: &Home,
    env: &EnvName,
    deployment: Option<&str>,
    entries: &[String],
) -> Result<Plan> {
    let records = records(home, env)?;
    let dep = DeploymentRecords::new(&records).find(deployment)?;
    let weights = resolve_weights(env, &dep, entries)?;
    Ok(split_plan("traffic.set", env, &dep, &weights))
}

/// `rollback --dry-run`.
pub fn rollback(home: &Home, env: &EnvName, opts: &RollbackOptions<'_>) -> Result<Plan> {
    let records = records(home, env)?;
    let dep = DeploymentRecords::new(&records).find(opts.deployment)?;
    let (weights, restored) = target_split(&dep, opts, env)?;
    let mut plan = split_plan("rollback", env, &dep, &weights);
    if restored > 0 {
        plan = plan.change("restores generation", "-", restored.to_string());
    }
    for w in &weights {
        let state = dep.revision(env, &w.revision)?.state;
        if state != RevState::Ready {
            plan = plan.change(
                format!("revision {}", w.revision),
                state.to_string(),
                "ready (warmed again)",
            );
        }
    }
    Ok(plan)
}

/// `revisions drain|archive --dry-run`.
pub fn transition(home: &Home, env: &EnvName, opts: &TransitionOptions<'_>) -> Result<Plan> {
    let records = records(home, env)?;
    let dep = DeploymentRecords::new(&records).find(opts.deployment)?;
    let rev = dep.revision(env, opts.revision)?;
    let path = check_transition(env, &dep, rev, opts.to)?;
    let verb = if opts.to == RevState::Archived {
        "revision.archive"
    } else {
        "revision.drain"
    };
    let after = path
        .last()
        .map_or(rev.state.to_string(), ToString::to_string);
    Ok(Plan::new(verb, env, format!("{} {}", dep.name, rev.id))
        .change(format!("revision {}", rev.id), rev.state.to_string(), after)
        .change("process", "running or not", "torn down"))
}

/// `env down --dry-run`: the revisions that would be stopped.
pub fn down(home: &Home, env: &EnvName) -> Result<Plan> {
    let records = records(home, env)?;
    let mut plan = Plan::new("env.down", env, env.to_string());
    for dep in DeploymentRecords::new(&records).all()? {
        for r in dep.revisions.iter().filter(|r| {
            matches!(
                r.state,
                RevState::Ready | RevState::Warming | RevState::Staged
            )
        }) {
            plan = plan.change(
                format!("{} {}", dep.name, r.id),
                format!("{} (running)", r.state),
                format!("{} (stopped)", r.state),
            );
        }
    }
    Ok(plan)
}

/// `env up --dry-run`: the ready revisions that would be started.
pub fn up(home: &Home, env: &EnvName) -> Result<Plan> {
    let records = records(home, env)?;
    let mut plan = Plan::new("env.up", env, env.to_string());
    for dep in DeploymentRecords::new(&records).all()? {
        for r in dep.revisions.iter().filter(|r| r.state == RevState::Ready) {
            let before = if dep.stopped.contains(&r.id) {
                "stopped"
            } else {
                "expected running"
            };
            plan = plan.change(format!("{} {}", dep.name, r.id), before, "started");
        }
    }
    Ok(plan)
}

/// `env rm --dry-run`: everything that would go.
pub fn remove_environment(home: &Home, env: &EnvName, force: bool) -> Result<Plan> {
    let records = records(home, env)?;
    crate::env::check_removable(home, &records, force)?;
    let mut plan = Plan::new("env.rm", env, env.to_string());
    let deployments = DeploymentRecords::new(&records).all()?;
    if force {
        for dep in &deployments {
            let running = dep
                .revisions
                .iter()
                .filter(|r| r.state == RevState::Ready)
                .count();
            plan = plan.change(
                format!("deployment {}", dep.name),
                format!("{} revision(s), {running} ready", dep.revisions.len()),
                "stopped and removed",
            );
        }
    }
    Ok(plan.change(format!("environment {env}"), "exists", "removed"))
}
