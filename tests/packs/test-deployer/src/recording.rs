//! The recorder: a deployer that "deploys" by recording revisions and
//! traffic in its private kv, so the deployment lifecycle can be driven end
//! to end without a target. Shared by the test deployers that include this
//! file (`acme.deployer.recorder`, `acme.deployer.scripted`); each says how
//! it observes.

use envpack_sdk::deployer::{
    ApplyReport, Bundle, Change, HealthReport, HealthStatus, ObservedRevision, Plan, PlanStep,
    Revision, StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use envpack_sdk::{Args, DeployerPack, Error, Output, kv};

/// Deploys by recording; observes through the including crate's
/// `observe_reality`, and names its target `crate::TARGET`.
#[derive(Default)]
pub struct Recorder;

fn attr<'a>(b: &'a Bundle, key: &str) -> Option<&'a str> {
    b.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn key(r: &Revision) -> String {
    format!("rev/{}/{}", r.deployment, r.id)
}

impl DeployerPack for Recorder {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: crate::TARGET.into(),
            description: "records revisions in kv".into(),
            supports_traffic_split: true,
            supports_observe: true,
            max_live_revisions: None,
            attributes: vec![],
        }
    }

    fn plan(&self, revision: Revision, bundle: Bundle) -> Result<Plan, Error> {
        if attr(&bundle, "fail") == Some("plan") {
            return Err(Error::invalid_input("simulated plan failure"));
        }
        Ok(Plan {
            summary: format!("record {} {} as {}", bundle.name, bundle.version, revision.id),
            steps: vec![PlanStep {
                id: "record".into(),
                change: Change::Create,
                resource: format!("record/{}", key(&revision)),
                summary: format!("record {} files", bundle.files.len()),
                attributes: vec![],
            }],
        })
    }

    fn apply(&self, revision: Revision, bundle: Bundle, plan: Plan) -> Result<ApplyReport, Error> {
        if attr(&bundle, "fail") == Some("apply") {
            return Err(Error::unavailable("simulated apply failure: the target refused the revision"));
        }
        let health = attr(&bundle, "health").unwrap_or("healthy");
        kv::set(&key(&revision), format!("{}|{}", bundle.id, health).as_bytes())?;
        Ok(ApplyReport {
            steps: plan
                .steps
                .iter()
                .map(|s| StepResult { id: s.id.clone(), ok: true, message: "recorded".into() })
                .collect(),
            // A test may point the revision at a real server it runs.
            endpoint: Some(
                attr(&bundle, "endpoint")
                    .map(str::to_string)
                    .unwrap_or_else(|| format!("recorder://{}/{}", revision.deployment, revision.id)),
            ),
            attributes: vec![],
        })
    }

    fn health(&self, revision: Revision) -> Result<HealthReport, Error> {
        let record = kv::get(&key(&revision))?
            .ok_or_else(|| Error::not_found(format!("revision {} is not recorded", revision.id)))?;
        let record = String::from_utf8_lossy(&record).to_string();
        let healthy = record.ends_with("|healthy");
        Ok(HealthReport {
            status: if healthy { HealthStatus::Healthy } else { HealthStatus::Unhealthy },
            message: if healthy { "recorded".into() } else { "simulated unhealthy revision".into() },
            attributes: vec![],
        })
    }

    fn set_traffic(
        &self,
        _environment: String,
        deployment: String,
        generation: u64,
        weights: Vec<TrafficWeight>,
    ) -> Result<TrafficReport, Error> {
        let text: Vec<String> = weights.iter().map(|w| format!("{}={}", w.revision, w.basis_points)).collect();
        kv::set(&format!("traffic/{deployment}"), format!("{generation}:{}", text.join(",")).as_bytes())?;
        Ok(TrafficReport { generation, applied: weights, message: "recorded".into() })
    }

    fn teardown(&self, revision: Revision) -> Result<(), Error> {
        kv::delete(&key(&revision))?;
        Ok(())
    }

    fn observe(&self, _environment: String) -> Result<Vec<ObservedRevision>, Error> {
        crate::observe_reality()
    }

    /// `kv-fill COUNT SIZE` (declared by packs that want it): stores COUNT
    /// values of SIZE bytes, for the kv quota tests.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        if !name.ends_with(" kv-fill") {
            return Err(Error::invalid_input(format!("no command {name:?}")));
        }
        let number = |n: &str| -> Result<usize, Error> {
            args.required(n)?.parse().map_err(|_| Error::invalid_input(format!("{n} must be a number")))
        };
        let value = vec![7u8; number("size")?];
        for i in 0..number("count")? {
            kv::set(&format!("fill/{i}"), &value)?;
        }
        Ok(Output::text("filled"))
    }
}

/// Every recorded revision, running its bundle.
pub fn recorded() -> Result<Vec<ObservedRevision>, Error> {
    let mut out = Vec::new();
    for k in kv::list_keys("rev/")? {
        let mut parts = k.splitn(3, '/').skip(1);
        let (Some(deployment), Some(revision)) = (parts.next(), parts.next()) else { continue };
        let record = kv::get(&k)?.unwrap_or_default();
        let record = String::from_utf8_lossy(&record).to_string();
        out.push(ObservedRevision {
            deployment: deployment.into(),
            revision: revision.into(),
            state: "running".into(),
            digest: record.split('|').next().map(str::to_string),
            endpoint: None,
            attributes: vec![],
        });
    }
    Ok(out)
}
