//! `greentic.deployer.local-process`: the default environment's deployer.
//!
//! Each revision runs as a process started by the host's `process`
//! capability from the revision's own payload directory, on a loopback port
//! the host allocates. Bundle attributes say how:
//!
//! - `run`: the program (a payload file) and arguments, split on spaces;
//!   `{port}` becomes the port (also in `PORT`). Required.
//! - `health`: the HTTP path that answers 2xx when the revision is ready
//!   (default `/`).
//! - `env.NAME`: extra environment variables.
//!
//! Traffic is split by `envpack serve`, which routes to each revision's
//! endpoint; this deployer only records the split it was given.

use envpack_sdk::deployer::{
    ApplyReport, Bundle, Change, HealthReport, HealthStatus, ObservedRevision, Plan, PlanStep,
    Revision, StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use envpack_sdk::http::Request;
use envpack_sdk::process::{self, Spec};
use envpack_sdk::{DeployerPack, Error, kv};

#[derive(Default)]
struct LocalProcess;

fn attr<'a>(b: &'a Bundle, key: &str) -> Option<&'a str> {
    b.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn argv(b: &Bundle) -> Result<Vec<String>, Error> {
    let run = attr(b, "run").ok_or_else(|| {
        Error::invalid_input(format!(
            "bundle {} {} has no `run` attribute saying how to start it; build it with --attr 'run=./server --port {{port}}'",
            b.name, b.version
        ))
    })?;
    Ok(run.split_whitespace().map(str::to_string).collect())
}

fn health_key(r: &Revision) -> String {
    format!("health/{}", r.id)
}

impl DeployerPack for LocalProcess {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: "local-process".into(),
            description: "revisions run as local processes on loopback ports, behind envpack serve".into(),
            supports_traffic_split: true,
            supports_observe: true,
            max_live_revisions: None,
            attributes: vec![],
        }
    }

    fn plan(&self, revision: Revision, bundle: Bundle) -> Result<Plan, Error> {
        let argv = argv(&bundle)?;
        let name = format!("{}-{}", revision.deployment, revision.id);
        Ok(Plan {
            summary: format!("run {} {} as a local process", bundle.name, bundle.version),
            steps: vec![PlanStep {
                id: "process".into(),
                change: Change::Create,
                resource: format!("process/{name}"),
                summary: format!("start `{}` from the payload on a free loopback port", argv.join(" ")),
                attributes: vec![("health".into(), attr(&bundle, "health").unwrap_or("/").into())],
            }],
        })
    }

    fn apply(&self, revision: Revision, bundle: Bundle, plan: Plan) -> Result<ApplyReport, Error> {
        let env = bundle
            .attributes
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("env.").map(|k| (k.to_string(), v.clone())))
            .collect();
        let info = match process::start(&Spec { revision: revision.id.clone(), argv: argv(&bundle)?, env }) {
            Ok(info) => info,
            // Applying again (a rollback to this revision) finds it running.
            Err(Error::Conflict(_)) => process::status(&revision.id)?
                .ok_or_else(|| Error::internal("the process vanished while starting"))?,
            Err(e) => return Err(e),
        };
        kv::set(&health_key(&revision), attr(&bundle, "health").unwrap_or("/").as_bytes())?;
        Ok(ApplyReport {
            steps: plan
                .steps
                .iter()
                .map(|s| StepResult { id: s.id.clone(), ok: true, message: format!("pid {}", info.pid) })
                .collect(),
            endpoint: Some(format!("http://127.0.0.1:{}", info.port)),
            attributes: vec![("pid".into(), info.pid.to_string())],
        })
    }

    fn health(&self, revision: Revision) -> Result<HealthReport, Error> {
        let report = |status, message: String| Ok(HealthReport { status, message, attributes: vec![] });
        let Some(info) = process::status(&revision.id)? else {
            return report(HealthStatus::Unhealthy, "no process was started".into());
        };
        if !info.running {
            return report(HealthStatus::Unhealthy, format!("the process (pid {}) exited", info.pid));
        }
        let path = kv::get(&health_key(&revision))?
            .map(|p| String::from_utf8_lossy(&p).into_owned())
            .unwrap_or_else(|| "/".into());
        match Request::get(&format!("http://127.0.0.1:{}{path}", info.port))
            .timeout(std::time::Duration::from_secs(2))
            .send()
        {
            Ok(r) if r.is_success() => report(HealthStatus::Healthy, format!("GET {path} answered {}", r.status)),
            Ok(r) => report(HealthStatus::Unhealthy, format!("GET {path} answered {}", r.status)),
            Err(e) => report(HealthStatus::Unhealthy, format!("GET {path} failed: {}", e.message())),
        }
    }

    fn set_traffic(
        &self,
        _environment: String,
        _deployment: String,
        generation: u64,
        weights: Vec<TrafficWeight>,
    ) -> Result<TrafficReport, Error> {
        // `envpack serve` reads the split from the environment and routes.
        Ok(TrafficReport { generation, applied: weights, message: "routed by envpack serve".into() })
    }

    fn teardown(&self, revision: Revision) -> Result<(), Error> {
        process::stop(&revision.id)?;
        kv::delete(&health_key(&revision))?;
        Ok(())
    }

    fn validate(&self, _environment: String) -> Result<Vec<envpack_sdk::deployer::Check>, Error> {
        // The process table is this target's only moving part: when the
        // host refuses it (no `process` grant), nothing can run here.
        let check = match process::list() {
            Ok(all) => envpack_sdk::deployer::Check {
                name: "process-table".into(),
                ok: true,
                detail: format!(
                    "the host runs {} process(es) for this environment ({} running)",
                    all.len(),
                    all.iter().filter(|p| p.running).count()
                ),
                fix: None,
            },
            Err(e) => envpack_sdk::deployer::Check {
                name: "process-table".into(),
                ok: false,
                detail: format!("the host refused the process table: {e}"),
                fix: Some("grant the deployer `process`: envpack env bind ENV deployer greentic.deployer.local-process@^0.1 --grant-requested".into()),
            },
        };
        Ok(vec![check])
    }

    fn observe(&self, _environment: String) -> Result<Vec<ObservedRevision>, Error> {
        Ok(process::list()?
            .into_iter()
            .map(|p| ObservedRevision {
                deployment: String::new(),
                revision: p.revision,
                state: if p.running { "running".into() } else { "exited".into() },
                digest: Some(p.bundle),
                endpoint: Some(format!("http://127.0.0.1:{}", p.port)),
                attributes: vec![("pid".into(), p.pid.to_string())],
            })
            .collect())
    }
}

envpack_sdk::export_deployer!(LocalProcess);
