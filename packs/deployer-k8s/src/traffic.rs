//! `set-traffic`: one Gateway API `HTTPRoute` per deployment and
//! environment (`<deployment>-<environment>`), whose single
//! rule sends each revision's Service its weight. Weights are the basis
//! points themselves (99% / 1% is 9900 / 100), so the split is exact. The
//! route records the traffic generation in an annotation; a lower one is
//! refused as stale. What is reported is the route as read back.

use envpack_sdk::Error;
use envpack_sdk::deployer::{TrafficReport, TrafficWeight};
use serde_json::{Value, json};

use crate::kube::{FIELD_MANAGER, Kube};
use crate::objects::{self, DEPLOYMENT, ENVIRONMENT, HTTP_ROUTE, MANAGED_BY, SERVICE};
use crate::settings::Settings;

/// The annotation holding the traffic generation a route was applied at.
pub const GENERATION: &str = "envpack.greentic.dev/traffic-generation";

fn route(s: &Settings, deployment: &str, generation: u64, backends: Vec<Value>) -> Value {
    let mut spec = json!({"rules": [{"backendRefs": backends}]});
    if let Some(gateway) = &s.gateway {
        let mut parent =
            json!({"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": gateway});
        if let Some(ns) = &s.gateway_namespace {
            parent["namespace"] = json!(ns);
        }
        spec["parentRefs"] = json!([parent]);
    }
    if let Some(host) = &s.hostname {
        spec["hostnames"] = json!([host]);
    }
    json!({
        "apiVersion": HTTP_ROUTE.api_version, "kind": HTTP_ROUTE.kind,
        "metadata": {
            "name": objects::route_name(&s.environment, deployment),
            "namespace": s.namespace,
            "labels": {
                MANAGED_BY: "envpack",
                ENVIRONMENT: objects::label_value(&s.environment),
                DEPLOYMENT: objects::label_value(deployment),
            },
            "annotations": {GENERATION: generation.to_string()},
        },
        "spec": spec,
    })
}

/// Routes `weights` (validated by the host: they sum to 10,000).
pub fn set(
    s: &Settings,
    deployment: &str,
    generation: u64,
    weights: &[TrafficWeight],
) -> Result<TrafficReport, Error> {
    let kube = Kube { settings: s };
    let name = objects::route_name(&s.environment, deployment);
    if let Some(existing) = kube.get(&HTTP_ROUTE, &name)? {
        let applied = existing["metadata"]["annotations"][GENERATION]
            .as_str()
            .and_then(|g| g.parse::<u64>().ok())
            .unwrap_or(0);
        if applied > generation {
            return Err(Error::conflict(format!(
                "stale traffic generation {generation} for deployment {deployment:?}: HTTPRoute {name:?} is already at generation {applied}"
            )));
        }
    }
    let mut backends = Vec::new();
    let mut by_service = Vec::new();
    for w in weights {
        let service = objects::object_name(deployment, &w.revision);
        let svc = kube.get(&SERVICE, &service)?.ok_or_else(|| {
            Error::not_found(format!(
                "revision {} has no Service {service:?} in namespace {:?} to route to (was it torn down?); help: envpack --env {} rollback --to {}",
                w.revision, s.namespace, s.environment, w.revision
            ))
        })?;
        let port = svc["spec"]["ports"][0]["port"].as_u64().unwrap_or(80);
        backends.push(
            json!({"kind": "Service", "name": service, "port": port, "weight": w.basis_points}),
        );
        by_service.push((service, w.revision.clone()));
    }
    kube.apply(
        &HTTP_ROUTE,
        &name,
        &route(s, deployment, generation, backends),
        FIELD_MANAGER,
        s.force,
    )?;
    let back = kube.get(&HTTP_ROUTE, &name)?.ok_or_else(|| {
        Error::unavailable(format!(
            "HTTPRoute {name:?} was applied but cannot be read back"
        ))
    })?;
    let applied = read_weights(&back, &by_service);
    let text: Vec<String> = applied
        .iter()
        .map(|w| format!("{}={}", w.revision, w.basis_points))
        .collect();
    Ok(TrafficReport {
        generation,
        applied,
        message: format!(
            "HTTPRoute {}/{name} backend weights {}",
            s.namespace,
            text.join(" ")
        ),
    })
}

/// The weights a route really carries, by revision (a backend this pack
/// did not name is reported under its Service name).
pub fn read_weights(route: &Value, by_service: &[(String, String)]) -> Vec<TrafficWeight> {
    let mut out: Vec<TrafficWeight> = route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .map(|b| {
            let service = b["name"].as_str().unwrap_or("");
            TrafficWeight {
                revision: by_service
                    .iter()
                    .find(|(s, _)| s == service)
                    .map_or(service.to_string(), |(_, r)| r.clone()),
                // Gateway API's default weight is 1.
                basis_points: b["weight"]
                    .as_u64()
                    .map_or(1, |w| u32::try_from(w).unwrap_or(u32::MAX)),
            }
        })
        .collect();
    out.sort_by(|a, b| a.revision.cmp(&b.revision));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(gateway: Option<&str>) -> Settings {
        Settings {
            environment: "prod".into(),
            server: "https://k8s.example:6443".into(),
            namespace: "web".into(),
            token_secret: "K8S_TOKEN".into(),
            force: false,
            gateway: gateway.map(str::to_string),
            gateway_namespace: gateway.map(|_| "infra".to_string()),
            hostname: gateway.map(|_| "web.example.com".to_string()),
        }
    }

    #[test]
    fn routes_attach_to_the_configured_gateway() {
        let backends =
            vec![json!({"kind": "Service", "name": "web-r1", "port": 8080, "weight": 10000})];
        let r = route(&settings(Some("edge")), "web", 7, backends.clone());
        assert_eq!(r["metadata"]["name"], "web-prod");
        assert_eq!(r["metadata"]["annotations"][GENERATION], "7");
        assert_eq!(
            r["spec"]["parentRefs"],
            json!([{"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "edge", "namespace": "infra"}])
        );
        assert_eq!(r["spec"]["hostnames"], json!(["web.example.com"]));
        assert_eq!(r["spec"]["rules"][0]["backendRefs"], json!(backends));
        let bare = route(&settings(None), "web", 1, vec![]);
        assert!(
            bare["spec"].get("parentRefs").is_none() && bare["spec"].get("hostnames").is_none()
        );
    }

    #[test]
    fn reads_weights_back_by_revision() {
        let route = json!({"spec": {"rules": [{"backendRefs": [
            {"name": "web-r2", "port": 8080, "weight": 100},
            {"name": "web-r1", "port": 8080, "weight": 9900},
            {"name": "other", "port": 80}
        ]}]}});
        let map = vec![
            ("web-r1".to_string(), "r1".to_string()),
            ("web-r2".to_string(), "r2".to_string()),
        ];
        let got: Vec<(String, u32)> = read_weights(&route, &map)
            .into_iter()
            .map(|w| (w.revision, w.basis_points))
            .collect();
        assert_eq!(
            got,
            [
                ("other".to_string(), 1),
                ("r1".into(), 9900),
                ("r2".into(), 100)
            ]
        );
    }
}
