//! `validate` (pre-flight, changes nothing), `prepare` (the namespace) and
//! `decommission` (what prepare created, and the environment's routes).
//!
//! Validate runs in the sandbox, without kubectl: the API server answers
//! as the token's user, the namespace exists, a `SelfSubjectAccessReview`
//! allows every verb on every resource this pack uses, and the Gateway API
//! (and the configured Gateway) is there. Each failing check says how to
//! fix it.

use envpack_sdk::deployer::{Check, StepResult};
use envpack_sdk::{Error, kv, log};
use serde_json::{Value, json};

use crate::kube::{Kube, name_of, rbac_fix, status_message};
use crate::objects::{self, DEPLOYMENT_KIND, ENVIRONMENT, HTTP_ROUTE, Kind, MANAGED_BY};
use crate::settings::{PACK, Settings};

/// Every (verb, resource) this pack needs, in the namespace (and
/// `namespaces` itself, cluster-wide, for prepare and decommission).
const NEEDED: &[(&str, &str, &str)] = &[
    ("get", "apps", "deployments"),
    ("list", "apps", "deployments"),
    ("patch", "apps", "deployments"),
    ("delete", "apps", "deployments"),
    ("get", "", "services"),
    ("list", "", "services"),
    ("patch", "", "services"),
    ("delete", "", "services"),
    ("list", "", "configmaps"),
    ("patch", "", "configmaps"),
    ("delete", "", "configmaps"),
    ("list", "", "pods"),
    ("list", "", "events"),
    ("get", "gateway.networking.k8s.io", "httproutes"),
    ("list", "gateway.networking.k8s.io", "httproutes"),
    ("patch", "gateway.networking.k8s.io", "httproutes"),
    ("delete", "gateway.networking.k8s.io", "httproutes"),
];

/// The kv key noting that prepare created the namespace.
const CREATED_NAMESPACE: &str = "prepared/namespace";

const NAMESPACE: Kind = Kind {
    api_version: "v1",
    kind: "Namespace",
    plural: "namespaces",
    group: "",
};

fn check(name: &str, ok: bool, detail: String, fix: Option<String>) -> Check {
    Check {
        name: name.into(),
        ok,
        detail,
        fix: if ok { None } else { fix },
    }
}

/// The pre-flight checks, in order; stops after the first that makes the
/// rest meaningless (no configuration, no server, a refused token).
pub fn validate(environment: &str) -> Result<Vec<Check>, Error> {
    let s = match Settings::load(environment) {
        Ok(s) => s,
        Err(e) => {
            return Ok(vec![check(
                "config",
                false,
                e.message().to_string(),
                Some(format!(
                    "envpack env config {environment} {PACK} server https://<api-server>:6443"
                )),
            )]);
        }
    };
    let kube = Kube { settings: &s };
    let mut out = vec![check(
        "config",
        true,
        format!("server {}, namespace {:?}", s.server, s.namespace),
        None,
    )];
    let (code, version) = match kube.raw_get("/version") {
        Ok(answer) => answer,
        Err(e) => {
            out.push(check("api-reachable", false, e.message().to_string(), Some(format!(
                "kubectl --server {} version, then envpack env config {environment} {PACK} server <URL> and {}",
                s.server,
                s.grant_hint()
            ))));
            return Ok(out);
        }
    };
    if code == 401 {
        out.push(check(
            "credentials",
            false,
            format!(
                "the API server refused the bearer token in secret {:?} (401)",
                s.token_secret
            ),
            Some(format!(
                "envpack secrets put --env {environment} {}",
                s.token_secret
            )),
        ));
        return Ok(out);
    }
    out.push(check(
        "api-reachable",
        code == 200,
        format!(
            "{} answered /version with {code}{}",
            s.server,
            version["gitVersion"]
                .as_str()
                .map(|v| format!(" ({v})"))
                .unwrap_or_default()
        ),
        Some(format!("kubectl --server {} version", s.server)),
    ));
    out.push(namespace_check(&kube)?);
    out.extend(rbac_checks(&kube)?);
    out.extend(gateway_checks(&kube)?);
    Ok(out)
}

fn namespace_check(kube: &Kube<'_>) -> Result<Check, Error> {
    let s = kube.settings;
    let (code, _) = kube.raw_get(&format!("/api/v1/namespaces/{}", s.namespace))?;
    Ok(check(
        "namespace",
        code == 200,
        match code {
            200 => format!("namespace {:?} exists", s.namespace),
            404 => format!("namespace {:?} does not exist", s.namespace),
            other => format!("reading namespace {:?} answered {other}", s.namespace),
        },
        Some(format!(
            "envpack env up {} (prepare creates it), or kubectl create namespace {}",
            s.environment, s.namespace
        )),
    ))
}

/// One `SelfSubjectAccessReview` per needed verb and resource.
fn rbac_checks(kube: &Kube<'_>) -> Result<Vec<Check>, Error> {
    let s = kube.settings;
    let mut out = Vec::new();
    for (verb, group, resource) in NEEDED {
        let review = json!({
            "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"namespace": s.namespace, "verb": verb, "group": group, "resource": resource}},
        });
        let resp = kube.raw_post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            &review,
        )?;
        let answer: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
        let allowed = resp.is_success() && answer["status"]["allowed"] == true;
        let full = if group.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}.{group}")
        };
        let detail = if allowed {
            format!("{verb} {full} in namespace {:?} allowed", s.namespace)
        } else if resp.is_success() {
            format!(
                "RBAC denies {verb} on {full} in namespace {:?}{}",
                s.namespace,
                answer["status"]["reason"]
                    .as_str()
                    .map(|r| format!(": {r}"))
                    .unwrap_or_default()
            )
        } else {
            format!(
                "the access review for {verb} {full} failed: HTTP {} {}",
                resp.status,
                status_message(&resp)
            )
        };
        let kind = Kind {
            api_version: "",
            kind: "",
            plural: resource,
            group,
        };
        out.push(check(
            &format!("rbac:{verb}/{full}"),
            allowed,
            detail,
            Some(rbac_fix(s, verb, &kind)),
        ));
    }
    Ok(out)
}

fn gateway_checks(kube: &Kube<'_>) -> Result<Vec<Check>, Error> {
    let s = kube.settings;
    let (code, group) = kube.raw_get("/apis/gateway.networking.k8s.io/v1")?;
    let served = code == 200
        && group["resources"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["name"] == "httproutes"));
    let mut out = vec![check("gateway-api", served, if served {
        "gateway.networking.k8s.io/v1 serves httproutes".into()
    } else {
        format!("gateway.networking.k8s.io/v1 is not served (HTTP {code}): traffic cannot be split")
    }, Some("kubectl apply --server-side -f https://github.com/kubernetes-sigs/gateway-api/releases/download/v1.2.1/standard-install.yaml".into()))];
    if let Some(gateway) = &s.gateway {
        let ns = s.gateway_namespace.as_deref().unwrap_or(&s.namespace);
        let (code, _) = kube.raw_get(&format!(
            "/apis/gateway.networking.k8s.io/v1/namespaces/{ns}/gateways/{gateway}"
        ))?;
        out.push(check("gateway", code == 200, format!("Gateway {ns}/{gateway} answered {code}"), Some(format!(
            "create Gateway {gateway} in namespace {ns}, or envpack env config {} {PACK} gateway <NAME>",
            s.environment
        ))));
    }
    Ok(out)
}

fn step(id: &str, message: String) -> StepResult {
    StepResult {
        id: id.into(),
        ok: true,
        message,
    }
}

/// Creates the namespace when it is missing (labelled as this
/// environment's), and notes that it did, so decommission removes only
/// what prepare made.
pub fn prepare(environment: &str) -> Result<Vec<StepResult>, Error> {
    let s = Settings::load(environment)?;
    let kube = Kube { settings: &s };
    let path = format!("/api/v1/namespaces/{}", s.namespace);
    let (code, _) = kube.raw_get(&path)?;
    if code == 200 {
        return Ok(vec![step(
            "namespace",
            format!("namespace {:?} exists; nothing changed", s.namespace),
        )]);
    }
    let body = json!({
        "apiVersion": "v1", "kind": "Namespace",
        "metadata": {"name": s.namespace, "labels": {MANAGED_BY: "envpack", ENVIRONMENT: objects::label_value(environment)}},
    });
    let resp = kube.raw_post("/api/v1/namespaces", &body)?;
    if !(resp.is_success() || resp.status == 409) {
        return Err(kube.failure("create", &NAMESPACE, &s.namespace, &resp));
    }
    kv::set(CREATED_NAMESPACE, s.namespace.as_bytes())?;
    log::info("created namespace", &[("namespace", &s.namespace)]);
    Ok(vec![step(
        "namespace",
        format!("created namespace {:?}", s.namespace),
    )])
}

/// Deletes the environment's HTTPRoutes, then the namespace if prepare
/// created it. Refused while any revision's Deployment is still there.
pub fn decommission(environment: &str) -> Result<Vec<StepResult>, Error> {
    let s = Settings::load(environment)?;
    let kube = Kube { settings: &s };
    let selector = objects::environment_selector(environment);
    let running: Vec<String> = kube
        .list(&DEPLOYMENT_KIND, &selector)?
        .iter()
        .map(|d| name_of(d).to_string())
        .collect();
    if !running.is_empty() {
        return Err(Error::conflict(format!(
            "environment {environment} still has Deployments in namespace {:?}: {}; help: envpack env down {environment}",
            s.namespace,
            running.join(", ")
        )));
    }
    let mut out = Vec::new();
    for route in kube.list(&HTTP_ROUTE, &selector)? {
        kube.delete(&HTTP_ROUTE, name_of(&route))?;
        out.push(step(
            "httproute",
            format!("deleted HTTPRoute {}", name_of(&route)),
        ));
    }
    let created = kv::get(CREATED_NAMESPACE)?.map(|b| String::from_utf8_lossy(&b).into_owned());
    match created {
        Some(ns) if ns == s.namespace => {
            let resp = kube.delete_path(&format!("/api/v1/namespaces/{ns}"))?;
            if !(resp.is_success() || resp.status == 404) {
                return Err(kube.failure("delete", &NAMESPACE, &ns, &resp));
            }
            kv::delete(CREATED_NAMESPACE)?;
            out.push(step(
                "namespace",
                format!("deleted namespace {ns:?}, which prepare created"),
            ));
        }
        _ => out.push(step(
            "namespace",
            format!(
                "namespace {:?} was not created by prepare; kept",
                s.namespace
            ),
        )),
    }
    Ok(out)
}
