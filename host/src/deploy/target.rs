//! Where a deployment's revisions go: the seam between the lifecycle verbs
//! and the slot that carries them out.
//!
//! Every verb (deploy, promote, traffic, rollback, env down/up) speaks to a
//! [`Target`]: plan, apply, health, traffic, teardown. The environment's
//! deployer pack is one target. A bundle marked as a Kinetic solution
//! release (its manifest attribute [`KINETIC_PACKAGE`] names the package in
//! its payload) goes to the environment's `kinetic` pack instead, through
//! [`super::kinetic::KineticTarget`], which maps the same verbs onto
//! plan-install / install / inventory. The verbs keep their policy checks,
//! leases, audit and history unchanged, and never learn which target they
//! drive.

use envpack_descriptor::Slot;
use envpack_manifest::Digest;

use super::records::DeploymentRecords;
use crate::env::Session;
use crate::error::Result;
use crate::runtime::slots::deployer::{
    ApplyReport, BundleRef, DeployerClient, Health, Plan, RevisionRef, TrafficReport, TrafficSplit,
};

/// The bundle attribute that marks a Kinetic solution release: the payload
/// path of the built solution package.
pub const KINETIC_PACKAGE: &str = "kinetic.package";

/// The attribute a Kinetic revision's `applied` record carries: the
/// artifact holding the inventory its install left (item key -> digest,
/// JSON), which observation expects.
pub const KINETIC_BASELINE: &str = "kinetic.baseline";

/// What the lifecycle verbs drive.
pub(crate) trait Target {
    /// Plans a revision; no side effects.
    fn plan(&mut self, revision: &RevisionRef, bundle: &BundleRef) -> Result<Plan>;
    /// Applies exactly `plan`.
    fn apply(
        &mut self,
        revision: &RevisionRef,
        bundle: &BundleRef,
        plan: &Plan,
    ) -> Result<ApplyReport>;
    /// The revision's health.
    fn health(&mut self, revision: &RevisionRef) -> Result<Health>;
    /// Routes the deployment's traffic.
    fn set_traffic(&mut self, split: &TrafficSplit<'_>) -> Result<TrafficReport>;
    /// Stops a revision.
    fn teardown(&mut self, revision: &RevisionRef) -> Result<()>;
    /// Whether applying a revision makes it what the target runs (a target
    /// without traffic of its own, such as a Kinetic company, where an
    /// install is live at once): the host then gives each new ready
    /// revision all traffic, so its records say what really runs.
    fn live_on_apply(&self) -> bool {
        false
    }
}

impl Target for DeployerClient<'_> {
    fn plan(&mut self, revision: &RevisionRef, bundle: &BundleRef) -> Result<Plan> {
        DeployerClient::plan(self, revision, bundle)
    }

    fn apply(
        &mut self,
        revision: &RevisionRef,
        bundle: &BundleRef,
        plan: &Plan,
    ) -> Result<ApplyReport> {
        DeployerClient::apply(self, revision, bundle, plan)
    }

    fn health(&mut self, revision: &RevisionRef) -> Result<Health> {
        DeployerClient::health(self, revision)
    }

    fn set_traffic(&mut self, split: &TrafficSplit<'_>) -> Result<TrafficReport> {
        DeployerClient::set_traffic(self, split)
    }

    fn teardown(&mut self, revision: &RevisionRef) -> Result<()> {
        DeployerClient::teardown(self, revision)
    }
}

/// Which slot carries revisions with these bundle attributes.
pub(crate) fn slot_for<'a>(mut attributes: impl Iterator<Item = (&'a String, &'a String)>) -> Slot {
    if attributes.any(|(k, _)| k == KINETIC_PACKAGE) {
        Slot::Kinetic
    } else {
        Slot::Deployer
    }
}

/// Which slot carries a deployment's revisions.
pub(crate) fn deployment_slot(dep: &super::model::Deployment) -> Slot {
    if dep
        .revisions
        .iter()
        .any(|r| slot_for(r.attributes.iter()) == Slot::Kinetic)
    {
        Slot::Kinetic
    } else {
        Slot::Deployer
    }
}

/// Runs `f` with the target of `slot` in `session`. `pending` is the bundle
/// being deployed (id, bytes), before the environment stores it.
pub(crate) fn with_target<'s, T>(
    session: &'s Session<'_>,
    records: &'s DeploymentRecords,
    slot: Slot,
    pending: Option<(&'s Digest, &'s [u8])>,
    f: impl FnOnce(&mut dyn Target) -> Result<T>,
) -> Result<T> {
    if slot == Slot::Kinetic {
        let mut instance = session.instance(Slot::Kinetic).map_err(|e| {
            e.context(format!(
                "this bundle is a Kinetic solution release ({KINETIC_PACKAGE}), so environment {} needs a kinetic pack",
                session.name()
            ))
        })?;
        let client = instance.kinetic()?;
        let mut target = super::kinetic::KineticTarget::new(client, session, records, pending);
        f(&mut target)
    } else {
        let mut instance = session.instance(Slot::Deployer)?;
        let mut deployer = instance.deployer()?;
        f(&mut deployer)
    }
}
