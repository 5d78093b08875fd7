//! The Kinetic target: the lifecycle verbs on an environment's `kinetic`
//! slot, for bundles that are Kinetic solution releases.
//!
//! | verb | on the kinetic pack |
//! |---|---|
//! | plan | `plan-install` of the bundle's package; the install plan travels in the recorded plan |
//! | apply | `install` of exactly that plan; layer conflicts resolved by the environment's policy ([`conflicts`]) |
//! | health | `inventory` of installed solutions: healthy when the solution runs the planned version |
//! | set-traffic | 100% to one revision: reinstalls its package when another version is installed (rollback) |
//! | teardown | nothing: an install stays until another install replaces it |
//!
//! No Kinetic REST knowledge lives here: only the `kinetic` interface.

mod conflicts;
pub(crate) mod release;

use std::collections::HashMap;

use envpack_manifest::Digest;

use super::records::DeploymentRecords;
use super::target::{KINETIC_BASELINE, KINETIC_PACKAGE, Target};
use crate::env::{LayerConflicts, Session};
use crate::error::{Error, Result};
use crate::runtime::slots::deployer::{
    ApplyReport, BundleRef, Change, Health, HealthStatus, Plan, PlanStep, RevisionRef, StepResult,
    TrafficReport, TrafficSplit,
};
use crate::runtime::slots::kinetic::{InstallOptions, InstallPlan, ItemKind, KineticClient};

/// The plan step attribute carrying the Kinetic install plan, as JSON.
const INSTALL_PLAN: &str = "kinetic.install-plan";

/// The lifecycle verbs on a kinetic pack.
pub(crate) struct KineticTarget<'c, 's, 'r> {
    client: KineticClient<'c>,
    session: &'s Session<'r>,
    records: &'s DeploymentRecords,
    /// The bundle being deployed (id, bytes), before the environment
    /// stores it.
    pending: Option<(&'s Digest, &'s [u8])>,
    /// Install plans seen in this call, by revision id.
    plans: HashMap<String, InstallPlan>,
}

impl<'c, 's, 'r> KineticTarget<'c, 's, 'r> {
    pub(crate) fn new(
        client: KineticClient<'c>,
        session: &'s Session<'r>,
        records: &'s DeploymentRecords,
        pending: Option<(&'s Digest, &'s [u8])>,
    ) -> Self {
        Self {
            client,
            session,
            records,
            pending,
            plans: HashMap::new(),
        }
    }

    fn policy(&self) -> LayerConflicts {
        self.session.meta().policy.layer_conflicts
    }

    /// The bundle's bytes: the pending one, or the environment's copy.
    fn bundle_bytes(&self, id: &str) -> Result<Vec<u8>> {
        let digest: Digest = id
            .parse()
            .map_err(|_| Error::internal(format!("bundle id {id:?} is not a digest")))?;
        match self.pending {
            Some((pending, bytes)) if *pending == digest => Ok(bytes.to_vec()),
            _ => self.records.bundle(&digest),
        }
    }

    /// The package a Kinetic bundle carries: its file name and bytes.
    fn package(&self, bundle: &BundleRef) -> Result<(String, Vec<u8>)> {
        let path = bundle
            .attributes
            .iter()
            .find(|(k, _)| k == KINETIC_PACKAGE)
            .map(|(_, v)| v.clone())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "bundle {} is not a Kinetic solution release (no {KINETIC_PACKAGE} attribute)",
                    bundle.id
                ))
            })?;
        let bytes = self.bundle_bytes(&bundle.id)?;
        let content = payload_file(&bytes, &bundle.id, &path)?;
        let file_name = path.rsplit('/').next().unwrap_or(&path).to_string();
        Ok((file_name, content))
    }

    /// The install plan of a revision: from this call, else from its
    /// recorded plan.
    fn install_plan(&mut self, revision: &str) -> Result<InstallPlan> {
        if let Some(p) = self.plans.get(revision) {
            return Ok(p.clone());
        }
        let (_, rev) = self.records.find_revision(revision)?;
        let plan = rev
            .plan
            .ok_or_else(|| Error::internal(format!("revision {revision} has no recorded plan")))?;
        let p = install_plan_of(&plan)?;
        self.plans.insert(revision.to_string(), p.clone());
        Ok(p)
    }

    /// The version of `solution` installed now, if any.
    fn installed_version(&mut self, solution: &str) -> Result<Option<String>> {
        Ok(self
            .client
            .inventory(&[ItemKind::InstalledSolution])?
            .into_iter()
            .find(|i| i.kind == ItemKind::InstalledSolution && i.id == solution)
            .and_then(|i| i.version))
    }

    /// Keeps the whole inventory as it is now, after a change the host
    /// made, as an artifact: what observation expects from here on, so a
    /// change made outside envpack shows as drift.
    fn baseline(&mut self) -> Result<Digest> {
        let items = self.client.inventory(&[])?;
        let map = crate::runtime::slots::kinetic::inventory_map(&items);
        let json = serde_json::to_vec(&map)
            .map_err(|e| Error::internal(format!("cannot encode the inventory: {e}")))?;
        self.records.store_artifact(&json)
    }

    /// Installs `plan` with `content` under the environment's conflict
    /// policy; the steps it took.
    fn install(
        &mut self,
        plan: &InstallPlan,
        content: &[u8],
        what: &str,
    ) -> Result<Vec<StepResult>> {
        let policy = self.policy();
        conflicts::install(
            &mut self.client,
            self.records,
            self.session.name(),
            policy,
            plan,
            content,
            what,
        )
    }
}

/// Reads one payload file of a bundle.
fn payload_file(bundle: &[u8], id: &str, path: &str) -> Result<Vec<u8>> {
    let dir = tempfile::tempdir()
        .map_err(|e| Error::internal(format!("cannot make a temporary directory: {e}")))?;
    super::bundle::open_stored(bundle, id, Some(dir.path()))?;
    let file = dir.path().join(path);
    std::fs::read(&file).map_err(|e| {
        Error::invalid(format!(
            "bundle {id} names {path:?} as its Kinetic package ({KINETIC_PACKAGE}), but its payload has no such file: {e}"
        ))
        .hint("envpack bundle build DIR --attr kinetic.package=<path of the .cab inside DIR> ...")
    })
}

/// The install plan recorded in a deploy plan.
pub(crate) fn install_plan_of(plan: &Plan) -> Result<InstallPlan> {
    let json = plan
        .steps
        .iter()
        .flat_map(|s| s.attributes.iter())
        .find(|(k, _)| k == INSTALL_PLAN)
        .map(|(_, v)| v)
        .ok_or_else(|| Error::internal("the recorded plan carries no Kinetic install plan"))?;
    serde_json::from_str(json)
        .map_err(|e| Error::internal(format!("the recorded Kinetic install plan is damaged: {e}")))
}

/// Install options from the bundle's `kinetic.*` attributes.
fn options(bundle: &BundleRef) -> InstallOptions {
    let on = |key: &str| {
        bundle
            .attributes
            .iter()
            .any(|(k, v)| k == key && v == "true")
    };
    InstallOptions {
        overwrite_duplicate_files: on("kinetic.overwrite-duplicate-files"),
        overwrite_duplicate_data: on("kinetic.overwrite-duplicate-data"),
        delete_previous_install: on("kinetic.delete-previous-install"),
        override_directives: on("kinetic.override-directives"),
        only_current_company: on("kinetic.only-current-company"),
    }
}

/// The deploy plan that shows an install plan.
fn deploy_plan(p: &InstallPlan, policy: LayerConflicts) -> Result<Plan> {
    let json = serde_json::to_string(p)
        .map_err(|e| Error::internal(format!("cannot encode the install plan: {e}")))?;
    let mut steps = vec![PlanStep {
        id: "install".into(),
        change: match p.installed_version {
            None => Change::Create,
            Some(_) => Change::Update,
        },
        resource: format!("kinetic/solution/{}", p.solution),
        summary: format!(
            "install {} {} as {} (installed now: {})",
            p.file_name,
            p.package_version,
            p.destination_version,
            p.installed_version.as_deref().unwrap_or("none")
        ),
        attributes: vec![(INSTALL_PLAN.into(), json)],
    }];
    for c in &p.predicted_conflicts {
        steps.push(PlanStep {
            id: format!("layer:{}", c.layer),
            change: match policy {
                LayerConflicts::Fail => Change::NoOp,
                LayerConflicts::ExportClearAndRetryOnce => Change::Delete,
            },
            resource: format!("kinetic/layer/{}", c.layer),
            summary: match policy {
                LayerConflicts::Fail => {
                    format!("may conflict: {}; the policy `fail` stops the install", c.layer)
                }
                LayerConflicts::ExportClearAndRetryOnce => format!(
                    "may conflict: {}; if it does, it is exported, kept, cleared and the install retried once",
                    c.layer
                ),
            },
            attributes: vec![],
        });
    }
    Ok(Plan {
        summary: p.summary.clone(),
        steps,
    })
}

impl Target for KineticTarget<'_, '_, '_> {
    fn plan(&mut self, revision: &RevisionRef, bundle: &BundleRef) -> Result<Plan> {
        let (file_name, content) = self.package(bundle)?;
        let p = self
            .client
            .plan_install(&file_name, &content, options(bundle))?;
        let plan = deploy_plan(&p, self.policy())?;
        self.plans.insert(revision.id.clone(), p);
        Ok(plan)
    }

    fn apply(
        &mut self,
        revision: &RevisionRef,
        bundle: &BundleRef,
        plan: &Plan,
    ) -> Result<ApplyReport> {
        let p = install_plan_of(plan)?;
        let (_, content) = self.package(bundle)?;
        self.plans.insert(revision.id.clone(), p.clone());
        let steps = self.install(&p, &content, &revision.id)?;
        let baseline = self.baseline()?;
        Ok(ApplyReport {
            steps,
            endpoint: None,
            attributes: vec![
                (release::KINETIC_SOLUTION.into(), p.solution),
                (KINETIC_BASELINE.into(), baseline.to_string()),
            ],
        })
    }

    fn health(&mut self, revision: &RevisionRef) -> Result<Health> {
        let p = self.install_plan(&revision.id)?;
        let installed = self.installed_version(&p.solution)?;
        let (status, message) = match &installed {
            Some(v) if *v == p.destination_version => (
                HealthStatus::Healthy,
                format!("{} {v} is installed", p.solution),
            ),
            Some(v) => (
                HealthStatus::Unhealthy,
                format!(
                    "{} {v} is installed, not {}",
                    p.solution, p.destination_version
                ),
            ),
            None => (
                HealthStatus::Unhealthy,
                format!("{} is not installed", p.solution),
            ),
        };
        Ok(Health {
            status,
            message,
            attributes: vec![],
        })
    }

    fn set_traffic(&mut self, split: &TrafficSplit<'_>) -> Result<TrafficReport> {
        let [only] = split.weights else {
            return Err(Error::invalid(format!(
                "a Kinetic company runs one version of a solution at a time; route 100% of {} to one revision",
                split.deployment
            )));
        };
        let p = self.install_plan(&only.revision)?;
        if self.installed_version(&p.solution)?.as_deref() == Some(&p.destination_version) {
            return Ok(TrafficReport {
                generation: split.generation,
                applied: split.weights.to_vec(),
                message: format!("{} {} is installed", p.solution, p.destination_version),
            });
        }
        // Another version runs (a rollback, or a change made outside
        // envpack): install this revision's package again, planned afresh
        // against what the company has now.
        let (_, rev) = self.records.find_revision(&only.revision)?;
        let bytes = self.records.bundle(&rev.bundle_id)?;
        let (verified, _) = self.records.open_bundle(&rev.bundle_id)?;
        let bref = super::records::bundle_ref(&verified);
        let path = rev
            .attributes
            .get(KINETIC_PACKAGE)
            .cloned()
            .unwrap_or_default();
        let content = payload_file(&bytes, &rev.bundle_id.to_string(), &path)?;
        let fresh = self
            .client
            .plan_install(&p.file_name, &content, options(&bref))?;
        self.install(&fresh, &content, &only.revision)?;
        Ok(TrafficReport {
            generation: split.generation,
            applied: split.weights.to_vec(),
            message: format!(
                "reinstalled {} {} from revision {}",
                fresh.solution, fresh.destination_version, only.revision
            ),
        })
    }

    fn teardown(&mut self, _revision: &RevisionRef) -> Result<()> {
        Ok(())
    }

    fn live_on_apply(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::slots::kinetic::{ConflictForm, LayerConflict, LayerRef};

    fn plan(installed: Option<&str>) -> InstallPlan {
        InstallPlan {
            solution: "Sol".into(),
            file_name: "Sol.cab".into(),
            package_digest: "sha256:00".into(),
            package_version: "1.1.0".into(),
            destination_version: "1.1.0".into(),
            installed_version: installed.map(str::to_string),
            min_app_version: None,
            source_company: "EPIC03".into(),
            options: InstallOptions::default(),
            settings: "{\"MainInstallSettings\":[]}".into(),
            predicted_conflicts: vec![LayerConflict {
                layer: LayerRef {
                    app_id: "Erp.UI.PartEntry".into(),
                    layer_name: "Shop".into(),
                    type_code: "KNTCCustLayer".into(),
                    company: Some("T_X".into()),
                    device_type: None,
                    cgc_code: None,
                },
                form: ConflictForm::AppLayers,
                message: String::new(),
            }],
            summary: "install Sol".into(),
            attributes: vec![],
        }
    }

    /// The recorded deploy plan carries the install plan unchanged, so a
    /// later apply (or rollback) installs exactly what was shown.
    #[test]
    fn the_install_plan_travels_in_the_recorded_plan() {
        let p = plan(Some("1.0.0"));
        let shown = deploy_plan(&p, LayerConflicts::Fail).expect("plan");
        assert_eq!(shown.steps[0].change, Change::Update);
        assert_eq!(install_plan_of(&shown).expect("read back"), p);
        assert_eq!(
            deploy_plan(&plan(None), LayerConflicts::Fail)
                .expect("plan")
                .steps[0]
                .change,
            Change::Create
        );
    }

    /// Predicted conflicts are shown as what the policy will do to them.
    #[test]
    fn predicted_conflicts_show_the_policy() {
        let p = plan(None);
        let fail = deploy_plan(&p, LayerConflicts::Fail).expect("plan");
        assert_eq!(fail.steps[1].change, Change::NoOp);
        assert!(fail.steps[1].summary.contains("stops the install"));
        let clear = deploy_plan(&p, LayerConflicts::ExportClearAndRetryOnce).expect("plan");
        assert_eq!(clear.steps[1].change, Change::Delete);
        assert!(clear.steps[1].summary.contains("exported, kept, cleared"));
    }

    #[test]
    fn a_plan_without_an_install_plan_is_refused() {
        let bare = Plan {
            summary: String::new(),
            steps: vec![],
        };
        assert!(install_plan_of(&bare).is_err());
    }
}
