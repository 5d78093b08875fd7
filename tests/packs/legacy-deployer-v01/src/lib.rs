//! `acme.deployer.legacy`: a deployer of API 0.1.0, written against the
//! frozen `wit/v0.1.0` with wit-bindgen alone (no envpack-sdk), as a pack
//! author would have written it before 0.2.0. It records revisions and
//! traffic in its private kv, logs what it does and reads one config key,
//! so every 0.1 host import and every 0.1 deployer export is exercised.

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "deployer-pack",
    generate_all,
});

use exports::greentic::envpack::command::{self, Arg, Output};
use exports::greentic::envpack::deployer::{
    self, ApplyReport, Bundle, Change, DeployPlan, HealthReport, HealthStatus, ObservedRevision,
    PlanStep, Revision, StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use greentic::envpack::types::{Error, Level};
use greentic::envpack::{config, kv, log};

// What envpack-sdk's export macros stamp into every pack; a pack built
// without the SDK places the same custom section itself, so the host knows
// which API version to link it with before compiling it.
#[unsafe(link_section = "envpack:api-version")]
#[used]
static API_VERSION: [u8; 5] = *b"0.1.0";

struct Legacy;

fn key(r: &Revision) -> String {
    format!("rev/{}/{}", r.deployment, r.id)
}

fn note(message: String) {
    // Logging is best effort: a denied log must not fail a deployment.
    let _ = log::write(Level::Info, &message, &[("pack".into(), "legacy".into())]);
}

fn target_name() -> String {
    config::get("target-name")
        .ok()
        .flatten()
        .unwrap_or_else(|| "legacy".into())
}

impl deployer::Guest for Legacy {
    fn describe() -> TargetInfo {
        TargetInfo {
            target: target_name(),
            description: "an API 0.1.0 deployer that records revisions in kv".into(),
            supports_traffic_split: true,
            supports_observe: true,
            max_live_revisions: None,
            attributes: vec![("api".into(), "0.1.0".into())],
        }
    }

    fn plan(revision: Revision, bundle: Bundle) -> Result<DeployPlan, Error> {
        Ok(DeployPlan {
            summary: format!("record {} {} as {}", bundle.name, bundle.version, revision.id),
            steps: vec![PlanStep {
                id: "record".into(),
                change: Change::Create,
                resource: format!("legacy/{}", key(&revision)),
                summary: format!("record {} files", bundle.files.len()),
                attributes: vec![],
            }],
        })
    }

    fn apply(revision: Revision, bundle: Bundle, plan: DeployPlan) -> Result<ApplyReport, Error> {
        kv::set(&key(&revision), bundle.id.as_bytes())?;
        note(format!("recorded {} for {}", revision.id, bundle.id));
        Ok(ApplyReport {
            steps: plan
                .steps
                .iter()
                .map(|s| StepResult {
                    id: s.id.clone(),
                    ok: true,
                    message: "recorded".into(),
                })
                .collect(),
            endpoint: Some(format!("legacy://{}/{}", revision.deployment, revision.id)),
            attributes: vec![],
        })
    }

    fn health(revision: Revision) -> Result<HealthReport, Error> {
        match kv::get(&key(&revision))? {
            Some(_) => Ok(HealthReport {
                status: HealthStatus::Healthy,
                message: "recorded".into(),
                attributes: vec![],
            }),
            None => Err(Error::NotFound(format!(
                "revision {} is not recorded",
                revision.id
            ))),
        }
    }

    fn set_traffic(
        _environment: String,
        deployment: String,
        generation: u64,
        weights: Vec<TrafficWeight>,
    ) -> Result<TrafficReport, Error> {
        let text: Vec<String> = weights
            .iter()
            .map(|w| format!("{}={}", w.revision, w.basis_points))
            .collect();
        kv::set(
            &format!("traffic/{deployment}"),
            format!("{generation}:{}", text.join(",")).as_bytes(),
        )?;
        Ok(TrafficReport {
            generation,
            applied: weights,
            message: "recorded".into(),
        })
    }

    fn teardown(revision: Revision) -> Result<(), Error> {
        kv::delete(&key(&revision))?;
        note(format!("forgot {}", revision.id));
        Ok(())
    }

    fn observe(_environment: String) -> Result<Vec<ObservedRevision>, Error> {
        let mut out = Vec::new();
        for k in kv::list_keys("rev/")? {
            let mut parts = k.splitn(3, '/').skip(1);
            let (Some(deployment), Some(revision)) = (parts.next(), parts.next()) else {
                continue;
            };
            let digest = kv::get(&k)?.map(|v| String::from_utf8_lossy(&v).into_owned());
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

impl command::Guest for Legacy {
    fn run(name: String, args: Vec<Arg>) -> Result<Output, Error> {
        if name != "legacy info" {
            return Err(Error::InvalidInput(format!("no command {name:?}")));
        }
        let only = args
            .iter()
            .find(|a| a.name == "deployment")
            .and_then(|a| a.values.first().cloned());
        let prefix = only.map_or_else(|| "rev/".to_string(), |d| format!("rev/{d}/"));
        let revisions = kv::list_keys(&prefix)?;
        let traffic = kv::list_keys("traffic/")?;
        let json = format!(
            "{{\"api\":\"0.1.0\",\"target\":{:?},\"revisions\":{},\"traffic\":{}}}",
            target_name(),
            revisions.len(),
            traffic.len()
        );
        Ok(Output {
            text: format!(
                "{} revision(s) recorded, {} traffic record(s)",
                revisions.len(),
                traffic.len()
            ),
            json: Some(json),
        })
    }
}

export!(Legacy);
