//! `observe`: the environment's labelled objects, normalised. Per
//! revision (one Deployment): state `running` or `scaled-to-zero`, the
//! bundle id from the annotation, the Service's in-cluster endpoint, and
//! attributes the host's drift compares with the plan's `expect.*`: the
//! container image (with its digest), the replica count, a hash of the
//! spec this pack applied as it is now, and the names of the revision's
//! Service and ConfigMap when they exist. Server-managed fields
//! (`resourceVersion`, `managedFields`, `uid`, timestamps, status) never
//! appear.

use std::collections::BTreeMap;

use envpack_sdk::deployer::ObservedRevision;
use envpack_sdk::{Error, kv};
use serde_json::Value;

use crate::fingerprint::{hash, project};
use crate::kube::{Kube, name_of};
use crate::objects::{self, BUNDLE, CONFIG_MAP, DEPLOYMENT, DEPLOYMENT_KIND, REVISION, SERVICE};
use crate::revision::{applied_key, endpoint};
use crate::settings::Settings;

fn label<'a>(o: &'a Value, key: &str) -> &'a str {
    o["metadata"]["labels"][key].as_str().unwrap_or("")
}

/// Objects of one kind by their revision label.
fn by_revision(items: Vec<Value>) -> BTreeMap<String, Value> {
    items
        .into_iter()
        .map(|o| (label(&o, REVISION).to_string(), o))
        .collect()
}

/// One Deployment as observed.
fn revision(
    dep: &Value,
    services: &BTreeMap<String, Value>,
    configs: &BTreeMap<String, Value>,
    namespace: &str,
) -> Result<ObservedRevision, Error> {
    let rev = label(dep, REVISION).to_string();
    let spec = &dep["spec"];
    let mut attributes = vec![
        (
            "image".to_string(),
            spec["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("")
                .to_string(),
        ),
        (
            "replicas".to_string(),
            spec["replicas"].as_u64().unwrap_or(1).to_string(),
        ),
    ];
    if let Some(applied) = kv::get(&applied_key(&rev))? {
        let applied: Value = serde_json::from_slice(&applied).unwrap_or(Value::Null);
        attributes.push(("spec-hash".into(), hash(&project(spec, &applied))));
    }
    let service = services.get(&rev);
    if let Some(svc) = service {
        attributes.push(("service".into(), name_of(svc).to_string()));
    }
    if let Some(cm) = configs.get(&rev) {
        attributes.push(("configmap".into(), name_of(cm).to_string()));
    }
    attributes.sort();
    Ok(ObservedRevision {
        deployment: label(dep, DEPLOYMENT).to_string(),
        revision: rev,
        state: if spec["replicas"].as_u64() == Some(0) {
            "scaled-to-zero".into()
        } else {
            "running".into()
        },
        digest: dep["metadata"]["annotations"][BUNDLE]
            .as_str()
            .map(str::to_string),
        endpoint: service.map(|s| endpoint(name_of(s), namespace, s)),
        attributes,
    })
}

/// Everything this pack runs for `environment`, sorted by revision.
pub fn observe(environment: &str) -> Result<Vec<ObservedRevision>, Error> {
    let s = Settings::load(environment)?;
    let kube = Kube { settings: &s };
    let selector = objects::environment_selector(environment);
    let services = by_revision(kube.list(&SERVICE, &selector)?);
    let configs = by_revision(kube.list(&CONFIG_MAP, &selector)?);
    let mut out = kube
        .list(&DEPLOYMENT_KIND, &selector)?
        .iter()
        .map(|d| revision(d, &services, &configs, &s.namespace))
        .collect::<Result<Vec<_>, _>>()?;
    out.sort_by(|a, b| a.revision.cmp(&b.revision));
    Ok(out)
}
