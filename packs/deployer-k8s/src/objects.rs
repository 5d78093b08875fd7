//! The Kubernetes objects of one revision, built from the bundle's
//! attributes: a `ConfigMap` (when the bundle has `config.*` settings), a
//! `Deployment` and a `Service`, in apply order. Pure: the same revision,
//! bundle and namespace always give the same objects.
//!
//! Bundle attributes read:
//!
//! | attribute | meaning |
//! |---|---|
//! | `image` | container image **by digest**, `registry/app@sha256:<64 hex>` (required) |
//! | `port` | the container port (default 8080); the Service exposes the same port |
//! | `replicas` | pod count (default 1) |
//! | `health` | HTTP path of the readiness probe (none by default) |
//! | `args` | container arguments, split on spaces |
//! | `env.NAME` | a literal environment variable |
//! | `config.KEY` | a key of the revision's ConfigMap, given to the container as environment |
//! | `secret.NAME` | `secret-name/key`: environment variable NAME from that key of an existing Secret (a reference; no Secret is created) |

use envpack_sdk::Error;
use envpack_sdk::deployer::{Bundle, Revision};
use serde_json::{Map, Value, json};

/// Label keys every object carries.
pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
/// The environment label.
pub const ENVIRONMENT: &str = "envpack.greentic.dev/environment";
/// The deployment label.
pub const DEPLOYMENT: &str = "envpack.greentic.dev/deployment";
/// The revision label.
pub const REVISION: &str = "envpack.greentic.dev/revision";
/// Annotation holding the bundle id the objects were made from.
pub const BUNDLE: &str = "envpack.greentic.dev/bundle";

/// One kind of object this pack manages.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Kind {
    /// `apiVersion`.
    pub api_version: &'static str,
    /// `kind`.
    pub kind: &'static str,
    /// URL plural.
    pub plural: &'static str,
    /// API group (`""` for core), for RBAC checks.
    pub group: &'static str,
}

impl Kind {
    /// The collection path in `namespace`.
    pub fn collection(&self, namespace: &str) -> String {
        let prefix = if self.group.is_empty() {
            "/api/v1".to_string()
        } else {
            format!("/apis/{}", self.api_version)
        };
        format!("{prefix}/namespaces/{namespace}/{}", self.plural)
    }

    /// The path of object `name` in `namespace`.
    pub fn object(&self, namespace: &str, name: &str) -> String {
        format!("{}/{name}", self.collection(namespace))
    }

    /// `deployments.apps`, `services`: how RBAC and kubectl name it.
    pub fn resource(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }
}

pub const CONFIG_MAP: Kind = Kind {
    api_version: "v1",
    kind: "ConfigMap",
    plural: "configmaps",
    group: "",
};
pub const DEPLOYMENT_KIND: Kind = Kind {
    api_version: "apps/v1",
    kind: "Deployment",
    plural: "deployments",
    group: "apps",
};
pub const SERVICE: Kind = Kind {
    api_version: "v1",
    kind: "Service",
    plural: "services",
    group: "",
};
pub const HTTP_ROUTE: Kind = Kind {
    api_version: "gateway.networking.k8s.io/v1",
    kind: "HTTPRoute",
    plural: "httproutes",
    group: "gateway.networking.k8s.io",
};
pub const POD: Kind = Kind {
    api_version: "v1",
    kind: "Pod",
    plural: "pods",
    group: "",
};
pub const EVENT: Kind = Kind {
    api_version: "v1",
    kind: "Event",
    plural: "events",
    group: "",
};

/// What apply creates for a revision, in apply order (and reverse delete
/// order).
pub const APPLIED: [Kind; 3] = [CONFIG_MAP, DEPLOYMENT_KIND, SERVICE];

/// One object to apply.
#[derive(Clone, Debug, PartialEq)]
pub struct Object {
    pub kind: Kind,
    pub name: String,
    pub body: Value,
}

/// A DNS-1123 label: lowercase letters, digits and `-`, at most 63.
fn dns_label(s: &str) -> String {
    let mut out: String = s
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    out.truncate(63);
    out.trim_matches('-').to_string()
}

/// The name of a revision's objects: `<deployment>-<revision>`, with the
/// deployment shortened so the whole fits a Service name (63).
pub fn object_name(deployment: &str, revision: &str) -> String {
    let rev = dns_label(revision);
    let room = 63usize.saturating_sub(rev.len() + 1);
    let mut dep = dns_label(deployment);
    dep.truncate(room);
    let dep = dep.trim_end_matches('-');
    if dep.is_empty() {
        rev
    } else {
        format!("{dep}-{rev}")
    }
}

/// The HTTPRoute of a deployment in an environment: `<deployment>-<env>`,
/// so environments can share a namespace.
pub fn route_name(environment: &str, deployment: &str) -> String {
    let env = dns_label(environment);
    let mut dep = dns_label(deployment);
    dep.truncate(62usize.saturating_sub(env.len()));
    let dep = dep.trim_end_matches('-');
    match (dep.is_empty(), env.is_empty()) {
        (false, false) => format!("{dep}-{env}"),
        (false, true) => dep.to_string(),
        (true, false) => env,
        (true, true) => "envpack".into(),
    }
}

/// A label value: at most 63 of `[A-Za-z0-9._-]`, alphanumeric at the ends.
pub fn label_value(s: &str) -> String {
    let mut out: String = s
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    out.truncate(63);
    out.trim_matches(|c: char| !c.is_ascii_alphanumeric())
        .to_string()
}

/// The labels of a revision's objects.
pub fn labels(r: &Revision) -> Value {
    json!({
        MANAGED_BY: "envpack",
        ENVIRONMENT: label_value(&r.environment),
        DEPLOYMENT: label_value(&r.deployment),
        REVISION: label_value(&r.id),
    })
}

/// The label selector of everything of one revision.
pub fn revision_selector(r: &Revision) -> String {
    format!(
        "{ENVIRONMENT}={},{DEPLOYMENT}={},{REVISION}={}",
        label_value(&r.environment),
        label_value(&r.deployment),
        label_value(&r.id)
    )
}

/// The label selector of everything of one environment.
pub fn environment_selector(environment: &str) -> String {
    format!(
        "{MANAGED_BY}=envpack,{ENVIRONMENT}={}",
        label_value(environment)
    )
}

pub fn attr<'a>(b: &'a Bundle, key: &str) -> Option<&'a str> {
    b.attributes
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn prefixed<'a>(b: &'a Bundle, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a str)> {
    b.attributes
        .iter()
        .filter_map(move |(k, v)| k.strip_prefix(prefix).map(|k| (k, v.as_str())))
}

/// The `image` attribute, refused unless pinned by digest.
pub fn image(b: &Bundle) -> Result<String, Error> {
    let help = "build the bundle with --attr image=registry.example.com/app@sha256:<64 hex digits>";
    let image = attr(b, "image").ok_or_else(|| {
        Error::invalid_input(format!(
            "bundle {} {} has no `image` attribute naming the container image; help: {help}",
            b.name, b.version
        ))
    })?;
    let digest = image.rsplit_once("@sha256:").map(|(_, d)| d);
    match digest {
        Some(d) if d.len() == 64 && d.bytes().all(|c| c.is_ascii_hexdigit()) => Ok(image.into()),
        _ => Err(Error::invalid_input(format!(
            "bundle {} {}: image {image:?} is not pinned by digest (a tag can change under a running revision); help: {help}",
            b.name, b.version
        ))),
    }
}

fn number(
    b: &Bundle,
    key: &str,
    default: u32,
    range: std::ops::RangeInclusive<u32>,
) -> Result<u32, Error> {
    match attr(b, key) {
        None => Ok(default),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|n| range.contains(n))
            .ok_or_else(|| {
                Error::invalid_input(format!(
                    "bundle attribute {key}={v:?} is not a number from {} to {}",
                    range.start(),
                    range.end()
                ))
            }),
    }
}

/// The container port.
pub fn port(b: &Bundle) -> Result<u32, Error> {
    number(b, "port", 8080, 1..=65535)
}

/// The replica count.
pub fn replicas(b: &Bundle) -> Result<u32, Error> {
    number(b, "replicas", 1, 0..=1000)
}

fn env_vars(b: &Bundle) -> Result<Vec<Value>, Error> {
    let mut env: Vec<Value> = prefixed(b, "env.")
        .map(|(k, v)| json!({"name": k, "value": v}))
        .collect();
    for (name, reference) in prefixed(b, "secret.") {
        let (secret, key) = reference.split_once('/').ok_or_else(|| {
            Error::invalid_input(format!(
                "bundle attribute secret.{name}={reference:?} must name an existing Secret and key as secret-name/key (the value is never put in the bundle)"
            ))
        })?;
        env.push(
            json!({"name": name, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}),
        );
    }
    Ok(env)
}

/// The objects of a revision, in apply order.
pub fn build(r: &Revision, b: &Bundle, namespace: &str) -> Result<Vec<Object>, Error> {
    let name = object_name(&r.deployment, &r.id);
    let port = port(b)?;
    let labels = labels(r);
    let annotations = json!({BUNDLE: b.id});
    let mut out = Vec::new();
    let config: Map<String, Value> = prefixed(b, "config.")
        .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
        .collect();
    let mut container = json!({
        "name": "app",
        "image": image(b)?,
        "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
    });
    let env = env_vars(b)?;
    if !env.is_empty() {
        container["env"] = Value::Array(env);
    }
    if let Some(args) = attr(b, "args") {
        container["args"] = args
            .split_whitespace()
            .map(|a| Value::String(a.into()))
            .collect();
    }
    if let Some(path) = attr(b, "health") {
        container["readinessProbe"] = json!({"httpGet": {"path": path, "port": port}});
    }
    if !config.is_empty() {
        container["envFrom"] = json!([{"configMapRef": {"name": name}}]);
        out.push(Object {
            kind: CONFIG_MAP,
            name: name.clone(),
            body: json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
                "data": config,
            }),
        });
    }
    let selector = labels.clone();
    out.push(Object {
        kind: DEPLOYMENT_KIND,
        name: name.clone(),
        body: json!({
            "apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
            "spec": {
                "replicas": replicas(b)?,
                "selector": {"matchLabels": selector},
                "template": {
                    "metadata": {"labels": labels, "annotations": annotations},
                    "spec": {"containers": [container]},
                },
            },
        }),
    });
    out.push(Object {
        kind: SERVICE,
        name: name.clone(),
        body: json!({
            "apiVersion": "v1", "kind": "Service",
            "metadata": {"name": name, "namespace": namespace, "labels": labels, "annotations": annotations},
            "spec": {
                "selector": selector,
                "ports": [{"name": "http", "port": port, "targetPort": port, "protocol": "TCP"}],
            },
        }),
    });
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use envpack_sdk::deployer::SourceKind;

    pub fn bundle(attrs: &[(&str, &str)]) -> Bundle {
        Bundle {
            id: "sha256:00".into(),
            name: "web".into(),
            version: "1.0.0".into(),
            source: SourceKind::Main,
            source_ref: "main".into(),
            commit: None,
            files: vec![],
            payload_dir: None,
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    pub fn revision() -> Revision {
        Revision {
            environment: "dev".into(),
            deployment: "web".into(),
            id: "r1a2b".into(),
            sequence: 1,
        }
    }

    const IMAGE: &str = "registry.example/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn builds_objects_in_apply_order_with_secrets_by_reference() {
        let b = bundle(&[
            ("image", IMAGE),
            ("config.MODE", "fast"),
            ("secret.DB_PASSWORD", "db/password"),
        ]);
        let objs = build(&revision(), &b, "apps").expect("objects");
        let kinds: Vec<&str> = objs.iter().map(|o| o.kind.kind).collect();
        assert_eq!(kinds, ["ConfigMap", "Deployment", "Service"]);
        let c = &objs[1].body["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(
            c["env"][0]["valueFrom"]["secretKeyRef"],
            json!({"name": "db", "key": "password"})
        );
        assert_eq!(objs[1].body["metadata"]["labels"][REVISION], "r1a2b");
        assert_eq!(objs[0].name, "web-r1a2b");
        assert_eq!(build(&revision(), &b, "apps").expect("again"), objs);
    }

    #[test]
    fn refuses_tags_and_bad_numbers() {
        assert!(build(&revision(), &bundle(&[("image", "nginx:1.27")]), "ns").is_err());
        assert!(build(&revision(), &bundle(&[]), "ns").is_err());
        assert!(
            build(
                &revision(),
                &bundle(&[("image", IMAGE), ("port", "0")]),
                "ns"
            )
            .is_err()
        );
        assert!(
            build(
                &revision(),
                &bundle(&[("image", IMAGE), ("secret.X", "nokey")]),
                "ns"
            )
            .is_err()
        );
    }

    #[test]
    fn names_fit_kubernetes() {
        assert_eq!(object_name("My_App", "r1"), "my-app-r1");
        assert_eq!(object_name(&"a".repeat(80), "r1").len(), 63);
        assert_eq!(Kind::resource(&DEPLOYMENT_KIND), "deployments.apps");
        assert_eq!(route_name("prod", "web"), "web-prod");
        assert_eq!(route_name("prod", &"w".repeat(80)).len(), 63);
        assert_eq!(
            DEPLOYMENT_KIND.object("ns", "x"),
            "/apis/apps/v1/namespaces/ns/deployments/x"
        );
        assert_eq!(SERVICE.collection("ns"), "/api/v1/namespaces/ns/services");
    }
}
