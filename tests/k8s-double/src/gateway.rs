//! The Gateway controller, simulated: a Gateway is accepted and
//! programmed when written, and an HTTPRoute gets a `status.parents` entry
//! for each parent Gateway that exists, with `Accepted` and `ResolvedRefs`
//! (false, `BackendNotFound`, when a backend Service is missing), as of the
//! write that changed it.

use serde_json::{Value, json};

use crate::clock;
use crate::resources;
use crate::store::Store;

/// The controller name the double's status entries carry.
pub const CONTROLLER: &str = "envpack.dev/k8s-double";

fn condition(kind: &str, ok: bool, reason: &str, message: &str, generation: &Value) -> Value {
    json!({
        "type": kind,
        "status": if ok { "True" } else { "False" },
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": clock::now(),
    })
}

/// A Gateway's status: accepted, programmed, with an address.
pub fn gateway_status(gw: &Value) -> Value {
    let generation = &gw["metadata"]["generation"];
    let listeners: Vec<Value> = gw["spec"]["listeners"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|l| {
            json!({
                "name": l["name"],
                "attachedRoutes": 0,
                "supportedKinds": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute"}],
                "conditions": [condition("Accepted", true, "Accepted", "Listener is accepted", generation),
                               condition("Programmed", true, "Programmed", "Listener is programmed", generation)],
            })
        })
        .collect();
    json!({
        "addresses": [{"type": "IPAddress", "value": "10.96.0.100"}],
        "conditions": [condition("Accepted", true, "Accepted", "Gateway is accepted", generation),
                       condition("Programmed", true, "Programmed", "Gateway is programmed", generation)],
        "listeners": listeners,
    })
}

/// An HTTPRoute's status against the Gateways and Services stored now.
pub fn route_status(store: &Store, route: &Value) -> Value {
    let ns = route["metadata"]["namespace"].as_str().unwrap_or_default();
    let generation = &route["metadata"]["generation"];
    let (Some(gateways), Some(services)) = (
        resources::by_plural("gateways"),
        resources::by_plural("services"),
    ) else {
        return json!({"parents": []});
    };
    let missing: Vec<String> = route["spec"]["rules"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|r| r["backendRefs"].as_array().cloned().unwrap_or_default())
        .filter(|b| b["kind"].as_str().is_none_or(|k| k == "Service"))
        .filter_map(|b| {
            let name = b["name"].as_str()?;
            let bns = b["namespace"].as_str().unwrap_or(ns);
            store
                .get(services, bns, name)
                .is_none()
                .then(|| format!("Service \"{bns}/{name}\" not found"))
        })
        .collect();
    let resolved = if missing.is_empty() {
        condition(
            "ResolvedRefs",
            true,
            "ResolvedRefs",
            "All references are resolved",
            generation,
        )
    } else {
        condition(
            "ResolvedRefs",
            false,
            "BackendNotFound",
            &missing.join("; "),
            generation,
        )
    };
    let parents: Vec<Value> = route["spec"]["parentRefs"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|p| p["kind"].as_str().is_none_or(|k| k == "Gateway"))
        .filter(|p| {
            let pns = p["namespace"].as_str().unwrap_or(ns);
            p["name"].as_str().is_some_and(|n| store.get(gateways, pns, n).is_some())
        })
        .map(|p| {
            json!({
                "parentRef": p,
                "controllerName": CONTROLLER,
                "conditions": [condition("Accepted", true, "Accepted", "Route is accepted", generation), resolved.clone()],
            })
        })
        .collect();
    json!({"parents": parents})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_report_only_existing_parents_and_missing_backends() {
        let mut store = Store::default();
        let gt = resources::by_plural("gateways").expect("served");
        let gw = store.stamp_new(gt, json!({"apiVersion": "gateway.networking.k8s.io/v1", "kind": "Gateway", "metadata": {"name": "gw", "namespace": "default"}}));
        store.commit(gt, gw, "ADDED");
        let route = json!({"metadata": {"name": "r", "namespace": "default", "generation": 1},
            "spec": {"parentRefs": [{"name": "gw"}, {"name": "absent"}], "rules": [{"backendRefs": [{"name": "web", "port": 80}]}]}});
        let status = route_status(&store, &route);
        let parents = status["parents"].as_array().expect("parents");
        assert_eq!(parents.len(), 1);
        assert_eq!(parents[0]["parentRef"]["name"], "gw");
        assert_eq!(parents[0]["conditions"][1]["reason"], "BackendNotFound");
    }
}
