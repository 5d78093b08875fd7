//! Known fields, for field validation: the real server cannot store a
//! field its schema does not declare, so it drops unknown fields, and
//! refuses them with `fieldValidation=Strict` (what kubectl sends).
//!
//! The double knows the top level, `metadata`, and the `spec` of every
//! type it serves, down through a Deployment's pod template to its
//! containers; deeper levels are taken as sent.

use serde_json::Value;

use crate::resources::ResourceType;

const OBJECT_META: &[&str] = &[
    "name",
    "generateName",
    "namespace",
    "selfLink",
    "uid",
    "resourceVersion",
    "generation",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "labels",
    "annotations",
    "ownerReferences",
    "finalizers",
    "managedFields",
];
const DEPLOYMENT_SPEC: &[&str] = &[
    "replicas",
    "selector",
    "template",
    "strategy",
    "minReadySeconds",
    "revisionHistoryLimit",
    "paused",
    "progressDeadlineSeconds",
];
const POD_TEMPLATE: &[&str] = &["metadata", "spec"];
const POD_SPEC: &[&str] = &[
    "volumes",
    "initContainers",
    "containers",
    "ephemeralContainers",
    "restartPolicy",
    "terminationGracePeriodSeconds",
    "activeDeadlineSeconds",
    "dnsPolicy",
    "nodeSelector",
    "serviceAccountName",
    "serviceAccount",
    "automountServiceAccountToken",
    "nodeName",
    "hostNetwork",
    "hostPID",
    "hostIPC",
    "shareProcessNamespace",
    "securityContext",
    "imagePullSecrets",
    "hostname",
    "subdomain",
    "affinity",
    "schedulerName",
    "tolerations",
    "hostAliases",
    "priorityClassName",
    "priority",
    "dnsConfig",
    "readinessGates",
    "runtimeClassName",
    "enableServiceLinks",
    "preemptionPolicy",
    "overhead",
    "topologySpreadConstraints",
    "setHostnameAsFQDN",
    "os",
    "hostUsers",
    "schedulingGates",
    "resourceClaims",
    "resources",
    "hostnameOverride",
];
const CONTAINER: &[&str] = &[
    "name",
    "image",
    "command",
    "args",
    "workingDir",
    "ports",
    "envFrom",
    "env",
    "resources",
    "resizePolicy",
    "restartPolicy",
    "restartPolicyRules",
    "volumeMounts",
    "volumeDevices",
    "livenessProbe",
    "readinessProbe",
    "startupProbe",
    "lifecycle",
    "terminationMessagePath",
    "terminationMessagePolicy",
    "imagePullPolicy",
    "securityContext",
    "stdin",
    "stdinOnce",
    "tty",
];
const SERVICE_SPEC: &[&str] = &[
    "ports",
    "selector",
    "clusterIP",
    "clusterIPs",
    "type",
    "externalIPs",
    "sessionAffinity",
    "loadBalancerIP",
    "loadBalancerSourceRanges",
    "externalName",
    "externalTrafficPolicy",
    "healthCheckNodePort",
    "publishNotReadyAddresses",
    "sessionAffinityConfig",
    "ipFamilies",
    "ipFamilyPolicy",
    "allocateLoadBalancerNodePorts",
    "loadBalancerClass",
    "internalTrafficPolicy",
    "trafficDistribution",
];
const ROUTE_SPEC: &[&str] = &["parentRefs", "hostnames", "rules"];
const GATEWAY_SPEC: &[&str] = &[
    "gatewayClassName",
    "listeners",
    "addresses",
    "infrastructure",
    "backendTLS",
    "allowedListeners",
    "tls",
    "defaultScope",
];
const GATEWAY_CLASS_SPEC: &[&str] = &["controllerName", "parametersRef", "description"];
const NAMESPACE_SPEC: &[&str] = &["finalizers"];
const REVIEW_SPEC: &[&str] = &["resourceAttributes", "nonResourceAttributes"];

/// The top-level fields of a type (besides `apiVersion`, `kind`, `metadata`).
fn top(t: &ResourceType) -> &'static [&'static str] {
    match t.plural {
        "configmaps" => &["data", "binaryData", "immutable"],
        "secrets" => &["data", "stringData", "type", "immutable"],
        _ => &["spec", "status"],
    }
}

fn spec_fields(t: &ResourceType) -> Option<&'static [&'static str]> {
    Some(match t.plural {
        "deployments" => DEPLOYMENT_SPEC,
        "services" => SERVICE_SPEC,
        "httproutes" => ROUTE_SPEC,
        "gateways" => GATEWAY_SPEC,
        "gatewayclasses" => GATEWAY_CLASS_SPEC,
        "namespaces" => NAMESPACE_SPEC,
        "selfsubjectaccessreviews" => REVIEW_SPEC,
        _ => return None,
    })
}

/// Removes the fields of `o` the type does not declare; their paths, as
/// the server names them (`spec.template.spec.containers[0].imagex`).
pub fn prune(t: &ResourceType, o: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    let mut known: Vec<&str> = vec!["apiVersion", "kind", "metadata"];
    known.extend(top(t));
    drop_unknown(o, &known, "", &mut unknown);
    if let Some(meta) = o.get_mut("metadata") {
        drop_unknown(meta, OBJECT_META, "metadata.", &mut unknown);
    }
    let Some(spec) = spec_fields(t) else {
        return unknown;
    };
    if let Some(s) = o.get_mut("spec") {
        drop_unknown(s, spec, "spec.", &mut unknown);
    }
    if t.plural != "deployments" {
        return unknown;
    }
    let Some(template) = o.get_mut("spec").and_then(|s| s.get_mut("template")) else {
        return unknown;
    };
    drop_unknown(template, POD_TEMPLATE, "spec.template.", &mut unknown);
    if let Some(meta) = template.get_mut("metadata") {
        drop_unknown(meta, OBJECT_META, "spec.template.metadata.", &mut unknown);
    }
    let Some(pod) = template.get_mut("spec") else {
        return unknown;
    };
    drop_unknown(pod, POD_SPEC, "spec.template.spec.", &mut unknown);
    for list in ["containers", "initContainers"] {
        let items = pod.get_mut(list).and_then(Value::as_array_mut);
        for (i, c) in items.into_iter().flatten().enumerate() {
            drop_unknown(
                c,
                CONTAINER,
                &format!("spec.template.spec.{list}[{i}]."),
                &mut unknown,
            );
        }
    }
    unknown
}

fn drop_unknown(v: &mut Value, known: &[&str], prefix: &str, out: &mut Vec<String>) {
    let Some(m) = v.as_object_mut() else { return };
    let gone: Vec<String> = m
        .keys()
        .filter(|k| !known.contains(&k.as_str()))
        .cloned()
        .collect();
    for k in gone {
        m.remove(&k);
        out.push(format!("{prefix}{k}"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;
    use serde_json::json;

    #[test]
    fn unknown_fields_are_named_and_dropped() {
        let t = by_plural("deployments").expect("served");
        let mut d = json!({"apiVersion": "apps/v1", "kind": "Deployment", "extra": 1,
            "metadata": {"name": "web", "labelz": {}},
            "spec": {"replicaz": 2, "template": {"spec": {"containers": [{"name": "a", "imagex": "x"}], "nodeSelector": {}}}}});
        let unknown = prune(t, &mut d);
        assert_eq!(
            unknown,
            [
                "extra",
                "metadata.labelz",
                "spec.replicaz",
                "spec.template.spec.containers[0].imagex"
            ]
        );
        assert_eq!(
            d,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
            "spec": {"template": {"spec": {"containers": [{"name": "a"}], "nodeSelector": {}}}}})
        );
        let cm = by_plural("configmaps").expect("served");
        let mut c = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"k": "v"}, "spec": {}});
        assert_eq!(prune(cm, &mut c), ["spec"]);
    }
}
