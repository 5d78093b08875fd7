//! Reality for the release gate: the previous rung observed now, and a
//! preview of each promotion a ladder offers (what the gate would decide,
//! read with a dry run that records nothing).

use serde::Serialize;

use super::model::Observation;
use crate::deploy::gate::{GateCheck, SourceObservation};
use crate::deploy::model::RevState;
use crate::deploy::{self, DeploymentRecords};
use crate::env::{EnvName, EnvRecords};
use crate::error::Result;
use crate::home::Home;
use crate::runtime::Runtime;

/// The previous rung observed now, for the release gate: what runs there
/// and the drift nobody accepted. A dry run observes without keeping the
/// snapshot: it changes nothing.
pub fn source_observation(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    dry_run: bool,
) -> Result<SourceObservation> {
    let out = if dry_run {
        super::observe_unrecorded(home, runtime, env)?
    } else {
        super::observe(home, runtime, env)?
    };
    let accepted = super::store::acceptances(&EnvRecords::new(home, env))?;
    let unobservable = match &out.observation {
        Observation::Unobservable { reason } => Some(reason.clone()),
        Observation::Observed { .. } => None,
    };
    Ok(SourceObservation {
        snapshot: out.snapshot.to_string(),
        unobservable,
        states: out
            .observation
            .states()
            .into_iter()
            .map(|(r, s)| (r.to_string(), s.to_string()))
            .collect(),
        unaccepted_drift: out
            .drift
            .iter()
            .filter(|d| !super::drift::is_accepted(d, &accepted))
            .map(|d| format!("{} {} {}", d.id, d.revision, d.field))
            .collect(),
    })
}

/// One step of a ladder: promoting what serves a deployment in one rung
/// into the next.
#[derive(Clone, Debug, Serialize)]
pub struct PromotionPreview {
    /// The rung it comes from.
    pub from: EnvName,
    /// The rung it goes to.
    pub to: EnvName,
    /// The deployment.
    pub deployment: String,
    /// The bundle serving most traffic in `from`.
    pub bundle: String,
    /// Its version.
    pub version: String,
    /// `promoted` (the target already has it; `next` names the traffic
    /// change when it serves nothing there yet), `ready` (the gate and
    /// policy allow it now), `blocked` (something still refuses it).
    pub state: &'static str,
    /// The gate's checks, when it was evaluated.
    pub checks: Vec<GateCheck>,
    /// What still refuses it, when blocked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refusal: Option<String>,
    /// How to get past the refusal, or the command that promotes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Every promotion `to` could take from its previous rung now, one per
/// deployment serving there: a dry run of `envpack promote`.
pub fn previews(home: &Home, runtime: &Runtime, to: &EnvName) -> Result<Vec<PromotionPreview>> {
    let target = EnvRecords::new(home, to);
    let (meta, _) = target.load()?;
    let Some(from) = meta.policy.after.clone() else {
        return Ok(Vec::new());
    };
    let source = DeploymentRecords::new(&EnvRecords::new(home, &from));
    let target = DeploymentRecords::new(&target);
    let mut out = Vec::new();
    for dep in source.all()? {
        // What serves most in the source rung is what would go next.
        let Some(w) = dep.weights.iter().max_by_key(|w| w.basis_points) else {
            continue;
        };
        let Some(rev) = dep.revisions.iter().find(|r| r.id == w.revision) else {
            continue;
        };
        if rev.state != RevState::Ready {
            continue;
        }
        let mut p = PromotionPreview {
            from: from.clone(),
            to: to.clone(),
            deployment: dep.name.clone(),
            bundle: rev.bundle_id.to_string(),
            version: rev.version.clone(),
            state: "promoted",
            checks: Vec::new(),
            refusal: None,
            next: None,
        };
        let there = target.load(&dep.name)?;
        let landed = there.as_ref().and_then(|t| {
            t.revisions
                .iter()
                .filter(|r| r.bundle_id == rev.bundle_id)
                .find(|r| !matches!(r.state, RevState::Archived | RevState::Failed))
                .map(|r| (r.id.clone(), t.weight_of(&r.id) > 0))
        });
        match landed {
            Some((_, true)) => {}
            // Promoted, not routed to yet: the next step is traffic.
            Some((id, false)) => {
                p.next = Some(format!(
                    "envpack traffic set --env {to} {} {id}=100%",
                    dep.name
                ));
            }
            None => preview(home, runtime, &mut p),
        }
        out.push(p);
    }
    Ok(out)
}

/// Fills a preview from a dry run of the promotion.
fn preview(home: &Home, runtime: &Runtime, p: &mut PromotionPreview) {
    let observe = |env: &EnvName| source_observation(home, runtime, env, true);
    let opts = deploy::PromoteOptions {
        bundle_id: &p.bundle,
        to: &p.to,
        timeout: None,
        dry_run: true,
        observe: &observe,
    };
    match deploy::promote(home, runtime, &opts) {
        Ok((report, _)) => {
            p.state = "ready";
            p.checks = report.gate.map(|g| g.checks).unwrap_or_default();
            p.next = Some(format!("envpack promote {} --to {}", p.bundle, p.to));
        }
        Err(e) => {
            p.state = "blocked";
            // A gate refusal carries its report: every check, passed or not.
            if let Some(checks) = e
                .details()
                .and_then(|d| d.get("gate"))
                .and_then(|g| g.get("checks"))
                .and_then(|c| serde_json::from_value(c.clone()).ok())
            {
                p.checks = checks;
            }
            p.refusal = Some(e.message().to_string());
            p.next = e.hint_text().map(str::to_string);
        }
    }
}
