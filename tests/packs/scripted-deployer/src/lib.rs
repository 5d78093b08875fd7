//! `acme.deployer.scripted`: deploys like the recorder; observes what the
//! test scripts in its `reality` config key.

use envpack_sdk::deployer::{
    ApplyReport, Bundle, Change, HealthReport, HealthStatus, ObservedRevision, Plan, PlanStep,
    Revision, StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use envpack_sdk::{DeployerPack, Error, config, kv};

#[derive(Default)]
struct Scripted;

fn attr<'a>(b: &'a Bundle, key: &str) -> Option<&'a str> {
    b.attributes.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
}

fn key(r: &Revision) -> String {
    format!("rev/{}/{}", r.deployment, r.id)
}

impl DeployerPack for Scripted {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: "scripted".into(),
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
        match config::get("reality")? {
            Some(script) => scripted(&script),
            None => recorded(),
        }
    }
}

envpack_sdk::export_deployer!(Scripted);

fn none_if_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The reality the test wrote.
fn scripted(script: &str) -> Result<Vec<ObservedRevision>, Error> {
    if let Some(why) = script.strip_prefix("fail:") {
        return Err(Error::unavailable(why.to_string()));
    }
    let mut out = Vec::new();
    for record in script.split(';').filter(|r| !r.trim().is_empty()) {
        let f: Vec<&str> = record.split('|').collect();
        if f.len() != 6 {
            return Err(Error::invalid_input(format!("scripted record {record:?} needs 6 fields")));
        }
        out.push(ObservedRevision {
            deployment: f[0].into(),
            revision: f[1].into(),
            state: f[2].into(),
            digest: none_if_empty(f[3]),
            endpoint: none_if_empty(f[4]),
            attributes: f[5]
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }
    Ok(out)
}

/// Every recorded revision, running its bundle.
fn recorded() -> Result<Vec<ObservedRevision>, Error> {
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
