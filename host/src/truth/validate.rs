//! `env validate`: one command that says whether an environment is ready,
//! failing closed (seed 003's "one command to validate readiness"). The
//! checks are the same in every mode; what a target adds (its API server,
//! namespace, permissions, routes) comes from the deployer pack's own
//! `validate`. Every failing check names the command that fixes it.

use envpack_descriptor::Slot;
use envpack_manifest::Capability;
use serde::Serialize;

use super::model::Observation;
use super::observe::observe_in;
use super::status::{DeploymentStatus, status_with};
use crate::env::{EnvName, Mode, Session};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::runtime::Runtime;

/// One check and its outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Check {
    /// Stable name: `mode`, `secret:NAME`, `readiness:DEPLOYMENT/REVISION`,
    /// or the target's own (`target:...`).
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was found.
    pub detail: String,
    /// The command or step that fixes a failing check.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

impl Check {
    fn pass(name: impl Into<String>, detail: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: true,
            detail: detail.into(),
            fix: None,
        }
    }

    fn fail(name: impl Into<String>, detail: impl Into<String>, fix: impl Into<String>) -> Self {
        Check {
            name: name.into(),
            ok: false,
            detail: detail.into(),
            fix: Some(fix.into()),
        }
    }
}

/// What `env validate` found.
#[derive(Clone, Debug, Serialize)]
pub struct ValidateReport {
    /// Environment.
    pub environment: EnvName,
    /// Its mode.
    pub mode: Mode,
    /// The target its deployer reports (`-` when none is bound).
    pub target: String,
    /// Every check, in the order run.
    pub checks: Vec<Check>,
}

impl ValidateReport {
    /// The failing checks.
    pub fn failures(&self) -> impl Iterator<Item = &Check> {
        self.checks.iter().filter(|c| !c.ok)
    }

    /// `Err(checks-failed)` naming the first failure's fix when any check
    /// failed.
    pub fn check(&self) -> Result<()> {
        let failed: Vec<&Check> = self.failures().collect();
        let Some(first) = failed.first() else {
            return Ok(());
        };
        let mut e = Error::new(
            Kind::ChecksFailed,
            format!(
                "environment {} is not ready: {} of {} check(s) failed ({})",
                self.environment,
                failed.len(),
                self.checks.len(),
                failed
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        );
        if let Some(fix) = &first.fix {
            e = e.hint(fix.clone());
        }
        Err(e.with_details(serde_json::to_value(self).unwrap_or_default()))
    }
}

/// `env validate E`.
pub fn validate(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<ValidateReport> {
    Session::scoped(home, runtime, env, validate_in)
}

fn validate_in(session: &Session<'_>) -> Result<ValidateReport> {
    let env = session.name().clone();
    let mode = session.meta().mode.clone();
    let mut checks = Vec::new();
    let Some(binding) = session.lock().slots.get(&Slot::Deployer) else {
        let fix = mode.known().map_or_else(
            || format!("envpack env bind {env} deployer <DEPLOYER> --grant-requested"),
            |k| {
                format!(
                    "envpack env bind {env} deployer {} --grant-requested",
                    k.deployer
                )
            },
        );
        checks.push(Check::fail(
            "mode",
            format!("mode {mode} needs a deployer, and the deployer slot is empty"),
            fix,
        ));
        return Ok(ValidateReport {
            environment: env,
            mode,
            target: "-".into(),
            checks,
        });
    };
    let descriptor = binding.descriptor.to_string();
    // The deployer's instance is released before the observation below
    // takes its own.
    let info = {
        let mut instance = session.instance(Slot::Deployer)?;
        let mut deployer = instance.deployer()?;
        let info = deployer.describe()?;
        checks.push(mode_check(&env, &mode, &info.target, &descriptor));
        for c in deployer.validate(env.as_str())? {
            checks.push(Check {
                name: format!("target:{}", c.name),
                ok: c.ok,
                detail: c.detail,
                fix: c.fix,
            });
        }
        info
    };
    checks.extend(secret_checks(session)?);
    let observed = observe_in(session)?;
    checks.push(observation_check(&env, &observed.observation));
    checks.extend(readiness_checks(&env, &status_with(session, &observed)?));
    Ok(ValidateReport {
        environment: env,
        mode,
        target: info.target,
        checks,
    })
}

fn mode_check(env: &EnvName, mode: &Mode, target: &str, descriptor: &str) -> Check {
    if mode.served_by(target) {
        return Check::pass(
            "mode",
            format!("mode {mode} is served by {descriptor} (target {target})"),
        );
    }
    let bind = match mode.known() {
        Some(k) => format!(
            "envpack env bind {env} deployer {} --grant-requested",
            k.deployer
        ),
        None => format!("envpack env bind {env} deployer <DEPLOYER FOR {mode}> --grant-requested"),
    };
    // Or the other way round: the mode its deployer does serve.
    let fix = match crate::env::mode::KNOWN.iter().find(|k| k.target == target) {
        Some(k) => format!("envpack env mode {env} {}   (or: {bind})", k.name),
        None => bind,
    };
    Check::fail(
        "mode",
        format!(
            "mode {mode} expects a {} deployer, but {descriptor} deploys to {target}",
            mode.target()
        ),
        fix,
    )
}

/// Every secret a bound pack was granted (to read, or to have attached to
/// its requests) must exist: a pack that is given a secret needs it.
fn secret_checks(session: &Session<'_>) -> Result<Vec<Check>> {
    let env = session.name();
    let mut wanted: Vec<(String, Slot)> = Vec::new();
    // Command-only packs too: a granted credential they attach must exist.
    for (seat, b) in session.lock().bindings() {
        for cap in b.grants.iter() {
            if let Capability::Secret(n) | Capability::Credential(n) = cap
                && n != "*"
                && !wanted.iter().any(|(w, _)| w == n)
            {
                wanted.push((n.clone(), seat.slot()));
            }
        }
    }
    if wanted.is_empty() {
        return Ok(Vec::new());
    }
    let present = session.with_secrets(false, |i| i.secrets()?.list())?;
    Ok(wanted
        .into_iter()
        .map(|(name, slot)| {
            let check = format!("secret:{name}");
            if present.contains(&name) {
                Check::pass(check, format!("set, for the {slot} pack"))
            } else {
                Check::fail(
                    check,
                    format!("the {slot} pack is granted secret {name}, which is not set"),
                    format!("envpack secrets put --env {env} {name}"),
                )
            }
        })
        .collect())
}

/// Every revision that carries traffic must be healthy right now.
fn readiness_checks(env: &EnvName, deployments: &[DeploymentStatus]) -> Vec<Check> {
    let mut checks = Vec::new();
    for d in deployments {
        for r in d.revisions.iter().filter(|r| r.basis_points > 0) {
            let name = format!("readiness:{}/{}", d.deployment, r.revision);
            let health = r.health.clone().unwrap_or_else(|| "not running".into());
            let share = crate::types::percent(r.basis_points);
            if health == "healthy" {
                checks.push(Check::pass(name, format!("healthy, carrying {share}")));
            } else {
                checks.push(Check::fail(
                    name,
                    format!("carries {share} but is {health} (observed {})", r.observed),
                    format!(
                        "envpack env up {env}   (then: envpack logs --env {env} {})",
                        r.revision
                    ),
                ));
            }
        }
    }
    checks
}

/// The deployer can say what runs: an environment that cannot be observed
/// cannot be shown to be ready.
fn observation_check(env: &EnvName, observation: &Observation) -> Check {
    match observation {
        Observation::Observed { revisions } => Check::pass(
            "observe",
            format!("the deployer reports {} revision(s)", revisions.len()),
        ),
        Observation::Unobservable { reason } => Check::fail(
            "observe",
            format!("the deployer cannot say what runs: {reason}"),
            format!("envpack env doctor {env}"),
        ),
    }
}
