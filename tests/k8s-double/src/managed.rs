//! `metadata.managedFields`: one entry per (manager, operation,
//! subresource), each owning a [`FieldSet`]. Server-side apply reads and
//! writes them ([`crate::apply`]); every other write records an `Update`.

use serde_json::{Value, json};

use crate::clock;
use crate::fields::{self, FieldSet, Path};

/// One entry of `metadata.managedFields`.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub manager: String,
    /// `Apply` or `Update`.
    pub operation: String,
    pub api_version: String,
    pub time: String,
    pub subresource: String,
    pub fields: FieldSet,
}

impl Entry {
    pub fn is(&self, manager: &str, operation: &str, subresource: &str) -> bool {
        self.manager == manager && self.operation == operation && self.subresource == subresource
    }
}

/// The entries of an object (none when it has no `managedFields`).
pub fn read(object: &Value) -> Vec<Entry> {
    let Some(list) = object["metadata"]["managedFields"].as_array() else {
        return Vec::new();
    };
    list.iter()
        .map(|e| Entry {
            manager: text(&e["manager"]),
            operation: text(&e["operation"]),
            api_version: text(&e["apiVersion"]),
            time: text(&e["time"]),
            subresource: text(&e["subresource"]),
            fields: FieldSet::from_fields_v1(&e["fieldsV1"]),
        })
        .collect()
}

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

/// Writes the entries back, dropping those that own nothing.
pub fn write(object: &mut Value, entries: &[Entry]) {
    let list: Vec<Value> = entries
        .iter()
        .filter(|e| !e.fields.is_empty())
        .map(|e| {
            let mut v = json!({
                "manager": e.manager,
                "operation": e.operation,
                "apiVersion": e.api_version,
                "time": e.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": e.fields.to_fields_v1(),
            });
            if !e.subresource.is_empty() {
                v["subresource"] = json!(e.subresource);
            }
            v
        })
        .collect();
    if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.insert("managedFields".into(), Value::Array(list));
    }
}

/// Records a non-apply write (`PUT`, a merge/strategic/JSON patch, a scale):
/// the writer takes every field whose value it changed, from whoever owned
/// it (updates never conflict), and fields it removed belong to no one.
pub fn record_update(old: Option<&Value>, new: &mut Value, manager: &str, subresource: &str) {
    let status = subresource == "status";
    let empty = Value::Null;
    let old = old.unwrap_or(&empty);
    // A status write owns status fields only; any other write, none of them.
    let scope = |o: &Value| {
        let all = FieldSet::of_object(o, status);
        if status {
            FieldSet(
                all.0
                    .into_iter()
                    .filter(|p| p.first().map(String::as_str) == Some("f:status"))
                    .collect(),
            )
        } else {
            all
        }
    };
    let before = scope(old);
    let after = scope(new);
    // New fields, and fields whose value changed (an item's `.` marker
    // changes only when the item is new).
    let is_marker = |p: &Path| p.last().map(String::as_str) == Some(".");
    let changed = FieldSet(
        after
            .0
            .iter()
            .filter(|p| {
                !before.0.contains(*p)
                    || (!is_marker(p) && fields::get(old, p) != fields::get(new, p))
            })
            .cloned()
            .collect(),
    );
    let removed = before.difference(&after);
    if changed.is_empty() && removed.is_empty() {
        // Nothing changed: keep the entries exactly (no new timestamps).
        let entries = read(old);
        write(new, &entries);
        return;
    }
    let mut entries = read(old);
    let api_version = text(&new["apiVersion"]);
    for e in entries.iter_mut() {
        e.fields = e.fields.difference(&changed).difference(&removed);
    }
    let taken = changed.clone();
    match entries
        .iter_mut()
        .find(|e| e.is(manager, "Update", subresource))
    {
        Some(e) => {
            e.fields = e.fields.union(&taken);
            e.time = clock::now();
            e.api_version = api_version;
        }
        None => entries.push(Entry {
            manager: manager.to_string(),
            operation: "Update".into(),
            api_version,
            time: clock::now(),
            subresource: subresource.to_string(),
            fields: taken,
        }),
    }
    write(new, &entries);
}

/// `.spec.template.spec.containers[name="app"].image`, the way the server
/// names a field in conflict messages.
pub fn render_path(path: &Path) -> String {
    let mut out = String::new();
    for tok in path {
        if let Some(name) = tok.strip_prefix("f:") {
            out.push('.');
            out.push_str(name);
        } else if let Some(key) = tok.strip_prefix("k:") {
            let parsed: Value = serde_json::from_str(key).unwrap_or(Value::Null);
            let parts: Vec<String> = parsed
                .as_object()
                .map(|m| m.iter().map(|(k, v)| format!("{k}={v}")).collect())
                .unwrap_or_default();
            out.push_str(&format!("[{}]", parts.join(",")));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_takes_what_it_changed() {
        let old = json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "managedFields": [{
                "manager": "envpack", "operation": "Apply", "apiVersion": "apps/v1", "time": "t",
                "fieldsType": "FieldsV1",
                "fieldsV1": {"f:spec": {"f:replicas": {}, "f:paused": {}}}
            }]},
            "spec": {"replicas": 2, "paused": false}
        });
        let mut new = old.clone();
        new["spec"]["replicas"] = json!(5);
        record_update(Some(&old), &mut new, "kubectl-scale", "scale");
        let entries = read(&new);
        assert_eq!(entries.len(), 2);
        assert_eq!(
            entries[0].fields.to_fields_v1(),
            json!({"f:spec": {"f:paused": {}}})
        );
        assert_eq!(entries[1].manager, "kubectl-scale");
        assert_eq!(entries[1].subresource, "scale");
        assert_eq!(
            entries[1].fields.to_fields_v1(),
            json!({"f:spec": {"f:replicas": {}}})
        );
    }

    #[test]
    fn paths_render_like_conflict_messages() {
        let p: Path = vec![
            "f:spec".into(),
            "f:containers".into(),
            "k:{\"name\":\"app\"}".into(),
            "f:image".into(),
        ];
        assert_eq!(render_path(&p), ".spec.containers[name=\"app\"].image");
    }
}
