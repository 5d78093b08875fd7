//! `greentic.deployer.k8s`: runs each revision of a bundle on Kubernetes.
//!
//! Every revision becomes a `Deployment`, a `Service` and (with `config.*`
//! bundle attributes) a `ConfigMap`, labelled with the environment,
//! deployment and revision, applied with server-side apply (field manager
//! `envpack`) through the host's outbound HTTP. Traffic between revisions
//! is one Gateway API `HTTPRoute` per deployment, weighted in basis points.
//! The bearer token stays with the host: requests carry a
//! `{{credential:...}}` placeholder the host fills in.
//!
//! The modules: [`objects`] (bundle -> objects), [`yaml`] (canonical
//! manifests), [`revision`] (plan, apply, teardown), [`rollout`] (health),
//! [`traffic`] (set-traffic), [`observe`], [`kube`] (the API client) and
//! [`settings`] (the operator's configuration).

use envpack_sdk::deployer::{
    ApplyReport, Bundle, Check, HealthReport, HealthStatus, ObservedRevision, Plan, Revision,
    StepResult, TargetInfo, TrafficReport, TrafficWeight,
};
use envpack_sdk::{DeployerPack, Error};

pub mod fingerprint;
pub mod kube;
pub mod objects;
pub mod observe;
pub mod preflight;
pub mod revision;
pub mod rollout;
pub mod settings;
pub mod traffic;
pub mod yaml;

use kube::Kube;
use settings::Settings;

#[derive(Default)]
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Kubernetes;

fn health(r: &Revision) -> Result<HealthReport, Error> {
    let s = Settings::load(&r.environment)?;
    let kube = Kube { settings: &s };
    let name = objects::object_name(&r.deployment, &r.id);
    let Some(dep) = kube.get(&objects::DEPLOYMENT_KIND, &name)? else {
        return Err(Error::not_found(format!(
            "revision {} has no Deployment {name:?} in namespace {:?}",
            r.id, s.namespace
        )));
    };
    let (status, mut message) = rollout::status(&dep);
    if status != HealthStatus::Healthy {
        let evidence = rollout::evidence(&kube, &objects::revision_selector(r), &name);
        if !evidence.is_empty() {
            message = format!("{message}; {evidence}");
        }
    }
    Ok(HealthReport {
        status,
        message: format!("Deployment {name}: {message}"),
        attributes: vec![(
            "observed-generation".into(),
            dep["status"]["observedGeneration"].to_string(),
        )],
    })
}

impl DeployerPack for Kubernetes {
    fn describe(&self) -> TargetInfo {
        TargetInfo {
            target: "kubernetes".into(),
            description: "revisions run as Kubernetes Deployments behind Services; traffic split by a Gateway API HTTPRoute".into(),
            supports_traffic_split: true,
            supports_observe: true,
            max_live_revisions: None,
            attributes: vec![("field-manager".into(), kube::FIELD_MANAGER.into())],
        }
    }

    fn plan(&self, revision: Revision, bundle: Bundle) -> Result<Plan, Error> {
        revision::plan(&revision, &bundle)
    }

    fn apply(&self, revision: Revision, bundle: Bundle, plan: Plan) -> Result<ApplyReport, Error> {
        revision::apply(&revision, &bundle, &plan)
    }

    fn health(&self, revision: Revision) -> Result<HealthReport, Error> {
        health(&revision)
    }

    fn set_traffic(
        &self,
        environment: String,
        deployment: String,
        generation: u64,
        weights: Vec<TrafficWeight>,
    ) -> Result<TrafficReport, Error> {
        let s = Settings::load(&environment)?;
        traffic::set(&s, &deployment, generation, &weights)
    }

    fn teardown(&self, revision: Revision) -> Result<(), Error> {
        revision::teardown(&revision)
    }

    fn observe(&self, environment: String) -> Result<Vec<ObservedRevision>, Error> {
        observe::observe(&environment)
    }

    fn validate(&self, environment: String) -> Result<Vec<Check>, Error> {
        preflight::validate(&environment)
    }

    fn prepare(&self, environment: String) -> Result<Vec<StepResult>, Error> {
        preflight::prepare(&environment)
    }

    fn decommission(&self, environment: String) -> Result<Vec<StepResult>, Error> {
        preflight::decommission(&environment)
    }
}

// Exported only in the wasm build, so the modules' unit tests also run as a
// native `cargo test -p deployer-k8s` (in packs/).
#[cfg(target_arch = "wasm32")]
envpack_sdk::export_deployer!(Kubernetes);
