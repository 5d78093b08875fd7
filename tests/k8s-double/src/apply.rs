//! Server-side apply: merge an applied configuration into the live object
//! under a field manager, with conflicts against the other managers.
//!
//! The rules of the real server (structured-merge-diff), at leaf
//! granularity:
//! - the applier comes to own exactly the fields of its configuration;
//! - a field it sets that another manager owns with a *different* value is
//!   a conflict (409), unless `force`, which takes the field from them; the
//!   same value is shared ownership, never a conflict;
//! - a field it owned before and no longer sets is removed, unless another
//!   manager still owns it;
//! - maps merge by key, associative lists item by item, other lists and
//!   scalars are replaced.

use serde_json::{Value, json};

use crate::clock;
use crate::fields::{self, FieldSet, Path};
use crate::managed::{self, Entry, render_path};
use crate::resources::ResourceType;
use crate::status::ApiError;

/// An apply request: who applies, and whether it takes contested fields.
#[derive(Debug, Clone, Copy)]
pub struct Applier<'a> {
    pub manager: &'a str,
    pub force: bool,
}

/// The object after applying `applied` to `live` (`None`: it is created).
/// Server-owned metadata is left to the caller.
pub fn apply(
    t: &ResourceType,
    live: Option<&Value>,
    applied: &Value,
    who: Applier<'_>,
) -> Result<Value, ApiError> {
    let name = applied["metadata"]["name"].as_str().unwrap_or_default();
    let new_set = FieldSet::of_object(applied, false);
    let api_version = applied["apiVersion"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(live) = live else {
        let mut created = applied.clone();
        drop_status(&mut created);
        let entry = own_entry(who.manager, &api_version, new_set);
        managed::write(&mut created, &[entry]);
        return Ok(created);
    };
    let mut entries = managed::read(live);
    let conflicts = find_conflicts(live, applied, &new_set, &entries, who.manager);
    if !conflicts.is_empty() && !who.force {
        return Err(conflict_error(t, name, &conflicts));
    }
    let mine = |e: &Entry| e.is(who.manager, "Apply", "");
    for e in entries.iter_mut().filter(|e| !mine(e)) {
        e.fields = e.fields.difference(&new_set_of_conflicts(&conflicts));
    }
    let previous = entries
        .iter()
        .find(|e| mine(e))
        .map(|e| e.fields.clone())
        .unwrap_or_default();
    let others = entries
        .iter()
        .filter(|e| !mine(e))
        .fold(FieldSet::default(), |acc, e| acc.union(&e.fields));
    let mut merged = live.clone();
    // Deepest first, so removing an item never strands its fields.
    let mut stale: Vec<Path> = previous
        .difference(&new_set)
        .difference(&others)
        .0
        .into_iter()
        .collect();
    stale.sort_by_key(|p| std::cmp::Reverse(p.len()));
    for p in &stale {
        fields::remove(&mut merged, p);
    }
    let mut config = applied.clone();
    drop_status(&mut config);
    if let Some(meta) = config.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("managedFields");
    }
    merge(&mut merged, &config, "");
    match entries.iter_mut().find(|e| mine(e)) {
        Some(e) if e.fields == new_set => {}
        Some(e) => {
            e.fields = new_set;
            e.time = clock::now();
            e.api_version = api_version;
        }
        None => entries.push(own_entry(who.manager, &api_version, new_set)),
    }
    managed::write(&mut merged, &entries);
    Ok(merged)
}

fn drop_status(object: &mut Value) {
    if let Some(m) = object.as_object_mut() {
        m.remove("status");
    }
}

fn own_entry(manager: &str, api_version: &str, fields: FieldSet) -> Entry {
    Entry {
        manager: manager.to_string(),
        operation: "Apply".into(),
        api_version: api_version.to_string(),
        time: clock::now(),
        subresource: String::new(),
        fields,
    }
}

/// A contested field: who owns it (manager, subresource, apiVersion).
#[derive(Debug, Clone)]
struct Conflict {
    manager: String,
    subresource: String,
    api_version: String,
    path: Path,
}

fn find_conflicts(
    live: &Value,
    applied: &Value,
    new_set: &FieldSet,
    entries: &[Entry],
    manager: &str,
) -> Vec<Conflict> {
    let mut out = Vec::new();
    for e in entries.iter().filter(|e| !e.is(manager, "Apply", "")) {
        for p in new_set.intersection(&e.fields).0 {
            // An item's own marker never conflicts: the item is the same.
            if p.last().map(String::as_str) == Some(".") {
                continue;
            }
            if fields::get(live, &p) != fields::get(applied, &p) {
                out.push(Conflict {
                    manager: e.manager.clone(),
                    subresource: e.subresource.clone(),
                    api_version: e.api_version.clone(),
                    path: p,
                });
            }
        }
    }
    out
}

fn new_set_of_conflicts(conflicts: &[Conflict]) -> FieldSet {
    FieldSet(conflicts.iter().map(|c| c.path.clone()).collect())
}

/// The 409 of the real server:
/// `Apply failed with 1 conflict: conflict with "kubectl-scale" with
/// subresource "scale" using apps/v1: .spec.replicas`.
fn conflict_error(t: &ResourceType, name: &str, conflicts: &[Conflict]) -> ApiError {
    let who = |c: &Conflict| {
        let sub = if c.subresource.is_empty() {
            String::new()
        } else {
            format!(" with subresource {:?}", c.subresource)
        };
        format!("{:?}{sub} using {}", c.manager, c.api_version)
    };
    let n = conflicts.len();
    let message = if let [c] = conflicts {
        format!(
            "Apply failed with 1 conflict: conflict with {}: {}",
            who(c),
            render_path(&c.path)
        )
    } else {
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        for c in conflicts {
            let w = who(c);
            match groups.iter_mut().find(|(g, _)| *g == w) {
                Some((_, paths)) => paths.push(render_path(&c.path)),
                None => groups.push((w, vec![render_path(&c.path)])),
            }
        }
        let body: Vec<String> = groups
            .iter()
            .map(|(w, paths)| {
                let lines: Vec<String> = paths.iter().map(|p| format!("- {p}")).collect();
                format!("conflicts with {w}:\n{}", lines.join("\n"))
            })
            .collect();
        format!("Apply failed with {n} conflicts: {}", body.join("\n"))
    };
    let causes: Vec<Value> = conflicts
        .iter()
        .map(|c| {
            json!({
                "reason": "FieldManagerConflict",
                "message": format!("conflict with {}", who(c)),
                "field": render_path(&c.path),
            })
        })
        .collect();
    let mut details = json!({"name": name, "kind": t.plural, "causes": causes});
    if !t.group.is_empty() {
        details["group"] = json!(t.group);
    }
    ApiError::new(409, "Conflict", message).with_details(details)
}

/// Merges `applied` into `live`: maps by key, associative lists by item
/// key, anything else replaced. `field` is the name `applied` sits under.
pub fn merge(live: &mut Value, applied: &Value, field: &str) {
    match (live, applied) {
        (Value::Object(l), Value::Object(a)) => {
            for (k, v) in a {
                match l.get_mut(k) {
                    Some(existing) => merge(existing, v, k),
                    None => {
                        l.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (Value::Array(l), Value::Array(a))
            if fields::is_associative(field, a) && fields::is_associative(field, l) =>
        {
            for item in a {
                let key = fields::item_token(field, item);
                match l.iter_mut().find(|i| fields::item_token(field, i) == key) {
                    Some(existing) => merge(existing, item, ""),
                    None => l.push(item.clone()),
                }
            }
        }
        (l, a) => *l = a.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;

    fn t() -> &'static ResourceType {
        by_plural("deployments").expect("served")
    }

    fn config(replicas: u64, image: &str) -> Value {
        json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": replicas, "template": {"spec": {"containers": [{"name": "app", "image": image}]}}}
        })
    }

    fn by(manager: &str, force: bool) -> Applier<'_> {
        Applier { manager, force }
    }

    #[test]
    fn reapplying_the_same_config_changes_nothing() {
        let created = apply(t(), None, &config(2, "a:1"), by("envpack", false)).expect("create");
        let again =
            apply(t(), Some(&created), &config(2, "a:1"), by("envpack", false)).expect("reapply");
        assert_eq!(created, again);
    }

    #[test]
    fn a_different_value_from_another_manager_conflicts() {
        let created = apply(t(), None, &config(2, "a:1"), by("envpack", false)).expect("create");
        let err = apply(t(), Some(&created), &config(3, "a:1"), by("other", false))
            .expect_err("conflict");
        assert_eq!(err.code, 409);
        assert_eq!(
            err.message,
            "Apply failed with 1 conflict: conflict with \"envpack\" using apps/v1: .spec.replicas"
        );
        assert_eq!(
            err.details.as_ref().expect("details")["causes"][0]["field"],
            ".spec.replicas"
        );
        // The same value is shared, not contested.
        let shared =
            apply(t(), Some(&created), &config(2, "a:1"), by("other", false)).expect("shared");
        assert_eq!(managed::read(&shared).len(), 2);
    }

    #[test]
    fn force_takes_the_field_and_dropped_fields_are_removed() {
        let created = apply(t(), None, &config(2, "a:1"), by("envpack", false)).expect("create");
        let forced =
            apply(t(), Some(&created), &config(3, "b:2"), by("other", true)).expect("forced");
        assert_eq!(forced["spec"]["replicas"], 3);
        let entries = managed::read(&forced);
        let envpack = entries
            .iter()
            .find(|e| e.manager == "envpack")
            .expect("envpack entry");
        assert!(
            !envpack
                .fields
                .0
                .contains(&vec!["f:spec".to_string(), "f:replicas".to_string()])
        );
        // envpack stops setting labels: they go, as no one else owns them... but
        // "other" applied them too, so they stay.
        let mut no_labels = config(2, "a:1");
        no_labels["metadata"]
            .as_object_mut()
            .expect("map")
            .remove("labels");
        no_labels["spec"]["replicas"] = json!(3);
        no_labels["spec"]["template"]["spec"]["containers"][0]["image"] = json!("b:2");
        let after = apply(t(), Some(&forced), &no_labels, by("envpack", false)).expect("apply");
        assert_eq!(after["metadata"]["labels"]["app"], "web");
        let mut alone = apply(t(), None, &config(2, "a:1"), by("envpack", false)).expect("create");
        alone = apply(t(), Some(&alone), &no_labels, by("envpack", false)).expect("apply");
        assert!(
            alone["metadata"]
                .get("labels")
                .is_none_or(|l| l.get("app").is_none())
        );
    }

    #[test]
    fn containers_merge_by_name() {
        let mut live = config(1, "a:1");
        let patch = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "side", "image": "s:1"}, {"name": "app", "image": "a:2"}
        ]}}}});
        merge(&mut live, &patch, "");
        let cs = &live["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0], json!({"name": "app", "image": "a:2"}));
        assert_eq!(cs[1]["name"], "side");
    }
}
