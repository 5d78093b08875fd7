//! `status`: the overview operators ask for first. Per environment, in
//! ladder order, and per deployment: each live revision's version, traffic,
//! recorded lifecycle, observed state, fresh health, endpoint and age, and
//! the deployment's drift state.

use std::collections::BTreeMap;

use envpack_descriptor::Slot;
use serde::Serialize;

use super::drift::{DriftState, state_of};
use super::model::Observation;
use super::observe::observe_in;
use super::store;
use crate::deploy::DeploymentRecords;
use crate::deploy::model::RevState;
use crate::deploy::records::rev_ref;
use crate::env::{self, EnvName, Session};
use crate::error::Result;
use crate::home::Home;
use crate::runtime::Runtime;

/// One revision in the overview.
#[derive(Clone, Debug, Serialize)]
pub struct RevisionStatus {
    /// Revision id.
    pub revision: String,
    /// Bundle version.
    pub version: String,
    /// The bundle it runs (its id).
    pub bundle: envpack_manifest::Digest,
    /// Recorded lifecycle.
    pub lifecycle: RevState,
    /// Basis points it receives.
    pub basis_points: u32,
    /// What the observation found (`running`, `exited`, `not observed`).
    pub observed: String,
    /// A fresh health check, for revisions expected to run.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<String>,
    /// Where it answers.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// When it was created.
    pub created: String,
}

/// One deployment in the overview.
#[derive(Clone, Debug, Serialize)]
pub struct DeploymentStatus {
    /// Environment.
    pub environment: EnvName,
    /// Deployment.
    pub deployment: String,
    /// Traffic generation.
    pub generation: u64,
    /// Drift state of this deployment in the fresh observation.
    pub drift: DriftState,
    /// Revisions that are not archived or failed.
    pub revisions: Vec<RevisionStatus>,
}

/// Environments in ladder order: every rung after the one it follows, ties
/// by name.
pub fn ladder_order(home: &Home) -> Result<Vec<EnvName>> {
    let all = env::list(home)?;
    let after: BTreeMap<EnvName, Option<EnvName>> = all
        .iter()
        .map(|v| (v.name.clone(), v.meta.policy.after.clone()))
        .collect();
    let depth = |name: &EnvName| {
        let (mut d, mut at) = (0, after.get(name).cloned().flatten());
        while let Some(prev) = at {
            d += 1;
            if d > 64 {
                break;
            }
            at = after.get(&prev).cloned().flatten();
        }
        d
    };
    let mut names: Vec<EnvName> = after.keys().cloned().collect();
    names.sort_by_key(|n| (depth(n), n.clone()));
    Ok(names)
}

/// `status --env E`: observes, checks health, and reports each deployment.
pub fn status(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<Vec<DeploymentStatus>> {
    Session::scoped(home, runtime, env, status_in)
}

fn status_in(session: &Session<'_>) -> Result<Vec<DeploymentStatus>> {
    let outcome = observe_in(session)?;
    status_with(session, &outcome)
}

/// Each deployment's status, from an observation already made.
pub(crate) fn status_with(
    session: &Session<'_>,
    outcome: &super::ObserveOutcome,
) -> Result<Vec<DeploymentStatus>> {
    let env = session.name();
    let observed = outcome.observation.states();
    let accepted = store::acceptances(session.records())?;
    let records = DeploymentRecords::new(session.records());
    let mut instance = session.instance(Slot::Deployer)?;
    let mut deployer = instance.deployer()?;
    let mut out = Vec::new();
    for dep in records.all()? {
        let entries: Vec<_> = outcome
            .drift
            .iter()
            .filter(|d| d.deployment == dep.name)
            .cloned()
            .collect();
        let drift = match &outcome.observation {
            Observation::Unobservable { .. } => state_of(None, &accepted),
            Observation::Observed { .. } => state_of(Some(&entries), &accepted),
        };
        let mut revisions = Vec::new();
        for r in dep
            .revisions
            .iter()
            .filter(|r| !matches!(r.state, RevState::Archived | RevState::Failed))
        {
            let kinetic = super::kinetic::is_kinetic(&dep);
            let expected = matches!(r.state, RevState::Ready | RevState::Warming)
                && !dep.stopped.contains(&r.id)
                && (!kinetic || super::kinetic::expected_running(&dep, r));
            let health = expected.then(|| {
                if kinetic {
                    // Installed at the planned version is the only health
                    // a Kinetic solution has; the observation just said.
                    return match observed.get(r.id.as_str()) {
                        Some(s) if *s == "running" => "healthy".to_string(),
                        Some(s) => format!("unhealthy: {s}"),
                        None => "unknown: not observed".to_string(),
                    };
                }
                match deployer.health(&rev_ref(env, &dep.name, r)) {
                    Ok(h) => format!("{:?}", h.status).to_lowercase(),
                    Err(e) => format!("unknown: {}", e.message()),
                }
            });
            revisions.push(RevisionStatus {
                revision: r.id.clone(),
                version: r.version.clone(),
                bundle: r.bundle_id,
                lifecycle: r.state,
                basis_points: dep.weight_of(&r.id),
                observed: match &outcome.observation {
                    Observation::Unobservable { .. } => "unobservable".into(),
                    Observation::Observed { .. } => observed
                        .get(r.id.as_str())
                        .map_or_else(|| "not observed".into(), |s| s.to_string()),
                },
                health,
                endpoint: r.endpoint.clone(),
                created: r.created.clone(),
            });
        }
        out.push(DeploymentStatus {
            environment: env.clone(),
            deployment: dep.name.clone(),
            generation: dep.generation,
            drift,
            revisions,
        });
    }
    Ok(out)
}
