//! Dispatch: discovery and OpenAPI documents, then resource calls, with
//! the verb checks (served verbs, the scripted RBAC table) every call
//! passes. Reads and deletes are here; writes are in [`crate::write`].

use hyper::Method;
use serde_json::{Value, json};

use crate::resources::{self, ResourceType};
use crate::routes::{Route, Target};
use crate::selector::{FieldSelector, LabelSelector};
use crate::server::{Call, Reply, Shared, State};
use crate::status::{self, ApiError};
use crate::{discovery, openapi, pods, table, watch, write};

pub fn dispatch(state: &State, call: &Call) -> Reply {
    let found = |v: Option<Value>| match v {
        Some(v) => Reply::Json(200, v),
        None => ApiError::no_route(&call.path).into(),
    };
    match &call.route {
        Route::Version => Reply::Json(200, discovery::version()),
        Route::CoreVersions => Reply::Json(200, discovery::core_versions(&state.lock().address)),
        Route::Groups => Reply::Json(200, discovery::groups()),
        Route::Group(g) => found(discovery::api_group(g)),
        Route::GroupVersion(g, v) => found(discovery::resource_list(g, v)),
        Route::OpenApiV3Root => Reply::Json(200, openapi::root()),
        Route::OpenApiV3(p) => found(openapi::document(p)),
        Route::Resource(target) => resource(state, call, target).unwrap_or_else(Reply::from),
        Route::OpenApiV2 | Route::Health | Route::Unknown => ApiError::no_route(&call.path).into(),
    }
}

/// The RBAC verb of a call.
fn verb(call: &Call, target: &Target) -> &'static str {
    let watching = matches!(call.param("watch"), Some("true" | "1"));
    match (&call.method, target.name.is_some()) {
        (&Method::GET, false) if watching => "watch",
        (&Method::GET, false) => "list",
        (&Method::GET, true) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, false) => "deletecollection",
        (&Method::DELETE, true) => "delete",
        _ => "unknown",
    }
}

fn resource(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let t = target.t;
    let verb = verb(call, target);
    let sub = target.subresource.as_deref().unwrap_or_default();
    let served = match t.has_subresource(sub) {
        Some(s) => s.verbs.contains(&verb),
        None => t.verbs.contains(&verb),
    };
    if !served {
        return Err(ApiError::method_not_allowed(t, verb));
    }
    let name = target.name.as_deref().unwrap_or_default();
    if !state.lock().script.allows(verb, t.plural, sub) {
        return Err(ApiError::forbidden(
            t,
            name,
            target.namespace.as_deref(),
            verb,
        ));
    }
    let ns = target.namespace.as_deref();
    if let Some(ns) = ns
        && matches!(verb, "create" | "update" | "patch")
        && !state.lock().store.namespace_exists(ns)
    {
        let nst =
            resources::by_plural("namespaces").ok_or_else(|| ApiError::no_route(&call.path))?;
        return Err(ApiError::not_found(nst, ns));
    }
    match verb {
        "list" => list(state, call, t, ns),
        "watch" => watch::start(state, call, t, ns),
        "get" => get(state, call, target),
        "create" if t.plural == "selfsubjectaccessreviews" => review(state, call),
        "create" => write::create(state, call, target),
        "update" => write::update(state, call, target),
        "patch" => write::patch(state, call, target),
        "delete" => delete(state, call, target),
        "deletecollection" => delete_collection(state, call, t, ns),
        _ => Err(ApiError::method_not_allowed(t, verb)),
    }
}

/// The selectors of a list or watch call (400 when they do not parse).
pub fn selectors(call: &Call) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let labels = LabelSelector::parse(call.param("labelSelector").unwrap_or_default())
        .map_err(|e| ApiError::bad_request(format!("unable to parse requirement: {e}")))?;
    let fields = FieldSelector::parse(call.param("fieldSelector").unwrap_or_default())
        .map_err(ApiError::bad_request)?;
    Ok((labels, fields))
}

/// The objects of a type: stored ones, or the pods and events derived
/// from the Deployments.
pub fn objects(
    shared: &Shared,
    t: &ResourceType,
    ns: Option<&str>,
    labels: &LabelSelector,
    fields: &FieldSelector,
) -> Vec<Value> {
    let derived: Vec<Value> = match t.plural {
        "pods" => shared
            .store
            .deployments(ns)
            .iter()
            .flat_map(|d| pods::pods(d, &shared.script, shared.served_template(d)))
            .collect(),
        "events" => shared
            .store
            .deployments(ns)
            .iter()
            .flat_map(|d| pods::events(d, &shared.script, shared.served_template(d)))
            .collect(),
        _ => return shared.store.list(t, ns, labels, fields),
    };
    derived
        .into_iter()
        .filter(|o| labels.matches(o) && fields.matches(o))
        .collect()
}

fn list(state: &State, call: &Call, t: &ResourceType, ns: Option<&str>) -> Result<Reply, ApiError> {
    let (labels, fields) = selectors(call)?;
    let s = state.lock();
    let items = objects(&s, t, ns, &labels, &fields);
    let rv = s.store.resource_version().to_string();
    if table::wanted(&call.accept) {
        return Ok(Reply::Json(200, table::of(t, &items, &rv)));
    }
    Ok(Reply::Json(
        200,
        json!({
            "kind": format!("{}List", t.kind),
            "apiVersion": t.api_version(),
            "metadata": {"resourceVersion": rv},
            "items": items,
        }),
    ))
}

fn find(shared: &Shared, target: &Target) -> Result<Value, ApiError> {
    let t = target.t;
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_deref().unwrap_or_default();
    if t.stored {
        return shared
            .store
            .get(t, ns, name)
            .cloned()
            .ok_or_else(|| ApiError::not_found(t, name));
    }
    let all = objects(
        shared,
        t,
        Some(ns),
        &LabelSelector::default(),
        &FieldSelector::default(),
    );
    all.into_iter()
        .find(|o| o["metadata"]["name"] == name)
        .ok_or_else(|| ApiError::not_found(t, name))
}

fn get(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let s = state.lock();
    let object = find(&s, target)?;
    if target.subresource.as_deref() == Some("scale") {
        return Ok(Reply::Json(200, write::scale_of(&object)));
    }
    if table::wanted(&call.accept) {
        let rv = s.store.resource_version().to_string();
        return Ok(Reply::Json(200, table::of(target.t, &[object], &rv)));
    }
    Ok(Reply::Json(200, object))
}

fn delete(state: &State, call: &Call, target: &Target) -> Result<Reply, ApiError> {
    let t = target.t;
    let ns = target.namespace.as_deref().unwrap_or_default();
    let name = target.name.as_deref().unwrap_or_default();
    let dry_run = write::dry_run(call)?;
    let mut s = state.lock();
    let existing = s
        .store
        .get(t, ns, name)
        .cloned()
        .ok_or_else(|| ApiError::not_found(t, name))?;
    if let Some(want) = precondition_rv(call)
        && existing["metadata"]["resourceVersion"].as_str() != Some(want.as_str())
    {
        return Err(ApiError::stale(t, name));
    }
    let uid = existing["metadata"]["uid"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    if !dry_run {
        s.store.delete(t, ns, name)?;
    }
    // Like the real server: objects deleted at once answer `Success`.
    Ok(Reply::Json(200, status::success(t, name, &uid)))
}

/// `preconditions.resourceVersion` of a DeleteOptions body.
fn precondition_rv(call: &Call) -> Option<String> {
    let opts: Value = serde_json::from_slice(&call.body).ok()?;
    opts["preconditions"]["resourceVersion"]
        .as_str()
        .map(str::to_string)
}

fn delete_collection(
    state: &State,
    call: &Call,
    t: &ResourceType,
    ns: Option<&str>,
) -> Result<Reply, ApiError> {
    let (labels, fields) = selectors(call)?;
    let dry_run = write::dry_run(call)?;
    let mut s = state.lock();
    let doomed = s.store.list(t, ns, &labels, &fields);
    let mut items = Vec::new();
    for o in doomed {
        let (ons, name) = (
            o["metadata"]["namespace"].as_str().unwrap_or_default(),
            o["metadata"]["name"].as_str().unwrap_or_default(),
        );
        items.push(if dry_run {
            o.clone()
        } else {
            s.store.delete(t, ons, name)?
        });
    }
    let rv = s.store.resource_version().to_string();
    Ok(Reply::Json(
        200,
        json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": {"resourceVersion": rv}, "items": items}),
    ))
}

/// A `SelfSubjectAccessReview`, answered from the scripted RBAC table.
fn review(state: &State, call: &Call) -> Result<Reply, ApiError> {
    let t = resources::by_plural("selfsubjectaccessreviews")
        .ok_or_else(|| ApiError::no_route(&call.path))?;
    let mut body = write::body(call)?;
    if body.is_object() && body.get("metadata").is_none() {
        body["metadata"] = json!({});
    }
    crate::validate::matches_url(t, &body, None, None)?;
    let attrs = &body["spec"]["resourceAttributes"];
    let non_resource = &body["spec"]["nonResourceAttributes"];
    let allowed = if attrs.is_object() {
        let verb = attrs["verb"].as_str().unwrap_or_default();
        let resource = attrs["resource"].as_str().unwrap_or_default();
        let sub = attrs["subresource"].as_str().unwrap_or_default();
        state.lock().script.allows(verb, resource, sub)
    } else if non_resource.is_object() {
        true
    } else {
        return Err(ApiError::invalid(t, "", &[("spec.resourceAttributes", "Required value: exactly one of nonResourceAttributes or resourceAttributes must be specified".into())]));
    };
    body["status"] = if allowed {
        json!({"allowed": true, "reason": "RBAC: allowed by the test double's RBAC table"})
    } else {
        json!({"allowed": false})
    };
    body["metadata"] = json!({"creationTimestamp": null});
    Ok(Reply::Json(201, body))
}
