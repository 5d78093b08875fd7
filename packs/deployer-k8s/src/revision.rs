//! `plan`, `apply` and `teardown` of one revision.
//!
//! A plan has one step per object, in apply order; each step carries the
//! object's canonical YAML in its `manifest` attribute (what `envpack env
//! render` prints) and, under `expect.*`, what `observe` will report for
//! the revision when reality matches (the host's drift compares them).

use envpack_sdk::deployer::{ApplyReport, Bundle, Change, Plan, PlanStep, Revision, StepResult};
use envpack_sdk::{Error, kv, log};
use serde_json::{Value, json};

use crate::fingerprint::hash;
use crate::kube::{FIELD_MANAGER, Kube, name_of};
use crate::objects::{self, APPLIED, DEPLOYMENT_KIND, Object, SERVICE};
use crate::settings::{self, Settings};
use crate::yaml;

/// The kv key of the Deployment spec applied for a revision.
pub fn applied_key(revision: &str) -> String {
    format!("applied/{revision}")
}

/// The field manager that scales a revision down before deleting it, so
/// the pack's own manager keeps the rest of the object.
const TEARDOWN_MANAGER: &str = "envpack-teardown";

fn step(o: &Object, namespace: &str) -> PlanStep {
    let mut attributes = vec![
        ("manifest".to_string(), yaml::document(&o.body)),
        ("kind".to_string(), o.kind.kind.to_string()),
        ("name".to_string(), o.name.clone()),
        ("namespace".to_string(), namespace.to_string()),
    ];
    let summary = match o.kind.kind {
        "Deployment" => {
            let spec = &o.body["spec"];
            let image = spec["template"]["spec"]["containers"][0]["image"]
                .as_str()
                .unwrap_or("");
            attributes.push(("expect.image".into(), image.to_string()));
            attributes.push(("expect.replicas".into(), spec["replicas"].to_string()));
            attributes.push(("expect.spec-hash".into(), hash(spec)));
            format!(
                "Deployment {} of {image}, {} replica(s)",
                o.name, spec["replicas"]
            )
        }
        "Service" => {
            attributes.push(("expect.service".into(), o.name.clone()));
            format!(
                "Service {} on port {}",
                o.name, o.body["spec"]["ports"][0]["port"]
            )
        }
        _ => {
            attributes.push(("expect.configmap".into(), o.name.clone()));
            let keys = o.body["data"].as_object().map_or(0, |m| m.len());
            format!("ConfigMap {} with {keys} key(s)", o.name)
        }
    };
    PlanStep {
        id: o.kind.kind.to_ascii_lowercase(),
        change: Change::Create,
        resource: format!("{}/{namespace}/{}", o.kind.resource(), o.name),
        summary: format!("server-side apply {summary}"),
        attributes,
    }
}

/// The plan: pure, from the revision, the bundle and the configured
/// namespace.
pub fn plan(revision: &Revision, bundle: &Bundle) -> Result<Plan, Error> {
    let namespace = settings::namespace()?;
    let objects = objects::build(revision, bundle, &namespace)?;
    Ok(Plan {
        summary: format!(
            "run {} {} as Deployment {} in namespace {namespace:?}",
            bundle.name,
            bundle.version,
            objects::object_name(&revision.deployment, &revision.id)
        ),
        steps: objects.iter().map(|o| step(o, &namespace)).collect(),
    })
}

/// Applies the recorded plan: the objects are built again from the bundle
/// and must be exactly the ones the plan carries, or nothing is applied.
pub fn apply(revision: &Revision, bundle: &Bundle, plan: &Plan) -> Result<ApplyReport, Error> {
    let s = Settings::load(&revision.environment)?;
    let objects = objects::build(revision, bundle, &s.namespace)?;
    let planned: Vec<PlanStep> = objects.iter().map(|o| step(o, &s.namespace)).collect();
    if fingerprint_of(&planned) != fingerprint_of(&plan.steps) {
        return Err(Error::conflict(format!(
            "the recorded plan of revision {} no longer matches what this pack would apply (was the namespace changed since it was planned?); help: deploy the bundle again to plan it anew",
            revision.id
        )));
    }
    let kube = Kube { settings: &s };
    let mut steps = Vec::new();
    for (o, st) in objects.iter().zip(&plan.steps) {
        let live = kube.apply(&o.kind, &o.name, &o.body, FIELD_MANAGER, s.force)?;
        log::info(
            "applied",
            &[("object", &st.resource), ("manager", FIELD_MANAGER)],
        );
        if o.kind == DEPLOYMENT_KIND {
            kv::set(
                &applied_key(&revision.id),
                o.body["spec"].to_string().as_bytes(),
            )?;
        }
        steps.push(StepResult {
            id: st.id.clone(),
            ok: true,
            message: format!(
                "applied {} (generation {})",
                st.resource,
                live["metadata"]["generation"].as_u64().unwrap_or(0)
            ),
        });
    }
    let service = objects.iter().find(|o| o.kind == SERVICE);
    Ok(ApplyReport {
        steps,
        endpoint: service.map(|o| endpoint(&o.name, &s.namespace, &o.body)),
        attributes: vec![("namespace".into(), s.namespace.clone())],
    })
}

/// A step as `apply` compares it: id, resource and attributes.
type StepKey<'a> = (&'a str, &'a str, &'a [(String, String)]);

/// What identifies a plan's steps.
fn fingerprint_of(steps: &[PlanStep]) -> Vec<StepKey<'_>> {
    steps
        .iter()
        .map(|s| (s.id.as_str(), s.resource.as_str(), s.attributes.as_slice()))
        .collect()
}

/// Where a Service answers inside the cluster.
pub fn endpoint(name: &str, namespace: &str, service: &Value) -> String {
    format!(
        "http://{name}.{namespace}.svc.cluster.local:{}",
        service["spec"]["ports"][0]["port"]
    )
}

/// Scales the revision to zero, then deletes everything labelled with it
/// (Services first, the Deployment, then ConfigMaps). Idempotent.
pub fn teardown(revision: &Revision) -> Result<(), Error> {
    let s = Settings::load(&revision.environment)?;
    let kube = Kube { settings: &s };
    let name = objects::object_name(&revision.deployment, &revision.id);
    if let Some(dep) = kube.get(&DEPLOYMENT_KIND, &name)?
        && dep["spec"]["replicas"].as_u64() != Some(0)
    {
        let scale = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": s.namespace},
            "spec": {"replicas": 0},
        });
        match kube.apply(&DEPLOYMENT_KIND, &name, &scale, TEARDOWN_MANAGER, true) {
            Ok(_) => log::info("scaled to zero", &[("deployment", &name)]),
            // Deleting below still removes it; say why it was not drained.
            Err(e @ (Error::InvalidInput(_) | Error::Conflict(_))) => {
                log::warn(
                    "could not scale to zero before deleting",
                    &[("deployment", &name), ("error", e.message())],
                );
            }
            Err(e) => return Err(e),
        }
    }
    let selector = objects::revision_selector(revision);
    for kind in APPLIED.iter().rev() {
        for o in kube.list(kind, &selector)? {
            if kube.delete(kind, name_of(&o))? {
                log::info("deleted", &[("kind", kind.kind), ("name", name_of(&o))]);
            }
        }
    }
    kv::delete(&applied_key(&revision.id))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_carry_manifests_and_expectations() {
        let b = Bundle {
            id: "sha256:00".into(),
            name: "web".into(),
            version: "1.0.0".into(),
            source: envpack_sdk::deployer::SourceKind::Main,
            source_ref: "main".into(),
            commit: None,
            files: vec![],
            payload_dir: None,
            attributes: vec![(
                "image".into(),
                "r.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef".into(),
            )],
        };
        let r = Revision {
            environment: "dev".into(),
            deployment: "web".into(),
            id: "r1".into(),
            sequence: 1,
        };
        let objects = objects::build(&r, &b, "apps").expect("objects");
        let steps: Vec<PlanStep> = objects.iter().map(|o| step(o, "apps")).collect();
        assert_eq!(
            steps.iter().map(|s| s.id.as_str()).collect::<Vec<_>>(),
            ["deployment", "service"]
        );
        let keys: Vec<&str> = steps[0]
            .attributes
            .iter()
            .map(|(k, _)| k.as_str())
            .collect();
        assert!(
            keys.contains(&"manifest") && keys.contains(&"expect.spec-hash"),
            "{keys:?}"
        );
        assert_eq!(steps[0].resource, "deployments.apps/apps/web-r1");
        assert!(
            steps[0].attributes[0]
                .1
                .starts_with("apiVersion: apps/v1\nkind: Deployment\n")
        );
    }
}
