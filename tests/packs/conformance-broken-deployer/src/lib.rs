//! `acme.deployer.broken`: a deployer that records revisions in its kv
//! (like the recorder test deployer), correct except for one deliberate
//! bug chosen by the config key `bug`, so `envpack pack test` can be shown
//! to fail exactly the case of the rule broken:
//!
//! | `bug`                     | what it does wrong                                        | failing case               |
//! |---------------------------|-----------------------------------------------------------|----------------------------|
//! | `describe-blank`          | describe names no target                                  | `describe`                 |
//! | `plan-duplicate-steps`    | two plan steps share an id                                | `plan-steps`               |
//! | `health-fails`            | health of an applied revision is an error                 | `health`                   |
//! | `plan-nondeterministic`   | the plan's summary carries the time                       | `plan-deterministic`       |
//! | `plan-side-effect`        | plan writes to kv                                         | `plan-pure`                |
//! | `apply-extra-step`        | apply reports a step the plan does not have               | `apply-applies-plan`       |
//! | `apply-not-repeatable`    | applying an applied revision again is a conflict          | `apply-again`              |
//! | `observe-missing`         | claims supports-observe but observes nothing              | `observe-reports-revision` |
//! | `traffic-generation`      | reports a generation other than the one given             | `traffic-report`           |
//! | `split-dishonest`         | claims no traffic split, then accepts one                 | `traffic-split-honest`     |
//! | `teardown-leaves`         | teardown leaves the revision in place                     | `teardown-removes`         |
//! | `teardown-not-idempotent` | teardown of a revision that is gone is `not-found`        | `teardown-idempotent`      |
//! | `validate-side-effect`    | validate writes to kv                                     | `validate-changes-nothing` |
//! | `prepare-not-idempotent`  | a second prepare reports its step failed                  | `prepare-idempotent`       |
//! | `decommission-not-idempotent` | decommission of what is gone is `not-found`           | `decommission-idempotent`  |

use envpack_sdk::deployer::{
    ApplyReport, Check, Bundle, Change, HealthReport, HealthStatus, ObservedRevision, Plan, PlanStep, Revision,
    StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use envpack_sdk::{DeployerPack, Error, config, kv};

#[derive(Default)]
struct Broken;

fn bug(name: &str) -> bool {
    config::get("bug").ok().flatten().as_deref() == Some(name)
}

fn key(r: &Revision) -> String {
    format!("rev/{}/{}", r.deployment, r.id)
}

impl DeployerPack for Broken {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: if bug("describe-blank") { String::new() } else { "broken".into() },
            description: "records revisions in kv, with one deliberate bug".into(),
            supports_traffic_split: !bug("split-dishonest"),
            supports_observe: true,
            max_live_revisions: None,
            attributes: vec![],
        }
    }

    fn plan(&self, revision: Revision, bundle: Bundle) -> Result<Plan, Error> {
        let mut summary = format!("record {} {} as {}", bundle.name, bundle.version, revision.id);
        if bug("plan-nondeterministic") {
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            summary.push_str(&format!(" at {}", now.as_nanos()));
        }
        if bug("plan-side-effect") {
            kv::set(&format!("planned/{}", revision.id), b"planned")?;
        }
        let step = |resource: String| PlanStep {
            id: "record".into(),
            change: Change::Create,
            resource,
            summary: format!("record {} files", bundle.files.len()),
            attributes: vec![],
        };
        let mut steps = vec![step(format!("record/{}", key(&revision)))];
        if bug("plan-duplicate-steps") {
            steps.push(step(format!("index/{}", key(&revision))));
        }
        Ok(Plan { summary, steps })
    }

    fn apply(&self, revision: Revision, bundle: Bundle, plan: Plan) -> Result<ApplyReport, Error> {
        if bug("apply-not-repeatable") && kv::get(&key(&revision))?.is_some() {
            return Err(Error::conflict(format!("revision {} is already applied", revision.id)));
        }
        kv::set(&key(&revision), bundle.id.as_bytes())?;
        let mut steps: Vec<StepResult> =
            plan.steps.iter().map(|s| StepResult { id: s.id.clone(), ok: true, message: "recorded".into() }).collect();
        if bug("apply-extra-step") {
            steps.push(StepResult { id: "cleanup".into(), ok: true, message: "also cleaned up".into() });
        }
        Ok(ApplyReport { steps, endpoint: None, attributes: vec![] })
    }

    fn health(&self, revision: Revision) -> Result<HealthReport, Error> {
        if bug("health-fails") {
            return Err(Error::unavailable(format!("cannot tell the health of {}", revision.id)));
        }
        let found = kv::get(&key(&revision))?.is_some();
        Ok(HealthReport {
            status: if found { HealthStatus::Healthy } else { HealthStatus::Unknown },
            message: if found { "recorded".into() } else { "not recorded".into() },
            attributes: vec![],
        })
    }

    fn set_traffic(
        &self,
        _environment: String,
        _deployment: String,
        generation: u64,
        weights: Vec<TrafficWeight>,
    ) -> Result<TrafficReport, Error> {
        let honest_refusal = !self.describe().supports_traffic_split && weights.len() > 1;
        if honest_refusal && !bug("split-dishonest") {
            return Err(Error::invalid_input("this target cannot split traffic"));
        }
        let generation = if bug("traffic-generation") { generation + 1 } else { generation };
        Ok(TrafficReport { generation, applied: weights, message: "recorded".into() })
    }

    fn teardown(&self, revision: Revision) -> Result<(), Error> {
        if bug("teardown-leaves") {
            return Ok(());
        }
        let existed = kv::delete(&key(&revision))?;
        if !existed && bug("teardown-not-idempotent") {
            return Err(Error::not_found(format!("revision {} is not recorded", revision.id)));
        }
        Ok(())
    }

    fn validate(&self, environment: String) -> Result<Vec<Check>, Error> {
        if bug("validate-side-effect") {
            kv::set("validated", b"yes")?;
        }
        let prepared = kv::get(&format!("env/{environment}"))?.is_some();
        Ok(vec![Check {
            name: "recorder".into(),
            ok: true,
            detail: format!("kv answers; environment {environment} prepared: {prepared}"),
            fix: None,
        }])
    }

    fn prepare(&self, environment: String) -> Result<Vec<StepResult>, Error> {
        let key = format!("env/{environment}");
        let exists = kv::get(&key)?.is_some();
        kv::set(&key, b"prepared")?;
        let (ok, message) = match (exists, bug("prepare-not-idempotent")) {
            (false, _) => (true, "created the environment's record".to_string()),
            (true, false) => (true, "the environment's record exists: nothing to do".to_string()),
            (true, true) => (false, "the environment's record already exists".to_string()),
        };
        Ok(vec![StepResult { id: "environment".into(), ok, message }])
    }

    fn decommission(&self, environment: String) -> Result<Vec<StepResult>, Error> {
        let existed = kv::delete(&format!("env/{environment}"))?;
        if !existed && bug("decommission-not-idempotent") {
            return Err(Error::not_found(format!("environment {environment} was never prepared")));
        }
        let message = if existed { "removed the environment's record" } else { "already gone" };
        Ok(vec![StepResult { id: "environment".into(), ok: true, message: message.into() }])
    }

    fn observe(&self, _environment: String) -> Result<Vec<ObservedRevision>, Error> {
        if bug("observe-missing") {
            return Ok(Vec::new());
        }
        let mut out = Vec::new();
        for k in kv::list_keys("rev/")? {
            let mut parts = k.splitn(3, '/').skip(1);
            let (Some(deployment), Some(revision)) = (parts.next(), parts.next()) else { continue };
            let digest = kv::get(&k)?.map(|b| String::from_utf8_lossy(&b).into_owned());
            out.push(ObservedRevision {
                deployment: deployment.into(),
                revision: revision.into(),
                state: "running".into(),
                digest,
                endpoint: None,
                attributes: vec![],
            });
        }
        Ok(out)
    }
}

envpack_sdk::export_deployer!(Broken);
