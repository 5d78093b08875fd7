//! Reality of an environment's Kinetic deployments, from the `kinetic`
//! pack's inventory, in the same records as every other observation, so
//! `observe`, `drift` and `history` need nothing special.
//!
//! - The revision a Kinetic deployment expects to run is the one with
//!   traffic (the installed one); older ready revisions are kept for
//!   rollback, not running.
//! - It is observed `running` when its solution is installed at the
//!   planned version, else `installed <v>` or `not installed`.
//! - Its files are the inventory items (`kinetic/<kind>/<id>` -> digest):
//!   expected, the inventory its install left (the `kinetic.baseline`
//!   artifact); observed, the inventory now. A UI edit made directly on
//!   the server (a layer changed, a UD field added) is a changed or
//!   unexpected file, and `history` shows the snapshot it first appeared
//!   in.

use std::collections::BTreeMap;

use envpack_descriptor::Slot;
use envpack_manifest::Digest;

use super::model::ObservedRevision;
use crate::deploy::DeploymentRecords;
use crate::deploy::model::{Deployment, Revision};
use crate::deploy::target::{KINETIC_BASELINE, deployment_slot};
use crate::env::Session;
use crate::error::{Error, Result};
use crate::runtime::slots::kinetic::{ItemKind, inventory_map};

/// Whether a deployment's revisions go to the kinetic slot.
pub(crate) fn is_kinetic(dep: &Deployment) -> bool {
    deployment_slot(dep) == Slot::Kinetic
}

/// Whether a Kinetic deployment expects `r` to run: it has traffic.
pub(crate) fn expected_running(dep: &Deployment, r: &Revision) -> bool {
    dep.weight_of(&r.id) > 0
}

/// The inventory a Kinetic revision's install left, as expected files.
pub(crate) fn expected_files(
    records: &DeploymentRecords,
    r: &Revision,
) -> Result<BTreeMap<String, String>> {
    let Some(id) = r.applied.get(KINETIC_BASELINE) else {
        return Ok(BTreeMap::new());
    };
    let digest: Digest = id.parse().map_err(|_| {
        Error::integrity(format!(
            "revision {} names a Kinetic baseline {id:?} that is not a digest",
            r.id
        ))
    })?;
    let bytes = records.artifact(&digest)?.ok_or_else(|| {
        Error::not_found(format!(
            "environment {} no longer holds the Kinetic baseline {digest} of revision {}",
            records.name(),
            r.id
        ))
    })?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::integrity(format!(
            "the Kinetic baseline {digest} of revision {} is damaged: {e}",
            r.id
        ))
    })
}

/// What the environment's kinetic pack says of its Kinetic deployments:
/// nothing when it has none.
pub(crate) fn reality(
    session: &Session<'_>,
    records: &DeploymentRecords,
) -> Result<Vec<ObservedRevision>> {
    let deployments: Vec<Deployment> = records
        .all()?
        .into_iter()
        .map(|d| d.into_inner())
        .filter(is_kinetic)
        .collect();
    if deployments.is_empty() {
        return Ok(Vec::new());
    }
    let mut instance = session.instance(Slot::Kinetic)?;
    let items = instance.kinetic()?.inventory(&[])?;
    let files = inventory_map(&items);
    let installed: BTreeMap<&str, Option<&str>> = items
        .iter()
        .filter(|i| i.kind == ItemKind::InstalledSolution)
        .map(|i| (i.id.as_str(), i.version.as_deref()))
        .collect();
    let mut out = Vec::new();
    for dep in &deployments {
        for r in dep.revisions.iter().filter(|r| expected_running(dep, r)) {
            let Some(plan) = &r.plan else { continue };
            let p = crate::deploy::kinetic::install_plan_of(plan)?;
            let state = match installed.get(p.solution.as_str()) {
                Some(Some(v)) if *v == p.destination_version => "running".to_string(),
                Some(Some(v)) => format!("installed {v}"),
                Some(None) => "installed".to_string(),
                None => "not installed".to_string(),
            };
            out.push(ObservedRevision {
                deployment: dep.name.clone(),
                revision: r.id.clone(),
                state,
                bundle: None,
                endpoint: None,
                files: files.clone(),
                attributes: BTreeMap::new(),
            });
        }
    }
    Ok(out)
}
