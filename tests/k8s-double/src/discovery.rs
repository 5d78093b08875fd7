//! Discovery documents (`/version`, `/api`, `/apis`, `/api/v1`,
//! `/apis/{group}/{version}`), in the legacy (unaggregated) form: clients
//! that ask for the aggregated `apidiscovery.k8s.io/v2` form accept it, as
//! they do from any server without aggregated discovery.

use serde_json::{Value, json};

use crate::resources::{self, GROUPS, ResourceType};

/// The Kubernetes version the double reports (the kubectl it is tested with).
pub const MAJOR: &str = "1";
pub const MINOR: &str = "37";

pub fn version() -> Value {
    json!({
        "major": MAJOR,
        "minor": MINOR,
        "emulationMajor": MAJOR,
        "emulationMinor": MINOR,
        "gitVersion": format!("v{MAJOR}.{MINOR}.0-envpack-double"),
        "gitCommit": "0000000000000000000000000000000000000000",
        "gitTreeState": "clean",
        "buildDate": "2026-01-01T00:00:00Z",
        "goVersion": "go1.25",
        "compiler": "gc",
        "platform": "linux/amd64",
    })
}

/// `/api`
pub fn core_versions(server_address: &str) -> Value {
    json!({
        "kind": "APIVersions",
        "versions": ["v1"],
        "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": server_address}],
    })
}

fn group(name: &str, version: &str) -> Value {
    let gv = json!({"groupVersion": format!("{name}/{version}"), "version": version});
    json!({"name": name, "versions": [gv], "preferredVersion": gv})
}

/// `/apis`
pub fn groups() -> Value {
    let groups: Vec<Value> = GROUPS.iter().map(|(n, v)| group(n, v)).collect();
    json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": groups})
}

/// `/apis/{group}`, `None` for a group not served.
pub fn api_group(name: &str) -> Option<Value> {
    let (n, v) = GROUPS.iter().find(|(n, _)| *n == name)?;
    let mut g = group(n, v);
    g["kind"] = json!("APIGroup");
    g["apiVersion"] = json!("v1");
    Some(g)
}

fn api_resource(t: &ResourceType) -> Value {
    let mut r = json!({
        "name": t.plural,
        "singularName": t.singular,
        "namespaced": t.namespaced,
        "kind": t.kind,
        "verbs": t.verbs,
    });
    if !t.short_names.is_empty() {
        r["shortNames"] = json!(t.short_names);
    }
    // kubectl get all: the workload types, as on the real server.
    if matches!(t.plural, "pods" | "services" | "deployments") {
        r["categories"] = json!(["all"]);
    }
    r
}

/// `/api/v1`, `/apis/{group}/{version}`; `None` when not served.
pub fn resource_list(group: &str, version: &str) -> Option<Value> {
    let mut list = Vec::new();
    for t in resources::in_group_version(group, version) {
        list.push(api_resource(t));
        for s in t.subresources {
            let mut r = json!({
                "name": format!("{}/{}", t.plural, s.name),
                "singularName": "",
                "namespaced": t.namespaced,
                "kind": s.kind,
                "verbs": s.verbs,
            });
            if s.group != t.group || s.version != t.version {
                r["group"] = json!(s.group);
                r["version"] = json!(s.version);
            }
            list.push(r);
        }
    }
    if list.is_empty() {
        return None;
    }
    Some(json!({
        "kind": "APIResourceList",
        "apiVersion": "v1",
        "groupVersion": resources::group_version(group, version),
        "resources": list,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovery_lists_every_served_group_and_subresource() {
        let apps = resource_list("apps", "v1").expect("apps/v1 served");
        let names: Vec<&str> = apps["resources"]
            .as_array()
            .expect("list")
            .iter()
            .filter_map(|r| r["name"].as_str())
            .collect();
        assert_eq!(
            names,
            ["deployments", "deployments/scale", "deployments/status"]
        );
        assert_eq!(apps["resources"][1]["group"], "autoscaling");
        let core = resource_list("", "v1").expect("v1 served");
        assert_eq!(core["groupVersion"], "v1");
        assert!(resource_list("batch", "v1").is_none());
        let groups = groups();
        assert_eq!(
            groups["groups"].as_array().map(Vec::len),
            Some(GROUPS.len())
        );
        assert!(api_group("gateway.networking.k8s.io").is_some());
    }
}
