//! Admission: the checks the real server makes on a body before storing it
//! (400 for a body that does not belong at the URL, 422 `Invalid` for a
//! malformed object) and the defaults it fills in.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::resources::ResourceType;
use crate::status::ApiError;

/// Checks that a body is an object of `t`, named and namespaced like the
/// URL it was sent to.
pub fn matches_url(
    t: &ResourceType,
    body: &Value,
    namespace: Option<&str>,
    name: Option<&str>,
) -> Result<(), ApiError> {
    if !body.is_object() {
        return Err(ApiError::bad_request(
            "the body of the request was not a JSON or YAML object",
        ));
    }
    let api_version = body["apiVersion"].as_str().unwrap_or_default();
    let kind = body["kind"].as_str().unwrap_or_default();
    if api_version.is_empty() || kind.is_empty() {
        return Err(ApiError::bad_request(format!(
            "Object 'Kind' or 'apiVersion' is missing in the body; expected apiVersion {:?} and kind {:?}",
            t.api_version(),
            t.kind
        )));
    }
    if !body["metadata"].is_object() {
        return Err(ApiError::bad_request(
            "the body's \"metadata\" must be an object",
        ));
    }
    for field in ["spec", "data", "stringData", "status"] {
        if body
            .get(field)
            .is_some_and(|v| !v.is_object() && !v.is_null())
        {
            return Err(ApiError::bad_request(format!(
                "the body's {field:?} must be an object"
            )));
        }
    }
    if api_version != t.api_version() {
        return Err(ApiError::bad_request(format!(
            "the API version in the data ({api_version}) does not match the expected API version ({})",
            t.api_version()
        )));
    }
    if kind != t.kind {
        return Err(ApiError::bad_request(format!(
            "the kind in the data ({kind}) does not match the expected kind ({})",
            t.kind
        )));
    }
    let body_ns = body["metadata"]["namespace"].as_str();
    if let (Some(url_ns), Some(b)) = (namespace, body_ns)
        && url_ns != b
    {
        return Err(ApiError::bad_request(
            "the namespace of the provided object does not match the namespace sent on the request",
        ));
    }
    let body_name = body["metadata"]["name"].as_str().unwrap_or_default();
    if let Some(url_name) = name
        && !body_name.is_empty()
        && body_name != url_name
    {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({body_name}) does not match the name on the URL ({url_name})"
        )));
    }
    Ok(())
}

/// The 422 checks of the types served.
pub fn object(t: &ResourceType, o: &Value) -> Result<(), ApiError> {
    let name = o["metadata"]["name"].as_str().unwrap_or_default();
    let mut causes: Vec<(&str, String)> = Vec::new();
    if name.is_empty() {
        causes.push((
            "metadata.name",
            "Required value: name or generateName is required".into(),
        ));
    } else if !dns_subdomain(name)
        || (t.plural == "services" || t.plural == "namespaces") && !dns_label(name)
    {
        causes.push(("metadata.name", format!("Invalid value: {name:?}: a lowercase RFC 1123 name must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character")));
    }
    if let Some(labels) = o["metadata"]["labels"].as_object() {
        for (k, v) in labels {
            if !v.as_str().is_some_and(label_value) {
                causes.push(("metadata.labels", format!("Invalid value: {v}: label {k:?} must be a string of 63 characters or less of alphanumerics, '-', '_' or '.'")));
            }
        }
    }
    match t.plural {
        "deployments" => deployment(o, &mut causes),
        "services" => service(o, &mut causes),
        "secrets" => {
            secret_data(o, &mut causes);
            string_map(o, "stringData", &mut causes);
        }
        "configmaps" => string_map(o, "data", &mut causes),
        "httproutes" => route(o, &mut causes),
        "gateways" => gateway(o, &mut causes),
        "gatewayclasses" => required(o, "spec.controllerName", &mut causes),
        _ => {}
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(t, name, &causes))
    }
}

fn deployment(o: &Value, causes: &mut Vec<(&str, String)>) {
    let spec = &o["spec"];
    let selector = spec["selector"]["matchLabels"].as_object();
    let labels = spec["template"]["metadata"]["labels"].as_object();
    match (selector, labels) {
        (None, _) if spec["selector"]["matchExpressions"].is_null() => {
            causes.push(("spec.selector", "Required value".into()))
        }
        (Some(sel), labels) => {
            let ok = sel
                .iter()
                .all(|(k, v)| labels.and_then(|l| l.get(k)) == Some(v));
            if !ok {
                causes.push((
                    "spec.template.metadata.labels",
                    format!(
                        "Invalid value: {}: `selector` does not match template `labels`",
                        json!(labels)
                    ),
                ));
            }
        }
        _ => {}
    }
    if spec["replicas"].as_i64().is_some_and(|r| r < 0) {
        causes.push((
            "spec.replicas",
            format!(
                "Invalid value: {}: must be greater than or equal to 0",
                spec["replicas"]
            ),
        ));
    }
    let containers = spec["template"]["spec"]["containers"].as_array();
    if containers.is_none_or(Vec::is_empty) {
        causes.push(("spec.template.spec.containers", "Required value".into()));
    }
    for c in containers.into_iter().flatten() {
        if c["name"].as_str().is_none_or(|n| !dns_label(n)) {
            causes.push((
                "spec.template.spec.containers[].name",
                format!(
                    "Invalid value: {}: a container name must be a DNS label",
                    c["name"]
                ),
            ));
        }
        if c["image"].as_str().is_none_or(str::is_empty) {
            causes.push((
                "spec.template.spec.containers[].image",
                "Required value".into(),
            ));
        }
    }
}

fn service(o: &Value, causes: &mut Vec<(&str, String)>) {
    let ports = o["spec"]["ports"].as_array();
    let headless = o["spec"]["clusterIP"] == "None";
    if ports.is_none_or(Vec::is_empty) && !headless && o["spec"]["type"] != "ExternalName" {
        causes.push(("spec.ports", "Required value".into()));
    }
    for p in ports.into_iter().flatten() {
        if !p["port"].as_u64().is_some_and(|n| (1..=65535).contains(&n)) {
            causes.push((
                "spec.ports[].port",
                format!(
                    "Invalid value: {}: must be between 1 and 65535, inclusive",
                    p["port"]
                ),
            ));
        }
    }
}

fn string_map(o: &Value, field: &'static str, causes: &mut Vec<(&str, String)>) {
    for f in ["data", field] {
        if let Some(m) = o[f].as_object()
            && m.values().any(|v| !v.is_string())
        {
            causes.push((
                if f == "data" { "data" } else { field },
                "Invalid value: values must be strings".into(),
            ));
        }
    }
}

/// Secret `data` values are base64, as the JSON form of bytes.
fn secret_data(o: &Value, causes: &mut Vec<(&str, String)>) {
    let is_base64 = |s: &str| {
        let body = s.trim_end_matches('=');
        s.len().is_multiple_of(4)
            && s.len() - body.len() <= 2
            && body
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '+' || c == '/')
    };
    for (k, v) in o["data"].as_object().into_iter().flatten() {
        if v.as_str().is_some_and(|v| !is_base64(v)) {
            causes.push(("data", format!("Invalid value: {k:?}: illegal base64 data")));
        }
    }
}

fn route(o: &Value, causes: &mut Vec<(&str, String)>) {
    for rule in o["spec"]["rules"].as_array().into_iter().flatten() {
        for b in rule["backendRefs"].as_array().into_iter().flatten() {
            if b["name"].as_str().is_none_or(str::is_empty) {
                causes.push(("spec.rules[].backendRefs[].name", "Required value".into()));
            }
            if !b["weight"].is_null() && b["weight"].as_u64().is_none_or(|w| w > 1_000_000) {
                causes.push(("spec.rules[].backendRefs[].weight", format!("Invalid value: {}: spec.rules[].backendRefs[].weight in body should be between 0 and 1000000", b["weight"])));
            }
        }
    }
}

fn gateway(o: &Value, causes: &mut Vec<(&str, String)>) {
    required(o, "spec.gatewayClassName", causes);
    if o["spec"]["listeners"].as_array().is_none_or(Vec::is_empty) {
        causes.push(("spec.listeners", "Required value".into()));
    }
}

/// A required, non-empty string at `spec.<field>`.
fn required(o: &Value, path: &'static str, causes: &mut Vec<(&str, String)>) {
    let field = path.strip_prefix("spec.").unwrap_or(path);
    if o["spec"][field].as_str().is_none_or(str::is_empty) {
        causes.push((path, "Required value".into()));
    }
}

fn dns_label(s: &str) -> bool {
    s.len() <= 63 && dns_subdomain(s) && !s.contains('.')
}

fn dns_subdomain(s: &str) -> bool {
    let ok_char = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '.';
    let alnum = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    !s.is_empty()
        && s.len() <= 253
        && s.chars().all(ok_char)
        && alnum(s.chars().next())
        && alnum(s.chars().last())
}

fn label_value(s: &str) -> bool {
    s.len() <= 63
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c))
}

fn set_default(v: &mut Value, key: &str, default: Value) {
    if let Some(m) = v.as_object_mut() {
        m.entry(key.to_string()).or_insert(default);
    }
}

/// Fills what the real server defaults (the fields a client sees come back
/// without having sent them). `old` keeps allocated values, such as a
/// Service's cluster IP, across updates.
pub fn defaults(t: &ResourceType, o: &mut Value, old: Option<&Value>) {
    match t.plural {
        "deployments" => {
            let Some(spec) = o.get_mut("spec") else {
                return;
            };
            set_default(spec, "replicas", json!(1));
            set_default(spec, "revisionHistoryLimit", json!(10));
            set_default(spec, "progressDeadlineSeconds", json!(600));
            set_default(
                spec,
                "strategy",
                json!({"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": "25%"}}),
            );
            if let Some(pod) = spec.get_mut("template").and_then(|t| t.get_mut("spec")) {
                pod_spec(pod);
            }
        }
        "services" => service_defaults(o, old),
        "secrets" => secret_defaults(o),
        "namespaces" => {
            set_default(o, "spec", json!({"finalizers": ["kubernetes"]}));
            if let Some(m) = o.as_object_mut() {
                m.insert("status".into(), json!({"phase": "Active"}));
            }
        }
        _ => {}
    }
}

/// `type: Opaque`, and `stringData` folded into `data` (base64) as the
/// server stores it: `stringData` is write-only.
fn secret_defaults(o: &mut Value) {
    set_default(o, "type", json!("Opaque"));
    let Some(m) = o.as_object_mut() else { return };
    let Some(Value::Object(plain)) = m.remove("stringData") else {
        return;
    };
    let mut data = match m.remove("data") {
        Some(Value::Object(d)) => d,
        _ => serde_json::Map::new(),
    };
    let mut rest = serde_json::Map::new();
    for (k, v) in plain {
        match v.as_str() {
            Some(text) => {
                data.insert(k, json!(crate::tls::base64(text.as_bytes())));
            }
            // Left for admission to refuse.
            None => {
                rest.insert(k, v);
            }
        }
    }
    m.insert("data".into(), Value::Object(data));
    if !rest.is_empty() {
        m.insert("stringData".into(), Value::Object(rest));
    }
}

fn pod_spec(spec: &mut Value) {
    if !spec.is_object() {
        return;
    }
    set_default(spec, "restartPolicy", json!("Always"));
    set_default(spec, "terminationGracePeriodSeconds", json!(30));
    set_default(spec, "dnsPolicy", json!("ClusterFirst"));
    set_default(spec, "schedulerName", json!("default-scheduler"));
    set_default(spec, "securityContext", json!({}));
    let containers = spec.get_mut("containers").and_then(Value::as_array_mut);
    for c in containers.into_iter().flatten().filter(|c| c.is_object()) {
        let image = c["image"].as_str().unwrap_or_default().to_string();
        let latest = !image.contains('@')
            && (image.ends_with(":latest")
                || !image.rsplit('/').next().unwrap_or("").contains(':'));
        set_default(
            c,
            "imagePullPolicy",
            json!(if latest { "Always" } else { "IfNotPresent" }),
        );
        set_default(c, "terminationMessagePath", json!("/dev/termination-log"));
        set_default(c, "terminationMessagePolicy", json!("File"));
        set_default(c, "resources", json!({}));
        for p in c
            .get_mut("ports")
            .and_then(Value::as_array_mut)
            .into_iter()
            .flatten()
        {
            set_default(p, "protocol", json!("TCP"));
        }
    }
}

fn service_defaults(o: &mut Value, old: Option<&Value>) {
    let ns = o["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = o["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let Some(spec) = o.get_mut("spec").filter(|s| s.is_object()) else {
        return;
    };
    set_default(spec, "type", json!("ClusterIP"));
    set_default(spec, "sessionAffinity", json!("None"));
    set_default(spec, "internalTrafficPolicy", json!("Cluster"));
    set_default(spec, "ipFamilies", json!(["IPv4"]));
    set_default(spec, "ipFamilyPolicy", json!("SingleStack"));
    if spec["clusterIP"].is_null() {
        let ip = old
            .and_then(|o| o["spec"]["clusterIP"].as_str().map(str::to_string))
            .unwrap_or_else(|| cluster_ip(&ns, &name));
        spec["clusterIP"] = json!(ip);
    }
    let ip = spec["clusterIP"].clone();
    set_default(spec, "clusterIPs", json!([ip]));
    for p in spec
        .get_mut("ports")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
    {
        set_default(p, "protocol", json!("TCP"));
        let port = p["port"].clone();
        set_default(p, "targetPort", port);
    }
    set_default(o, "status", json!({"loadBalancer": {}}));
}

/// A stable address in 10.96.0.0/12 for a Service.
fn cluster_ip(ns: &str, name: &str) -> String {
    let d = Sha256::digest(format!("{ns}/{name}").as_bytes());
    format!("10.{}.{}.{}", 96 + (d[0] % 16), d[1], 1 + d[2] % 254)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;

    #[test]
    fn malformed_deployments_are_invalid() {
        let t = by_plural("deployments").expect("served");
        let d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "Web_1"},
            "spec": {"selector": {"matchLabels": {"app": "web"}}, "template": {"metadata": {"labels": {"app": "api"}}, "spec": {"containers": [{"name": "app"}]}}}});
        let err = object(t, &d).expect_err("invalid");
        assert_eq!((err.code, err.reason), (422, "Invalid"));
        assert!(
            err.message
                .starts_with("Deployment \"Web_1\" is invalid: metadata.name: Invalid value"),
            "{}",
            err.message
        );
        assert!(err.message.contains("spec.template.metadata.labels"));
        assert!(
            err.message
                .contains("spec.template.spec.containers[].image: Required value")
        );
    }

    #[test]
    fn secrets_store_string_data_as_base64_data() {
        let t = by_plural("secrets").expect("served");
        let mut s = json!({"metadata": {"name": "s"}, "data": {"a": "eA=="}, "stringData": {"b": "hunter2"}});
        defaults(t, &mut s, None);
        assert_eq!(
            s,
            json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "eA==", "b": "aHVudGVyMg=="}})
        );
        assert!(object(t, &s).is_ok());
        let bad = json!({"metadata": {"name": "s"}, "data": {"a": "not base64!"}});
        assert_eq!(object(t, &bad).map_err(|e| e.code), Err(422));
    }

    #[test]
    fn bodies_must_match_the_url() {
        let t = by_plural("services").expect("served");
        let s = json!({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "a", "namespace": "x"}});
        assert!(matches_url(t, &s, Some("x"), Some("a")).is_ok());
        assert_eq!(
            matches_url(t, &s, Some("y"), Some("a")).map_err(|e| e.code),
            Err(400)
        );
        assert_eq!(
            matches_url(t, &s, Some("x"), Some("b")).map_err(|e| e.code),
            Err(400)
        );
        let wrong = json!({"apiVersion": "apps/v1", "kind": "Service", "metadata": {"name": "a"}});
        assert_eq!(
            matches_url(t, &wrong, None, None).map_err(|e| e.code),
            Err(400)
        );
    }

    #[test]
    fn services_get_a_stable_cluster_ip_and_port_defaults() {
        let t = by_plural("services").expect("served");
        let mut s = json!({"metadata": {"name": "web", "namespace": "p"}, "spec": {"ports": [{"port": 80}]}});
        defaults(t, &mut s, None);
        assert_eq!(
            s["spec"]["ports"][0],
            json!({"port": 80, "protocol": "TCP", "targetPort": 80})
        );
        let ip = s["spec"]["clusterIP"].clone();
        let mut again = json!({"metadata": {"name": "web", "namespace": "p"}, "spec": {"ports": [{"port": 80}]}});
        defaults(t, &mut again, Some(&s));
        assert_eq!(again["spec"]["clusterIP"], ip);
    }
}
