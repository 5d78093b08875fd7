//! The object store: objects by (resource, namespace, name), one global
//! `resourceVersion` counter bumped by every write, server-owned metadata
//! (`uid`, `creationTimestamp`, `generation`), and the watch fan-out.

use std::collections::{BTreeMap, VecDeque};

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::clock;
use crate::resources::{self, ResourceType};
use crate::selector::{FieldSelector, LabelSelector};
use crate::status::ApiError;

/// How many past events a watch with an old `resourceVersion` can replay.
const HISTORY: usize = 4096;

/// (plural, namespace — empty when cluster-scoped —, name).
pub type Key = (String, String, String);

/// One change, as a watch reports it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub plural: String,
    pub namespace: String,
    /// `ADDED`, `MODIFIED` or `DELETED`.
    pub kind: &'static str,
    pub object: Value,
}

/// What a watcher wants to hear about.
#[derive(Debug, Clone)]
pub struct WatchFilter {
    pub plural: String,
    pub namespace: Option<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
}

impl WatchFilter {
    pub fn matches(&self, plural: &str, namespace: &str, object: &Value) -> bool {
        self.plural == plural
            && self.namespace.as_deref().is_none_or(|n| n == namespace)
            && self.labels.matches(object)
            && self.fields.matches(object)
    }
}

/// The stored objects and the counters.
#[derive(Debug)]
pub struct Store {
    objects: BTreeMap<Key, Value>,
    rv: u64,
    uids: u64,
    history: VecDeque<Change>,
    watchers: Vec<(WatchFilter, mpsc::UnboundedSender<Change>)>,
}

impl Default for Store {
    fn default() -> Self {
        let mut s = Store {
            objects: BTreeMap::new(),
            rv: 0,
            uids: 0,
            history: VecDeque::new(),
            watchers: Vec::new(),
        };
        for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
            s.ensure_namespace(ns);
        }
        s
    }
}

fn key(t: &ResourceType, namespace: &str, name: &str) -> Key {
    let ns = if t.namespaced { namespace } else { "" };
    (t.plural.to_string(), ns.to_string(), name.to_string())
}

impl Store {
    /// The current global `resourceVersion`.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    pub fn get(&self, t: &ResourceType, namespace: &str, name: &str) -> Option<&Value> {
        self.objects.get(&key(t, namespace, name))
    }

    /// Objects of a type, in one namespace or all (`None`), that match.
    pub fn list(
        &self,
        t: &ResourceType,
        namespace: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((p, ns, _), o)| {
                p == t.plural
                    && namespace.is_none_or(|n| n == ns)
                    && labels.matches(o)
                    && fields.matches(o)
            })
            .map(|(_, o)| o.clone())
            .collect()
    }

    /// Every stored Deployment (the pods and events are derived from them).
    pub fn deployments(&self, namespace: Option<&str>) -> Vec<Value> {
        self.objects
            .iter()
            .filter(|((p, ns, _), _)| p == "deployments" && namespace.is_none_or(|n| n == ns))
            .map(|(_, o)| o.clone())
            .collect()
    }

    pub fn namespace_exists(&self, name: &str) -> bool {
        self.objects
            .contains_key(&("namespaces".to_string(), String::new(), name.to_string()))
    }

    /// Creates a namespace if it is missing (seeding, and the test handle).
    pub fn ensure_namespace(&mut self, name: &str) {
        if self.namespace_exists(name) {
            return;
        }
        if let Some(t) = resources::by_plural("namespaces") {
            let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {"finalizers": ["kubernetes"]}, "status": {"phase": "Active"}});
            let ns = self.stamp_new(t, ns);
            self.commit(t, ns, "ADDED");
        }
    }

    /// Fills the server-owned metadata of an object about to be created;
    /// `resourceVersion` is that of the write, given by [`Store::commit`].
    pub fn stamp_new(&mut self, t: &ResourceType, mut object: Value) -> Value {
        self.uids += 1;
        let uid = uid(self.uids);
        if let Some(meta) = object.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.insert("uid".into(), json!(uid));
            meta.insert("creationTimestamp".into(), json!(clock::now()));
            if t.generation {
                meta.insert("generation".into(), json!(1));
            }
        }
        object
    }

    /// Sets `generation` on an updated object: bumped when anything but
    /// metadata and status changed, for types that keep one.
    pub fn next_generation(t: &ResourceType, old: &Value, new: &mut Value) {
        if !t.generation {
            return;
        }
        let strip = |v: &Value| {
            let mut v = v.clone();
            if let Some(m) = v.as_object_mut() {
                m.remove("metadata");
                m.remove("status");
            }
            v
        };
        let g = old["metadata"]["generation"].as_u64().unwrap_or(1);
        let g = if strip(old) == strip(new) { g } else { g + 1 };
        new["metadata"]["generation"] = json!(g);
    }

    /// Writes an object with the next `resourceVersion` and tells watchers.
    pub fn commit(&mut self, t: &ResourceType, mut object: Value, kind: &'static str) -> Value {
        self.rv += 1;
        object["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        let ns = object["metadata"]["namespace"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        let name = object["metadata"]["name"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        self.objects.insert(key(t, &ns, &name), object.clone());
        self.publish(t, &ns, kind, object.clone());
        object
    }

    /// Removes an object (and, for a namespace, everything in it).
    pub fn delete(
        &mut self,
        t: &ResourceType,
        namespace: &str,
        name: &str,
    ) -> Result<Value, ApiError> {
        let mut gone = self
            .objects
            .remove(&key(t, namespace, name))
            .ok_or_else(|| ApiError::not_found(t, name))?;
        if t.plural == "namespaces" {
            let inside: Vec<Key> = self
                .objects
                .keys()
                .filter(|(_, ns, _)| ns == name)
                .cloned()
                .collect();
            for k in inside {
                if let (Some(o), Some(kt)) = (self.objects.remove(&k), resources::by_plural(&k.0)) {
                    self.rv += 1;
                    let mut o = o;
                    o["metadata"]["resourceVersion"] = json!(self.rv.to_string());
                    self.publish(kt, &k.1, "DELETED", o);
                }
            }
        }
        self.rv += 1;
        gone["metadata"]["resourceVersion"] = json!(self.rv.to_string());
        self.publish(t, namespace, "DELETED", gone.clone());
        Ok(gone)
    }

    fn publish(&mut self, t: &ResourceType, namespace: &str, kind: &'static str, object: Value) {
        let change = Change {
            rv: self.rv,
            plural: t.plural.to_string(),
            namespace: if t.namespaced {
                namespace.to_string()
            } else {
                String::new()
            },
            kind,
            object,
        };
        self.watchers.retain(|(f, tx)| {
            !f.matches(&change.plural, &change.namespace, &change.object)
                || tx.send(change.clone()).is_ok()
        });
        self.history.push_back(change);
        if self.history.len() > HISTORY {
            self.history.pop_front();
        }
    }

    /// Starts a watch: the changes after `since` (or, without one, every
    /// current object as `ADDED`), then every later change, in order.
    /// `Err` when `since` is older than the history kept (410 Gone).
    pub fn watch(
        &mut self,
        t: &ResourceType,
        filter: WatchFilter,
        since: Option<u64>,
    ) -> Result<(mpsc::UnboundedReceiver<Change>, usize), ApiError> {
        let (tx, rx) = mpsc::unbounded_channel();
        let mut initial = 0;
        match since {
            Some(rv) => {
                let oldest = self.history.front().map(|c| c.rv).unwrap_or(self.rv + 1);
                if rv + 1 < oldest && rv < self.rv {
                    return Err(ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {rv} ({})", oldest - 1),
                    ));
                }
                for c in self.history.iter().filter(|c| c.rv > rv) {
                    if filter.matches(&c.plural, &c.namespace, &c.object) {
                        let _ = tx.send(c.clone());
                    }
                }
            }
            None => {
                for o in self.list(
                    t,
                    filter.namespace.as_deref(),
                    &filter.labels,
                    &filter.fields,
                ) {
                    initial += 1;
                    let _ = tx.send(Change {
                        rv: self.rv,
                        plural: t.plural.to_string(),
                        namespace: o["metadata"]["namespace"]
                            .as_str()
                            .unwrap_or_default()
                            .to_string(),
                        kind: "ADDED",
                        object: o,
                    });
                }
            }
        }
        self.watchers.push((filter, tx));
        Ok((rx, initial))
    }
}

/// A UUID-shaped, unique, deterministic uid.
fn uid(n: u64) -> String {
    let h = format!("{n:032x}");
    format!(
        "{}-{}-4{}-8{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_bump_the_global_resource_version() {
        let mut s = Store::default();
        let t = resources::by_plural("configmaps").expect("served");
        let before = s.resource_version();
        let o = s.stamp_new(t, json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c", "namespace": "default"}}));
        let o = s.commit(t, o, "ADDED");
        assert_eq!(
            o["metadata"]["resourceVersion"],
            json!((before + 1).to_string())
        );
        assert!(o["metadata"]["uid"].as_str().is_some_and(|u| u.len() == 36));
        assert!(o["metadata"].get("generation").is_none());
        s.delete(t, "default", "c").expect("deleted");
        assert_eq!(s.resource_version(), before + 2);
        assert_eq!(s.delete(t, "default", "c").map_err(|e| e.code), Err(404));
    }

    #[test]
    fn generation_moves_with_the_spec_only() {
        let t = resources::by_plural("deployments").expect("served");
        let old = json!({"metadata": {"generation": 1}, "spec": {"replicas": 1}});
        let mut same = json!({"metadata": {"generation": 1, "labels": {"a": "b"}}, "spec": {"replicas": 1}, "status": {"x": 1}});
        Store::next_generation(t, &old, &mut same);
        assert_eq!(same["metadata"]["generation"], 1);
        let mut changed = json!({"metadata": {"generation": 1}, "spec": {"replicas": 2}});
        Store::next_generation(t, &old, &mut changed);
        assert_eq!(changed["metadata"]["generation"], 2);
    }
}
