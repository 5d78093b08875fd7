//! Field sets: which fields a manager owns, in the `FieldsV1` form of
//! `metadata.managedFields` (`{"f:spec":{"f:replicas":{}}}`).
//!
//! A path is a list of tokens: `f:<name>` for a map field, `k:<json>` for
//! an item of an associative list (keyed like the real server: containers
//! by `name`, container ports by `containerPort`+`protocol`...), and `.`
//! for "the item itself". Every other list is atomic: owned as a whole.

use std::collections::BTreeSet;

use serde_json::{Map, Value};

/// A path into an object, as field-set tokens.
pub type Path = Vec<String>;

/// The leaves a manager owns.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSet(pub BTreeSet<Path>);

/// Metadata fields the server owns; no manager ever does.
const SERVER_METADATA: &[&str] = &[
    "name",
    "namespace",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "managedFields",
    "selfLink",
    "generateName",
];

impl FieldSet {
    /// The fields an object sets: everything but `apiVersion`, `kind`,
    /// server-owned metadata and (unless `with_status`) `status`.
    pub fn of_object(object: &Value, with_status: bool) -> FieldSet {
        let mut set = FieldSet::default();
        let Some(map) = object.as_object() else {
            return set;
        };
        for (k, v) in map {
            match k.as_str() {
                "apiVersion" | "kind" => {}
                "status" if !with_status => {}
                "metadata" => {
                    if let Some(meta) = v.as_object() {
                        for (mk, mv) in meta {
                            if !SERVER_METADATA.contains(&mk.as_str()) {
                                walk(
                                    &mut set,
                                    vec!["f:metadata".into(), format!("f:{mk}")],
                                    mk,
                                    mv,
                                );
                            }
                        }
                    }
                }
                _ => walk(&mut set, vec![format!("f:{k}")], k, v),
            }
        }
        set
    }

    /// Reads a `fieldsV1` tree.
    pub fn from_fields_v1(tree: &Value) -> FieldSet {
        fn go(set: &mut FieldSet, prefix: &mut Path, node: &Value) {
            let Some(map) = node.as_object() else { return };
            if map.is_empty() {
                set.0.insert(prefix.clone());
                return;
            }
            for (k, child) in map {
                prefix.push(k.clone());
                go(set, prefix, child);
                prefix.pop();
            }
        }
        let mut set = FieldSet::default();
        if tree.as_object().is_some_and(|m| !m.is_empty()) {
            go(&mut set, &mut Vec::new(), tree);
        }
        set
    }

    /// Writes the `fieldsV1` tree; a path that is both a leaf and a prefix
    /// of another gets a `.` child, like list items on the real server.
    pub fn to_fields_v1(&self) -> Value {
        fn insert(node: &mut Map<String, Value>, path: &[String]) {
            if let Some((first, rest)) = path.split_first()
                && let Value::Object(m) = node
                    .entry(first.clone())
                    .or_insert_with(|| Value::Object(Map::new()))
            {
                insert(m, rest);
            }
        }
        let mut root = Map::new();
        for path in &self.0 {
            insert(&mut root, path);
        }
        // Mark inner nodes that are also leaves.
        fn mark(set: &FieldSet, prefix: &mut Path, node: &mut Map<String, Value>) {
            for (k, child) in node.iter_mut() {
                prefix.push(k.clone());
                if let Value::Object(m) = child
                    && !m.is_empty()
                {
                    if set.0.contains(prefix) {
                        m.insert(".".into(), Value::Object(Map::new()));
                    }
                    mark(set, prefix, m);
                }
                prefix.pop();
            }
        }
        mark(self, &mut Vec::new(), &mut root);
        Value::Object(root)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn difference(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.difference(&other.0).cloned().collect())
    }

    pub fn intersection(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.intersection(&other.0).cloned().collect())
    }

    pub fn union(&self, other: &FieldSet) -> FieldSet {
        FieldSet(self.0.union(&other.0).cloned().collect())
    }
}

fn walk(set: &mut FieldSet, prefix: Path, field: &str, value: &Value) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let mut p = prefix.clone();
                p.push(format!("f:{k}"));
                walk(set, p, k, v);
            }
        }
        Value::Array(items) if is_associative(field, items) => {
            for item in items {
                let mut p = prefix.clone();
                p.push(item_token(field, item).unwrap_or_default());
                set.0.insert(with(&p, "."));
                if let Some(map) = item.as_object() {
                    for (k, v) in map {
                        walk(set, with(&p, &format!("f:{k}")), k, v);
                    }
                }
            }
            if items.is_empty() {
                set.0.insert(prefix);
            }
        }
        _ => {
            set.0.insert(prefix);
        }
    }
}

fn with(p: &Path, tok: &str) -> Path {
    let mut p = p.clone();
    p.push(tok.to_string());
    p
}

/// The merge keys of the associative lists the double knows, by field name
/// (the real server reads them from the OpenAPI schema; these are the ones
/// of the core and apps types it serves). Lists of custom resources, such
/// as an HTTPRoute's `rules`, are atomic there too.
fn merge_keys(field: &str, item: &Value) -> Option<&'static [&'static str]> {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets" => Some(&["name"]),
        "volumeMounts" => Some(&["mountPath"]),
        "ports" if item.get("containerPort").is_some() => Some(&["containerPort", "protocol"]),
        "ports" if item.get("port").is_some() => Some(&["port", "protocol"]),
        _ => None,
    }
}

/// Whether a list is merged item by item (every item has its merge key).
pub fn is_associative(field: &str, items: &[Value]) -> bool {
    !items.is_empty() && items.iter().all(|i| item_token(field, i).is_some())
}

/// The `k:{...}` token of a list item, `None` when the list is atomic.
pub fn item_token(field: &str, item: &Value) -> Option<String> {
    let keys = merge_keys(field, item)?;
    let mut parts = Vec::new();
    for key in keys {
        let v = match (item.get(*key), *key) {
            (Some(v), _) => v.clone(),
            // The server defaults a port's protocol before keying it.
            (None, "protocol") => Value::String("TCP".into()),
            (None, _) => return None,
        };
        parts.push(format!("{}:{}", Value::String((*key).into()), v));
    }
    Some(format!("k:{{{}}}", parts.join(",")))
}

/// The value at a path, if the object has it.
pub fn get<'a>(object: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut at = object;
    let mut field = "";
    for tok in path {
        if tok == "." {
            continue;
        }
        if let Some(name) = tok.strip_prefix("f:") {
            at = at.as_object()?.get(name)?;
            field = name;
        } else {
            let items = at.as_array()?;
            at = items
                .iter()
                .find(|i| item_token(field, i).as_deref() == Some(tok.as_str()))?;
        }
    }
    Some(at)
}

/// Removes the value at a path (a field, or a whole list item for a path
/// ending in `k:..`/`.`); a path that is not there is left alone.
pub fn remove(object: &mut Value, path: &[String]) {
    let path: Vec<&String> = path.iter().filter(|t| *t != ".").collect();
    let Some((last, parents)) = path.split_last() else {
        return;
    };
    let mut at = object;
    let mut field = String::new();
    for tok in parents {
        let next = if let Some(name) = tok.strip_prefix("f:") {
            field = name.to_string();
            at.as_object_mut().and_then(|m| m.get_mut(name))
        } else {
            let f = field.clone();
            at.as_array_mut().and_then(|items| {
                items
                    .iter_mut()
                    .find(|i| item_token(&f, i).as_deref() == Some(tok.as_str()))
            })
        };
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
    if let Some(name) = last.strip_prefix("f:") {
        if let Some(m) = at.as_object_mut() {
            m.remove(name);
        }
    } else if let Some(items) = at.as_array_mut() {
        items.retain(|i| item_token(&field, i).as_deref() != Some(last.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn deployment() -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "template": {"spec": {"containers": [
                {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]}
            ]}}}
        })
    }

    #[test]
    fn object_fields_use_the_server_tokens() {
        let set = FieldSet::of_object(&deployment(), false);
        let tree = set.to_fields_v1();
        assert_eq!(tree["f:metadata"]["f:labels"]["f:app"], json!({}));
        assert_eq!(tree["f:spec"]["f:replicas"], json!({}));
        let c = &tree["f:spec"]["f:template"]["f:spec"]["f:containers"]["k:{\"name\":\"app\"}"];
        assert_eq!(c["."], json!({}));
        assert_eq!(c["f:image"], json!({}));
        assert_eq!(
            c["f:ports"]["k:{\"containerPort\":80,\"protocol\":\"TCP\"}"]["."],
            json!({})
        );
        assert!(tree.get("f:apiVersion").is_none());
        assert!(tree["f:metadata"].get("f:name").is_none());
        assert_eq!(FieldSet::from_fields_v1(&tree), set);
    }

    #[test]
    fn get_and_remove_follow_keyed_items() {
        let mut d = deployment();
        let set = FieldSet::of_object(&d, false);
        let image = set
            .0
            .iter()
            .find(|p| p.last().map(String::as_str) == Some("f:image"))
            .expect("image path")
            .clone();
        assert_eq!(get(&d, &image), Some(&json!("a:1")));
        let item: Path = image[..image.len() - 1].to_vec();
        remove(&mut d, &item);
        assert_eq!(d["spec"]["template"]["spec"]["containers"], json!([]));
        remove(&mut d, &["f:spec".into(), "f:replicas".into()]);
        assert!(d["spec"].get("replicas").is_none());
    }
}
