//! `observe`: ask the environment's deployer what really runs, normalise
//! it, compare it with what the environment expects, and keep both as a
//! snapshot.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use envpack_descriptor::Slot;
use envpack_manifest::Digest;
use serde::Serialize;

use super::drift::{DriftState, compare, state_of};
use super::model::{
    DriftEntry, Expectation, ExpectedRevision, Observation, ObservedRevision, Observer, Snapshot,
};
use super::store;
use crate::deploy::DeploymentRecords;
use crate::deploy::model::RevState;
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::runtime::slots::deployer::Observed;
use crate::store::now_rfc3339;

/// What one observation found.
#[derive(Clone, Debug, Serialize)]
pub struct ObserveOutcome {
    /// The environment.
    pub environment: EnvName,
    /// The snapshot it is kept as.
    pub snapshot: Digest,
    /// When.
    pub at: String,
    /// Whether this content had been seen before (the same snapshot).
    pub seen_before: bool,
    /// The drift state.
    pub state: DriftState,
    /// Every difference (none when unobservable).
    pub drift: Vec<DriftEntry>,
    /// What was observed.
    pub observation: Observation,
}

/// What the environment expects now, from its deployment records and the
/// bundles it stored (the intent behind each revision).
pub fn expectation(session: &Session<'_>, records: &DeploymentRecords) -> Result<Expectation> {
    let mut out = Expectation {
        lock_generation: session.lock().generation,
        ..Expectation::default()
    };
    let mut files: BTreeMap<Digest, Result<BTreeMap<String, String>>> = BTreeMap::new();
    for dep in records.all()? {
        out.generations.insert(dep.name.clone(), dep.generation);
        let kinetic = super::kinetic::is_kinetic(&dep);
        for r in dep
            .revisions
            .iter()
            .filter(|r| r.state != RevState::Archived)
        {
            // A Kinetic revision's files are the inventory it left.
            let intent = if kinetic {
                &mut super::kinetic::expected_files(records, r)
            } else {
                files
                    .entry(r.bundle_id)
                    .or_insert_with(|| records.bundle_files(&r.bundle_id))
            };
            let files = match intent {
                Ok(f) => f.clone(),
                Err(e) => {
                    out.intent_problems
                        .insert(r.id.clone(), e.message().to_string());
                    BTreeMap::new()
                }
            };
            out.revisions.push(ExpectedRevision {
                deployment: dep.name.clone(),
                revision: r.id.clone(),
                lifecycle: r.state,
                basis_points: dep.weight_of(&r.id),
                running: matches!(r.state, RevState::Ready | RevState::Warming)
                    && !dep.stopped.contains(&r.id)
                    && (!kinetic || super::kinetic::expected_running(&dep, r)),
                bundle: r.bundle_id,
                version: r.version.clone(),
                endpoint: r.endpoint.clone(),
                files,
                attributes: super::model::expected_attributes(r.plan.as_ref()),
            });
        }
    }
    Ok(out)
}

pub use crate::local::payload::file_digests;

/// Normalises what the deployer reported: volatile attributes dropped,
/// deployments filled in from the expectation when the target does not
/// know them, and, for revisions this machine runs, the payload files as
/// they are on disk now.
fn normalise(
    reported: Vec<Observed>,
    expectation: &Expectation,
    local_dir: Option<&Path>,
) -> Vec<ObservedRevision> {
    let deployment_of: BTreeMap<&str, &str> = expectation
        .revisions
        .iter()
        .map(|e| (e.revision.as_str(), e.deployment.as_str()))
        .collect();
    let mut out: Vec<ObservedRevision> = reported
        .into_iter()
        .map(|o| {
            let mut attributes: BTreeMap<String, String> = o.attributes.into_iter().collect();
            let volatile: Vec<String> = attributes
                .remove("volatile")
                .map(|v| v.split(',').map(|s| s.trim().to_string()).collect())
                .unwrap_or_default();
            attributes.retain(|k, _| k != "pid" && !volatile.contains(k));
            let files = local_dir
                .map(|d| file_digests(&crate::local::Processes::new(d).payload_dir(&o.revision)))
                .unwrap_or_default();
            // This machine supervises local processes: it knows how one
            // ended better than the pack can say.
            let state = match local_dir.and_then(|d| {
                crate::local::Processes::new(d)
                    .status(&o.revision)
                    .ok()
                    .flatten()
            }) {
                Some(p) if !p.running => match p.exit_code {
                    Some(code) => format!("exited({code})"),
                    None => "exited".to_string(),
                },
                _ => o.state,
            };
            ObservedRevision {
                deployment: if o.deployment.is_empty() {
                    deployment_of
                        .get(o.revision.as_str())
                        .map_or(String::new(), |d| d.to_string())
                } else {
                    o.deployment
                },
                revision: o.revision,
                state,
                bundle: o.digest,
                endpoint: o.endpoint,
                files,
                attributes,
            }
        })
        .collect();
    if let Some(d) = local_dir {
        add_strays(&mut out, expectation, &deployment_of, d);
    }
    out.sort_by(|a, b| a.revision.cmp(&b.revision));
    out
}

/// The attribute listing a revision's processes that nothing accounts
/// for (see [`crate::local::Processes::strays`]).
pub const STRAY_PIDS: &str = "stray-pids";

/// Processes of this machine's revisions that should not be there: the
/// revision is seen `running`, with their pids in [`STRAY_PIDS`], whatever
/// the deployer said, so drift shows them.
fn add_strays(
    out: &mut Vec<ObservedRevision>,
    expectation: &Expectation,
    deployment_of: &BTreeMap<&str, &str>,
    local_dir: &Path,
) {
    let processes = crate::local::Processes::new(local_dir);
    // A revision that is not ready yet may run only while the command
    // starting it does; after a deploy killed halfway, it is a stray.
    let expected: BTreeSet<String> = expectation
        .revisions
        .iter()
        .filter(|e| match e.lifecycle {
            RevState::Ready => e.running,
            RevState::Warming | RevState::Staged => processes.still_starting(&e.revision),
            _ => false,
        })
        .map(|e| e.revision.clone())
        .collect();
    let mut by_rev: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for s in processes.strays(&expected) {
        by_rev
            .entry(s.revision)
            .or_default()
            .push(s.pid.to_string());
    }
    for (rev, pids) in by_rev {
        let i = match out.iter().position(|o| o.revision == rev) {
            Some(i) => i,
            None => {
                out.push(ObservedRevision {
                    deployment: deployment_of
                        .get(rev.as_str())
                        .map_or(String::new(), |d| d.to_string()),
                    files: file_digests(&processes.payload_dir(&rev)),
                    revision: rev,
                    state: String::new(),
                    bundle: None,
                    endpoint: None,
                    attributes: BTreeMap::new(),
                });
                out.len() - 1
            }
        };
        out[i].state = "running".into();
        out[i].attributes.insert(STRAY_PIDS.into(), pids.join(","));
    }
}

/// `observe`: one observation of `env`, kept as a snapshot.
pub fn observe(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<ObserveOutcome> {
    Session::scoped(home, runtime, env, observe_in)
}

/// One observation of `env`, not kept: for a dry run, which records
/// nothing (the session creates no /scratch either).
pub fn observe_unrecorded(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<ObserveOutcome> {
    Session::scoped_as(home, runtime, env, true, |s| observe_with(s, false))
}

/// One observation inside an open session, kept as a snapshot.
pub fn observe_in(session: &Session<'_>) -> Result<ObserveOutcome> {
    observe_with(session, true)
}

fn observe_with(session: &Session<'_>, record: bool) -> Result<ObserveOutcome> {
    let env = session.name();
    let records = DeploymentRecords::new(session.records());
    let expectation = expectation(session, &records)?;
    let binding = session.lock().slots.get(&Slot::Deployer).ok_or_else(|| {
        Error::not_found(format!("the deployer slot of {env} is not bound"))
            .hint(format!("envpack env init {env}"))
    })?;
    let observer = Observer {
        pack: binding.descriptor.to_string(),
        digest: binding.digest,
    };
    let local_dir = session.local_runtime_dir();
    let reported = session
        .instance(Slot::Deployer)
        .and_then(|mut i| i.deployer()?.observe(env.as_str()));
    // Kinetic deployments' reality comes from the kinetic pack's inventory.
    let reported = reported.and_then(|list| {
        let mut revisions = normalise(list, &expectation, local_dir.as_deref());
        revisions.extend(super::kinetic::reality(session, &records)?);
        revisions.sort_by(|a, b| a.revision.cmp(&b.revision));
        Ok(revisions)
    });
    let observation = match reported {
        Ok(revisions) => Observation::Observed { revisions },
        Err(e) => Observation::Unobservable {
            reason: e.message().to_string(),
        },
    };
    let snapshot = Snapshot {
        format: 1,
        environment: env.to_string(),
        observer,
        observation,
        expectation,
    };
    let at = now_rfc3339();
    let (id, seen_before) = if record {
        store::save(session.records(), &snapshot, &at)?
    } else {
        (
            snapshot.id(),
            store::known(session.records(), &snapshot.id())?,
        )
    };
    let drift = compare(&snapshot.expectation, &snapshot.observation);
    let accepted = store::acceptances(session.records())?;
    Ok(ObserveOutcome {
        environment: env.clone(),
        snapshot: id,
        at,
        seen_before,
        state: state_of(drift.as_deref(), &accepted),
        drift: drift.unwrap_or_default(),
        observation: snapshot.observation,
    })
}
