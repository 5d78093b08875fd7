//! Writes: create (POST), replace (PUT), the four patch types (server-side
//! apply among them), on objects and on the `status` and `scale`
//! subresources. Every write goes through [`finish`]: defaults, admission,
//! server metadata, the simulated rollout, then the store (or nothing, for
//! `dryRun=All`).

use serde_json::{Value, json};

use crate::apply::{self, Applier};
use crate::controllers::{self, Settle};
use crate::managed;
use crate::patch;
use crate::resources::{self, ResourceType};
use crate::rollout;
use crate::routes::Target;
use crate::schema;
use crate::server::{Call, Reply, Shared, State};
use crate::status::ApiError;
use crate::store::Store;
use crate::validate;

/// The request body as a JSON value (YAML for `application/apply-patch+yaml`
/// and `application/yaml`; JSON is YAML too).
pub fn body(call: &Call) -> Result<Value, ApiError> {
    if call.content_type.contains("protobuf") {
        return crate::proto::decode(&call.body)
            .ok_or_else(|| ApiError::unsupported_media(&call.content_type));
    }
    if call.content_type.contains("cbor") {
        return Err(ApiError::unsupported_media(&call.content_type));
    }
    let parsed = if call.content_type.contains("yaml") {
        serde_norway::from_slice::<Value>(&call.body).map_err(|e| e.to_string())
    } else {
        serde_json::from_slice::<Value>(&call.body).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| {
        ApiError::bad_request(format!("the body of the request could not be decoded: {e}"))
    })
}

/// `dryRun=All`; any other value is refused like the real server does.
pub fn dry_run(call: &Call) -> Result<bool, ApiError> {
    match call.param("dryRun") {
        None | Some("") => Ok(false),
        Some("All") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "Invalid dry run value: {other:?}: supported value is \"All\""
        ))),
    }
}

/// `fieldValidation=Strict` (unknown fields are refused); `Warn`, `Ignore`
/// or none drop them.
fn strict(call: &Call) -> Result<bool, ApiError> {
    match call.param("fieldValidation") {
        None | Some("" | "Ignore" | "Warn") => Ok(false),
        Some("Strict") => Ok(true),
        Some(other) => Err(ApiError::bad_request(format!(
            "fieldValidation: Unsupported value: {other:?}: supported values: \"Ignore\", \"Strict\", \"Warn\""
        ))),
    }
}

/// `fieldManager=`, or what the real server derives from the user agent
/// (`kubectl/v1.37.1 (linux/amd64) ...` gives `kubectl`).
fn manager(call: &Call) -> Result<String, ApiError> {
    let m = match call.param("fieldManager") {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => call
            .user_agent
            .split('/')
            .next()
            .unwrap_or_default()
            .to_string(),
    };
    if m.len() > 128 {
        return Err(ApiError::bad_request(
            "fieldManager: Too long: may not be more than 128 bytes",
        ));
    }
    Ok(if m.is_empty() { "unknown".into() } else { m })
}

fn names(target: &Target) -> (&'static ResourceType, String, String) {
    let ns = if target.t.namespaced {
        target.namespace.clone().unwrap_or_default()
    } else {
        String::new()
    };
    (target.t, ns, target.name.clone().unwrap_or_default())
}

/// POST: create; `metadata.generateName` gets a random-looking suffix.
pub fn create(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let (t, ns, _) = names(target);
    let mut object = body(call)?;
    validate::matches_url(t, &object, target.namespace.as_deref(), None)?;
    let manager = manager(call)?;
    let mut s = state.lock();
    if object["metadata"]["name"]
        .as_str()
        .is_none_or(str::is_empty)
        && let Some(prefix) = object["metadata"]["generateName"].as_str()
    {
        let seed = format!("{prefix}{}", s.store.resource_version());
        object["metadata"]["name"] = json!(format!("{prefix}{}", rollout::suffix(&seed)));
    }
    let name = object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if s.store.get(t, &ns, &name).is_some() {
        return Err(ApiError::already_exists(t, &name));
    }
    let pending = Pending {
        t,
        ns: &ns,
        old: None,
        manager: &manager,
        subresource: "",
        managed: false,
        strict: strict(call)?,
    };
    let done = finish(&mut s, &pending, object, dry_run(call)?)?;
    drop(s);
    controllers::schedule(state, done.settle);
    Ok(Reply::Warned(201, done.object, done.warnings))
}

/// PUT: replace, checking `resourceVersion` when the body carries one.
pub fn update(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let (t, ns, name) = names(target);
    let sent = body(call)?;
    let s = state.lock();
    let old = s
        .store
        .get(t, &ns, &name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, &name))?;
    if let Some(rv) = sent["metadata"]["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::stale(t, &name));
    }
    replace_with(state, s, call, target, old, sent)
}

/// PATCH: apply, merge, strategic merge or JSON patch.
pub fn patch(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let (t, ns, name) = names(target);
    let kind = call
        .content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_string();
    if kind == "application/apply-patch+yaml" {
        return server_side_apply(state, call, target);
    }
    if call.param("force").is_some() {
        return Err(ApiError::bad_request(
            "force: Forbidden: may not be specified for non-apply patch",
        ));
    }
    let p = body(call)?;
    let s = state.lock();
    let old = s
        .store
        .get(t, &ns, &name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, &name))?;
    let mut patched = match target.subresource.as_deref() {
        Some("scale") => scale_of(&old),
        _ => old.clone(),
    };
    let applied = match kind.as_str() {
        "application/merge-patch+json" => {
            patch::merge_patch(&mut patched, &p);
            Ok(())
        }
        "application/strategic-merge-patch+json" if t.group == "gateway.networking.k8s.io" => {
            return Err(ApiError::unsupported_media(&kind));
        }
        "application/strategic-merge-patch+json" => patch::strategic_merge_patch(&mut patched, &p),
        "application/json-patch+json" => patch::json_patch(&mut patched, &p),
        _ => return Err(ApiError::unsupported_media(&call.content_type)),
    };
    applied.map_err(|e| {
        ApiError::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {e}", t.kind),
        )
    })?;
    if let Some(rv) = patched["metadata"]["resourceVersion"].as_str()
        && Some(rv) != old["metadata"]["resourceVersion"].as_str()
    {
        return Err(ApiError::stale(t, &name));
    }
    replace_with(state, s, call, target, old, patched)
}

/// The shared tail of PUT and non-apply PATCH: the new object (or, for a
/// subresource, the part of it the subresource owns) replaces the old.
fn replace_with(
    state: &State,
    mut s: std::sync::MutexGuard<'_, Shared>,
    call: &Call,
    target: &Target,
    old: Value,
    sent: Value,
) -> Result<Reply, ApiError> {
    let (t, ns, name) = names(target);
    let sub = target.subresource.clone().unwrap_or_default();
    let new = match sub.as_str() {
        "scale" => {
            let replicas = sent["spec"]["replicas"].as_i64().unwrap_or(-1);
            if replicas < 0 {
                return Err(ApiError::invalid(
                    t,
                    &name,
                    &[(
                        "spec.replicas",
                        format!(
                            "Invalid value: {}: must be greater than or equal to 0",
                            sent["spec"]["replicas"]
                        ),
                    )],
                ));
            }
            let mut d = old.clone();
            d["spec"]["replicas"] = json!(replicas);
            d
        }
        "status" => {
            if !sent["status"].is_object() {
                return Err(ApiError::bad_request(
                    "the body's \"status\" must be an object",
                ));
            }
            let mut o = old.clone();
            o["status"] = sent["status"].clone();
            o
        }
        _ => {
            validate::matches_url(
                t,
                &sent,
                Some(&ns).filter(|n| !n.is_empty()).map(|n| n.as_str()),
                Some(&name),
            )?;
            let mut o = sent;
            // The main resource never writes status where a subresource does.
            if t.has_subresource("status").is_some() {
                o["status"] = old["status"].clone();
            }
            o
        }
    };
    let manager = manager(call)?;
    let pending = Pending {
        t,
        ns: &ns,
        old: Some(&old),
        manager: &manager,
        subresource: &sub,
        managed: false,
        strict: strict(call)?,
    };
    let done = finish(&mut s, &pending, new, dry_run(call)?)?;
    drop(s);
    controllers::schedule(state, done.settle);
    let answer = if sub == "scale" {
        scale_of(&done.object)
    } else {
        done.object
    };
    Ok(Reply::Warned(200, answer, done.warnings))
}

fn server_side_apply(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let (t, ns, name) = names(target);
    if target.subresource.is_some() {
        return Err(ApiError::unsupported_media(
            "application/apply-patch+yaml on a subresource",
        ));
    }
    let Some(manager) = call.param("fieldManager").filter(|m| !m.is_empty()) else {
        return Err(ApiError::bad_request(
            "PATCH, application/apply-patch+yaml: fieldManager is required for apply requests (add ?fieldManager=NAME)",
        ));
    };
    let force = match call.param("force") {
        None | Some("false") => false,
        Some("true") => true,
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "invalid force value {other:?}: expected true or false"
            )));
        }
    };
    let mut config = body(call)?;
    validate::matches_url(t, &config, target.namespace.as_deref(), Some(&name))?;
    config["metadata"]["name"] = json!(name);
    if t.namespaced {
        config["metadata"]["namespace"] = json!(ns);
    }
    let mut s = state.lock();
    let old = s.store.get(t, &ns, &name).cloned();
    // A resourceVersion in an applied configuration is a precondition.
    if let Some(rv) = config["metadata"]["resourceVersion"].as_str()
        && old
            .as_ref()
            .and_then(|o| o["metadata"]["resourceVersion"].as_str())
            != Some(rv)
    {
        return Err(ApiError::stale(t, &name));
    }
    if let Some(m) = config["metadata"].as_object_mut() {
        m.remove("resourceVersion");
    }
    let unknown = schema::prune(t, &mut config);
    if strict(call)? && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!(".{f}: field not declared in schema"))
            .collect();
        return Err(ApiError::bad_request(format!(
            "failed to create typed patch object ({ns}/{name}; {}, Kind={}): {}",
            t.api_version(),
            t.kind,
            fields.join(", ")
        )));
    }
    let merged = apply::apply(t, old.as_ref(), &config, Applier { manager, force })?;
    let pending = Pending {
        t,
        ns: &ns,
        old: old.as_ref(),
        manager,
        subresource: "",
        managed: true,
        strict: false,
    };
    let done = finish(&mut s, &pending, merged, dry_run(call)?)?;
    drop(s);
    controllers::schedule(state, done.settle);
    let warnings = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    Ok(Reply::Warned(
        if old.is_some() { 200 } else { 201 },
        done.object,
        warnings,
    ))
}

/// The `autoscaling/v1` `Scale` of a Deployment.
pub fn scale_of(d: &Value) -> Value {
    let m = &d["metadata"];
    let selector: Vec<String> = d["spec"]["selector"]["matchLabels"]
        .as_object()
        .map(|l| {
            l.iter()
                .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or_default()))
                .collect()
        })
        .unwrap_or_default();
    json!({
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {"name": m["name"], "namespace": m["namespace"], "uid": m["uid"], "resourceVersion": m["resourceVersion"], "creationTimestamp": m["creationTimestamp"]},
        "spec": {"replicas": rollout::replicas(d)},
        "status": {"replicas": d["status"]["replicas"].as_u64().unwrap_or(0), "selector": selector.join(",")},
    })
}

/// A finished write: the object as stored (or as it would be, for a dry
/// run), the rollout to settle later, the warnings for the client.
struct Finished {
    object: Value,
    settle: Option<Settle>,
    warnings: Vec<String>,
}

/// A write about to be finished.
pub struct Pending<'a> {
    pub t: &'static ResourceType,
    pub ns: &'a str,
    pub old: Option<&'a Value>,
    pub manager: &'a str,
    pub subresource: &'a str,
    /// Whether `managedFields` were already worked out (server-side apply).
    managed: bool,
    /// `fieldValidation=Strict`: unknown fields are refused, not dropped.
    strict: bool,
}

fn finish(
    s: &mut Shared,
    p: &Pending<'_>,
    mut new: Value,
    dry_run: bool,
) -> Result<Finished, ApiError> {
    let t = p.t;
    if t.namespaced {
        new["metadata"]["namespace"] = json!(p.ns);
    }
    let unknown = schema::prune(t, &mut new);
    let warnings: Vec<String> = unknown
        .iter()
        .map(|f| format!("unknown field {f:?}"))
        .collect();
    if p.strict && !unknown.is_empty() {
        let fields: Vec<String> = unknown
            .iter()
            .map(|f| format!("unknown field {f:?}"))
            .collect();
        return Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            t.kind,
            t.version,
            t.kind,
            fields.join(", ")
        )));
    }
    validate::defaults(t, &mut new, p.old);
    validate::object(t, &new)?;
    match p.old {
        Some(old) => {
            if let Some(m) = new["metadata"].as_object_mut() {
                for k in [
                    "uid",
                    "creationTimestamp",
                    "name",
                    "generation",
                    "resourceVersion",
                ] {
                    match old["metadata"].get(k) {
                        Some(v) => m.insert(k.to_string(), v.clone()),
                        None => m.remove(k),
                    };
                }
            }
            Store::next_generation(t, old, &mut new);
        }
        None => {
            if let Some(m) = new["metadata"].as_object_mut() {
                for k in ["uid", "resourceVersion", "generation", "creationTimestamp"] {
                    m.remove(k);
                }
            }
            new = s.store.stamp_new(t, new);
        }
    }
    if !p.managed {
        managed::record_update(p.old, &mut new, p.manager, p.subresource);
    }
    let settle = controllers::start_rollout(s, p, &mut new);
    controllers::gateway_status(s, p, &mut new);
    if p.old == Some(&new) || dry_run {
        return Ok(Finished {
            object: new,
            settle: None,
            warnings,
        });
    }
    let kind = if p.old.is_some() { "MODIFIED" } else { "ADDED" };
    let stored = s.store.commit(t, new, kind);
    controllers::remember_served(s, &stored);
    Ok(Finished {
        object: stored,
        settle,
        warnings,
    })
}

pub fn name_of(o: &Value) -> String {
    o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Creates or replaces an object directly (the test handle's `insert`).
pub fn direct(state: &State, object: Value) -> Result<Value, ApiError> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let t = resources::by_kind(api_version, kind)
        .filter(|t| t.stored)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no stored resource of apiVersion {api_version:?} and kind {kind:?} is served"
            ))
        })?;
    validate::matches_url(t, &object, None, None)?;
    let ns = if t.namespaced {
        object["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
            .to_string()
    } else {
        String::new()
    };
    let name = name_of(&object);
    let mut s = state.lock();
    if t.namespaced && !s.store.namespace_exists(&ns) {
        let nst = resources::by_plural("namespaces")
            .ok_or_else(|| ApiError::bad_request("namespaces are not served"))?;
        return Err(ApiError::not_found(nst, &ns));
    }
    let old = s.store.get(t, &ns, &name).cloned();
    let pending = Pending {
        t,
        ns: &ns,
        old: old.as_ref(),
        manager: "envpack-k8s-double",
        subresource: "",
        managed: false,
        strict: false,
    };
    let done = finish(&mut s, &pending, object, false)?;
    drop(s);
    controllers::schedule(state, done.settle);
    Ok(done.object)
}
