//! Intent, expectation and reality, kept apart: what was built and
//! reviewed (the release bundle), what an environment claims to run (its
//! deployment records), and what its deployer observes. Observations are
//! kept as immutable snapshots; drift between the records is evidence,
//! shown and kept, never fixed behind the operator's back.

pub mod drift;
pub mod forensics;
mod kinetic;
mod local_checks;
pub mod model;
pub mod observe;
pub mod promotion;
pub mod status;
pub mod store;
pub mod validate;

pub use drift::{DriftState, compare, state_of};
pub use observe::{ObserveOutcome, observe, observe_unrecorded};
pub use status::{DeploymentStatus, ladder_order, status};
pub use validate::{Check, ValidateReport, validate};

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use serde::Serialize;

use crate::env::EnvRecords;
use crate::error::Result;

/// What the newest snapshot saw of each revision.
#[derive(Clone, Debug, Serialize)]
pub struct LastSeen {
    /// When the snapshot was last seen.
    pub at: String,
    /// Revision id -> observed state; absent revisions were not observed.
    pub states: BTreeMap<String, String>,
    /// Why the environment could not be observed, when it could not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unobservable: Option<String>,
}

impl LastSeen {
    /// How a revision looks next to its recorded lifecycle: `exited, 2m
    /// ago`, `not observed, 2m ago`, or `unobservable, 2m ago`.
    pub fn describe(&self, revision: &str) -> String {
        let age = age(&self.at);
        match (&self.unobservable, self.states.get(revision)) {
            (Some(_), _) => format!("unobservable, {age}"),
            (None, Some(state)) => format!("{state}, {age}"),
            (None, None) => format!("not observed, {age}"),
        }
    }
}

/// The newest snapshot's view of each revision, if the environment was
/// ever observed.
pub fn last_seen(env: &EnvRecords) -> Result<Option<LastSeen>> {
    let Some((sighting, snapshot)) = store::latest(env)? else {
        return Ok(None);
    };
    Ok(Some(match snapshot.observation {
        model::Observation::Observed { revisions } => LastSeen {
            at: sighting.at,
            states: revisions
                .into_iter()
                .map(|r| (r.revision, r.state))
                .collect(),
            unobservable: None,
        },
        model::Observation::Unobservable { reason } => LastSeen {
            at: sighting.at,
            states: BTreeMap::new(),
            unobservable: Some(reason),
        },
    }))
}

/// `3s ago`, `2m ago`, `5h ago`, `4d ago` for an RFC 3339 time.
pub fn age(at: &str) -> String {
    let Ok(then) = humantime::parse_rfc3339(at) else {
        return at.to_string();
    };
    let secs = SystemTime::now()
        .duration_since(then)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// `env doctor` with reality: the environment's own checks, then, when
/// its deployer loads, a fresh observation: a revision that receives
/// traffic but is not running is an error naming the fix, an environment
/// that cannot be observed a warning.
pub fn checkup(
    home: &crate::home::Home,
    runtime: &crate::runtime::Runtime,
    name: &crate::env::EnvName,
) -> Result<crate::env::DoctorReport> {
    use crate::env::DoctorFinding;
    use envpack_descriptor::Slot;

    let mut report = crate::env::doctor(home, runtime, name)?;
    let records = EnvRecords::new(home, name);
    let damaged = damaged_deployments(&records)?;
    let any_damaged = !damaged.is_empty();
    report.findings.extend(damaged);
    if any_damaged {
        // Observing reads the same records; the damage is the finding.
        return Ok(report);
    }
    let deployer_broken = report
        .findings
        .iter()
        .any(|f| f.severity == "error" && (f.slot == Some(Slot::Deployer) || f.slot.is_none()));
    let has_deployments = records.has_deployments();
    if deployer_broken || !has_deployments {
        return Ok(report);
    }
    let out = observe(home, runtime, name)?;
    if let model::Observation::Unobservable { reason } = &out.observation {
        report.findings.push(DoctorFinding {
            severity: "warning",
            slot: Some(Slot::Deployer),
            check: "reality",
            message: format!("the deployer cannot say what runs in {name}: {reason}"),
            fix: format!("envpack observe --env {name} -vv"),
        });
        return Ok(report);
    }
    let observed = out.observation.states();
    let records = crate::deploy::DeploymentRecords::new(&EnvRecords::new(home, name));
    let deployments = records.all()?;
    let serving = deployments.iter().any(|d| {
        d.revisions
            .iter()
            .any(|r| r.state == crate::deploy::model::RevState::Ready && !d.stopped.contains(&r.id))
    });
    report
        .findings
        .extend(local_checks::findings(&out, name, serving));
    for dep in deployments {
        for w in dep.weights.iter().filter(|w| w.basis_points > 0) {
            let state = observed.get(w.revision.as_str()).copied();
            if state == Some("running") {
                continue;
            }
            // An environment taken down on purpose is expected to serve
            // nothing: worth a warning, not a failure.
            let stopped = dep.stopped.contains(&w.revision);
            let fix = if stopped {
                format!("envpack env up {name}")
            } else {
                format!("envpack env down {name} && envpack env up {name}")
            };
            report.findings.push(DoctorFinding {
                severity: if stopped { "warning" } else { "error" },
                slot: Some(Slot::Deployer),
                check: "reality",
                message: format!(
                    "revision {} of {} receives {} of traffic but is not running (observed: {})",
                    w.revision,
                    dep.name,
                    crate::types::percent(w.basis_points),
                    state.unwrap_or("not found")
                ),
                fix,
            });
        }
    }
    Ok(report)
}

/// Every deployment record that does not parse (torn by a crash, edited
/// by hand), each with the command that restores its backup.
fn damaged_deployments(records: &EnvRecords) -> Result<Vec<crate::env::DoctorFinding>> {
    let name = records.name();
    let deployments = crate::deploy::DeploymentRecords::new(records);
    let mut out = Vec::new();
    for dep in records.backend().deployments(name)? {
        let Err(e) = deployments.load(&dep) else {
            continue;
        };
        let path = records
            .local_dir()
            .join(crate::backend::RecordKey::Deployment(dep.clone()).to_string());
        let backup = path.with_extension("json.bak");
        let fix = if backup.is_file() {
            format!("cp {} {}", backup.display(), path.display())
        } else {
            e.hint_text().map_or_else(
                || format!("envpack revisions list --env {name}"),
                str::to_string,
            )
        };
        out.push(crate::env::DoctorFinding {
            severity: "error",
            slot: None,
            check: "records",
            message: e.message().to_string(),
            fix,
        });
    }
    Ok(out)
}
