//! A minimal OpenAPI v3 description: every served path with its operations,
//! the `x-kubernetes-group-version-kind` of each, and the query parameters
//! of PATCH (`fieldValidation`, `fieldManager`, `force`, `dryRun`).
//!
//! That is what kubectl reads to learn that the server validates fields
//! itself (it then sends `fieldValidation=Strict` instead of validating
//! against schemas). The documents carry no object schemas: `kubectl
//! explain` and client-side validation have nothing to read.

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::discovery::{MAJOR, MINOR};
use crate::resources::{self, GROUPS, ResourceType};

/// The group versions served, as OpenAPI v3 paths (`api/v1`, `apis/apps/v1`).
fn group_versions() -> Vec<(String, &'static str, &'static str)> {
    let mut out = vec![("api/v1".to_string(), "", "v1")];
    out.extend(
        GROUPS
            .iter()
            .map(|(g, v)| (format!("apis/{g}/{v}"), *g, *v)),
    );
    out
}

/// `/openapi/v3`: where each group version's document is.
pub fn root() -> Value {
    let mut paths = Map::new();
    for (path, g, v) in group_versions() {
        let hash = hex::encode(Sha256::digest(group_version(g, v).to_string().as_bytes()));
        paths.insert(
            path.clone(),
            json!({"serverRelativeURL": format!("/openapi/v3/{path}?hash={}", &hash[..32])}),
        );
    }
    json!({"paths": paths})
}

/// `/openapi/v3/{path}`, `None` for a group version not served.
pub fn document(path: &str) -> Option<Value> {
    let (_, g, v) = group_versions().into_iter().find(|(p, _, _)| p == path)?;
    Some(group_version(g, v))
}

fn param(name: &str) -> Value {
    json!({"name": name, "in": "query", "schema": {"type": "string", "uniqueItems": true}})
}

fn operation(t: &ResourceType, action: &str, kind: &str, params: &[&str]) -> Value {
    let (group, version) = (t.group, t.version);
    let mut id: String = action.to_string();
    id.push_str(t.kind);
    json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": {"group": group, "version": version, "kind": kind},
        "parameters": params.iter().map(|p| param(p)).collect::<Vec<_>>(),
        "responses": {"200": {"description": "OK"}},
    })
}

fn group_version(group: &str, version: &str) -> Value {
    let mut paths = Map::new();
    for t in resources::in_group_version(group, version) {
        type_paths(t, &mut paths);
    }
    json!({
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": format!("v{MAJOR}.{MINOR}.0")},
        "paths": paths,
        "components": {"schemas": {}},
    })
}

const WRITE: &[&str] = &["dryRun", "fieldManager", "fieldValidation"];
const PATCH: &[&str] = &["dryRun", "fieldManager", "fieldValidation", "force"];

/// The collection, item and subresource paths of one type.
fn type_paths(t: &ResourceType, paths: &mut Map<String, Value>) {
    let base = if t.namespaced {
        format!("{}/namespaces/{{namespace}}/{}", t.prefix(), t.plural)
    } else {
        format!("{}/{}", t.prefix(), t.plural)
    };
    let mut collection = Map::new();
    if t.verbs.contains(&"list") {
        let list = &["labelSelector", "fieldSelector", "watch", "resourceVersion"];
        collection.insert("get".into(), operation(t, "list", t.kind, list));
    }
    if t.verbs.contains(&"create") {
        collection.insert("post".into(), operation(t, "post", t.kind, WRITE));
    }
    paths.insert(base.clone(), Value::Object(collection));
    if t.verbs.contains(&"get") {
        let mut item = Map::new();
        item.insert("get".into(), operation(t, "get", t.kind, &[]));
        if t.verbs.contains(&"patch") {
            item.insert("put".into(), operation(t, "put", t.kind, WRITE));
            item.insert("patch".into(), operation(t, "patch", t.kind, PATCH));
            item.insert("delete".into(), operation(t, "delete", t.kind, &["dryRun"]));
        }
        paths.insert(format!("{base}/{{name}}"), Value::Object(item));
    }
    for s in t.subresources {
        let mut sub = Map::new();
        sub.insert("get".into(), operation(t, "get", s.kind, &[]));
        sub.insert("patch".into(), operation(t, "patch", s.kind, PATCH));
        sub.insert("put".into(), operation(t, "put", s.kind, WRITE));
        paths.insert(format!("{base}/{{name}}/{}", s.name), Value::Object(sub));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patch_operations_declare_field_validation() {
        let root = root();
        let url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url");
        assert!(url.starts_with("/openapi/v3/apis/apps/v1?hash="));
        let doc = document("apis/apps/v1").expect("served");
        let patch =
            &doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"];
        assert_eq!(
            patch["x-kubernetes-group-version-kind"]["kind"],
            "Deployment"
        );
        assert!(
            patch["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .any(|p| p["name"] == "fieldValidation")
        );
        assert!(document("apis/batch/v1").is_none());
    }
}
