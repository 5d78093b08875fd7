//! `greentic.deployer.local-process`: the default environment's deployer.
//!
//! It plans a revision as two steps (a working copy of the payload, then a
//! process). Starting processes needs the host `process` capability, which
//! API 0.1.0 does not define; until a host provides it, `apply` reports the
//! target as unavailable instead of pretending to run anything.

use envpack_sdk::deployer::{
    ApplyReport, Bundle, Change, HealthReport, HealthStatus, Plan, PlanStep, Revision, TargetInfo,
};
use envpack_sdk::{DeployerPack, Error};

#[derive(Default)]
struct LocalProcess;

fn unavailable() -> Error {
    Error::unavailable(
        "the local-process deployer needs the host `process` capability to start revisions, and this envpack does not provide it (API 0.1.0)",
    )
}

impl DeployerPack for LocalProcess {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: "local-process".into(),
            description: "revisions run as local processes, one port each".into(),
            // Neither until the host can start processes (see `apply`).
            supports_traffic_split: false,
            supports_observe: false,
            max_live_revisions: None,
            attributes: vec![],
        }
    }

    fn plan(&self, revision: Revision, bundle: Bundle) -> Result<Plan, Error> {
        let name = format!("{}-{}", revision.deployment, revision.id);
        Ok(Plan {
            summary: format!("run {} {} as a local process", bundle.name, bundle.version),
            steps: vec![
                PlanStep {
                    id: "payload".into(),
                    change: Change::Create,
                    resource: format!("dir/{name}"),
                    summary: format!("copy {} payload files", bundle.files.len()),
                    attributes: vec![],
                },
                PlanStep {
                    id: "process".into(),
                    change: Change::Create,
                    resource: format!("process/{name}"),
                    summary: "start the revision's process on a free port".into(),
                    attributes: vec![],
                },
            ],
        })
    }

    fn apply(&self, _revision: Revision, _bundle: Bundle, _plan: Plan) -> Result<ApplyReport, Error> {
        Err(unavailable())
    }

    fn health(&self, _revision: Revision) -> Result<HealthReport, Error> {
        Ok(HealthReport {
            status: HealthStatus::Unknown,
            message: "no process is running for this revision".into(),
            attributes: vec![],
        })
    }

    fn teardown(&self, _revision: Revision) -> Result<(), Error> {
        // Nothing can have been started, so there is nothing to stop.
        Ok(())
    }
}

envpack_sdk::export_deployer!(LocalProcess);
