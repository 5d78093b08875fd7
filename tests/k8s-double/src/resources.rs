//! The resource types the double serves: one table, read by discovery, the
//! router and the OpenAPI documents, so the three can never disagree.

/// One servable resource type (the `APIResource` of discovery).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResourceType {
    /// API group, empty for the core ("legacy") group.
    pub group: &'static str,
    pub version: &'static str,
    /// Plural name as it appears in URLs; unique across the table.
    pub plural: &'static str,
    pub singular: &'static str,
    pub kind: &'static str,
    pub namespaced: bool,
    pub short_names: &'static [&'static str],
    pub verbs: &'static [&'static str],
    /// Subresources as `(name, kind, group/version of that kind, verbs)`.
    pub subresources: &'static [Subresource],
    /// Whether the server keeps `metadata.generation` (workloads and custom
    /// resources do; ConfigMaps, Secrets, Services and Namespaces do not).
    pub generation: bool,
    /// Whether objects are stored (pods and events are synthesised from the
    /// deployments; access reviews are answered, never kept).
    pub stored: bool,
}

/// A subresource of a [`ResourceType`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Subresource {
    pub name: &'static str,
    pub kind: &'static str,
    pub group: &'static str,
    pub version: &'static str,
    pub verbs: &'static [&'static str],
}

const RW: &[&str] = &[
    "create",
    "delete",
    "deletecollection",
    "get",
    "list",
    "patch",
    "update",
    "watch",
];
const RO: &[&str] = &["get", "list", "watch"];

const STATUS_OF_DEPLOYMENT: Subresource = Subresource {
    name: "status",
    kind: "Deployment",
    group: "apps",
    version: "v1",
    verbs: &["get", "patch", "update"],
};
const SCALE_OF_DEPLOYMENT: Subresource = Subresource {
    name: "scale",
    kind: "Scale",
    group: "autoscaling",
    version: "v1",
    verbs: &["get", "patch", "update"],
};
const STATUS_OF_SERVICE: Subresource = Subresource {
    name: "status",
    kind: "Service",
    group: "",
    version: "v1",
    verbs: &["get", "patch", "update"],
};
const STATUS_OF_ROUTE: Subresource = Subresource {
    name: "status",
    kind: "HTTPRoute",
    group: "gateway.networking.k8s.io",
    version: "v1",
    verbs: &["get", "patch", "update"],
};
const STATUS_OF_GATEWAY: Subresource = Subresource {
    name: "status",
    kind: "Gateway",
    group: "gateway.networking.k8s.io",
    version: "v1",
    verbs: &["get", "patch", "update"],
};

/// Every resource type the double serves.
pub const TYPES: &[ResourceType] = &[
    ResourceType {
        group: "",
        version: "v1",
        plural: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        short_names: &["ns"],
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        subresources: &[],
        generation: false,
        stored: true,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "configmaps",
        singular: "configmap",
        kind: "ConfigMap",
        namespaced: true,
        short_names: &["cm"],
        verbs: RW,
        subresources: &[],
        generation: false,
        stored: true,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "secrets",
        singular: "secret",
        kind: "Secret",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[],
        generation: false,
        stored: true,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "services",
        singular: "service",
        kind: "Service",
        namespaced: true,
        short_names: &["svc"],
        verbs: RW,
        subresources: &[STATUS_OF_SERVICE],
        generation: false,
        stored: true,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        short_names: &["po"],
        verbs: RO,
        subresources: &[],
        generation: false,
        stored: false,
    },
    ResourceType {
        group: "",
        version: "v1",
        plural: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        short_names: &["ev"],
        verbs: RO,
        subresources: &[],
        generation: false,
        stored: false,
    },
    ResourceType {
        group: "apps",
        version: "v1",
        plural: "deployments",
        singular: "deployment",
        kind: "Deployment",
        namespaced: true,
        short_names: &["deploy"],
        verbs: RW,
        subresources: &[SCALE_OF_DEPLOYMENT, STATUS_OF_DEPLOYMENT],
        generation: true,
        stored: true,
    },
    ResourceType {
        group: "gateway.networking.k8s.io",
        version: "v1",
        plural: "httproutes",
        singular: "httproute",
        kind: "HTTPRoute",
        namespaced: true,
        short_names: &[],
        verbs: RW,
        subresources: &[STATUS_OF_ROUTE],
        generation: true,
        stored: true,
    },
    ResourceType {
        group: "gateway.networking.k8s.io",
        version: "v1",
        plural: "gateways",
        singular: "gateway",
        kind: "Gateway",
        namespaced: true,
        short_names: &["gtw"],
        verbs: RW,
        subresources: &[STATUS_OF_GATEWAY],
        generation: true,
        stored: true,
    },
    ResourceType {
        group: "gateway.networking.k8s.io",
        version: "v1",
        plural: "gatewayclasses",
        singular: "gatewayclass",
        kind: "GatewayClass",
        namespaced: false,
        short_names: &["gc"],
        verbs: RW,
        subresources: &[],
        generation: true,
        stored: true,
    },
    ResourceType {
        group: "authorization.k8s.io",
        version: "v1",
        plural: "selfsubjectaccessreviews",
        singular: "selfsubjectaccessreview",
        kind: "SelfSubjectAccessReview",
        namespaced: false,
        short_names: &[],
        verbs: &["create"],
        subresources: &[],
        generation: false,
        stored: false,
    },
];

/// The API groups served, in discovery order, each with its one version.
pub const GROUPS: &[(&str, &str)] = &[
    ("apps", "v1"),
    ("authorization.k8s.io", "v1"),
    ("gateway.networking.k8s.io", "v1"),
];

impl ResourceType {
    /// `v1` for the core group, `group/version` otherwise.
    pub fn api_version(&self) -> String {
        group_version(self.group, self.version)
    }

    /// The URL prefix of this type's group version (`/api/v1`, `/apis/apps/v1`).
    pub fn prefix(&self) -> String {
        if self.group.is_empty() {
            format!("/api/{}", self.version)
        } else {
            format!("/apis/{}/{}", self.group, self.version)
        }
    }

    /// The name used in messages, like the real server: `deployments.apps`.
    pub fn qualified(&self) -> String {
        if self.group.is_empty() {
            self.plural.to_string()
        } else {
            format!("{}.{}", self.plural, self.group)
        }
    }

    pub fn has_subresource(&self, name: &str) -> Option<&'static Subresource> {
        self.subresources.iter().find(|s| s.name == name)
    }
}

/// `v1` for the core group, `group/version` otherwise.
pub fn group_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// The type served at `group`/`version` under `plural`.
pub fn lookup(group: &str, version: &str, plural: &str) -> Option<&'static ResourceType> {
    TYPES
        .iter()
        .find(|t| t.group == group && t.version == version && t.plural == plural)
}

/// The type with this plural (plurals are unique in [`TYPES`]).
pub fn by_plural(plural: &str) -> Option<&'static ResourceType> {
    TYPES.iter().find(|t| t.plural == plural)
}

/// The type of an object's `apiVersion` and `kind`.
pub fn by_kind(api_version: &str, kind: &str) -> Option<&'static ResourceType> {
    TYPES
        .iter()
        .find(|t| t.kind == kind && t.api_version() == api_version)
}

/// Every type in one group version.
pub fn in_group_version(group: &str, version: &str) -> impl Iterator<Item = &'static ResourceType> {
    let (g, v) = (group.to_string(), version.to_string());
    TYPES.iter().filter(move |t| t.group == g && t.version == v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plurals_are_unique_and_lookups_agree() {
        for t in TYPES {
            assert_eq!(TYPES.iter().filter(|o| o.plural == t.plural).count(), 1);
            assert_eq!(by_kind(&t.api_version(), t.kind), Some(t));
            assert_eq!(lookup(t.group, t.version, t.plural), Some(t));
        }
        assert_eq!(
            by_plural("deployments").map(|t| t.qualified()),
            Some("deployments.apps".into())
        );
        assert_eq!(
            by_plural("services").map(|t| t.prefix()),
            Some("/api/v1".into())
        );
    }
}
