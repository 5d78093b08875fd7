//! Request paths and query strings, parsed like the API server's router.

use std::collections::BTreeMap;

use crate::resources::{self, ResourceType};

/// What a path addresses.
#[derive(Debug, Clone, PartialEq)]
pub enum Route {
    Version,
    Health,
    /// `/api`
    CoreVersions,
    /// `/apis`
    Groups,
    /// `/apis/{group}`
    Group(String),
    /// `/api/v1`, `/apis/{group}/{version}`
    GroupVersion(String, String),
    /// `/openapi/v2`
    OpenApiV2,
    /// `/openapi/v3`
    OpenApiV3Root,
    /// `/openapi/v3/apis/apps/v1` (the part after `/openapi/v3/`)
    OpenApiV3(String),
    Resource(Target),
    Unknown,
}

/// A resource URL: a collection (no name) or an object, maybe a subresource.
#[derive(Debug, Clone, PartialEq)]
pub struct Target {
    pub t: &'static ResourceType,
    /// For namespaced types: the namespace, `None` across all namespaces.
    pub namespace: Option<String>,
    pub name: Option<String>,
    pub subresource: Option<String>,
}

/// Parses a request path.
pub fn parse(path: &str) -> Route {
    let segs: Vec<&str> = path
        .trim_matches('/')
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    match segs.as_slice() {
        ["version"] => Route::Version,
        ["healthz"] | ["readyz"] | ["livez"] => Route::Health,
        ["api"] => Route::CoreVersions,
        ["apis"] => Route::Groups,
        ["openapi", "v2"] => Route::OpenApiV2,
        ["openapi", "v3"] => Route::OpenApiV3Root,
        ["openapi", "v3", rest @ ..] => Route::OpenApiV3(rest.join("/")),
        ["apis", group] => Route::Group((*group).to_string()),
        ["api", version, rest @ ..] => resource("", version, rest),
        ["apis", group, version, rest @ ..] => resource(group, version, rest),
        _ => Route::Unknown,
    }
}

fn resource(group: &str, version: &str, rest: &[&str]) -> Route {
    let served = resources::in_group_version(group, version).next().is_some();
    if !served {
        return Route::Unknown;
    }
    let target = |plural: &str, namespace: Option<&str>, name: Option<&str>, sub: Option<&str>| {
        let t = resources::lookup(group, version, plural)?;
        if namespace.is_some() && !t.namespaced {
            return None;
        }
        if name.is_some() && t.namespaced && namespace.is_none() {
            return None;
        }
        if let Some(s) = sub
            && t.has_subresource(s).is_none()
        {
            return None;
        }
        Some(Route::Resource(Target {
            t,
            namespace: namespace.map(str::to_string),
            name: name.map(str::to_string),
            subresource: sub.map(str::to_string),
        }))
    };
    let found = match rest {
        [] => Some(Route::GroupVersion(group.to_string(), version.to_string())),
        [p] => target(p, None, None, None),
        ["namespaces", ns, p]
            if resources::lookup(group, version, p).is_some_and(|t| t.namespaced) =>
        {
            target(p, Some(ns), None, None)
        }
        [p, name] => target(p, None, Some(name), None),
        ["namespaces", ns, p, name] => target(p, Some(ns), Some(name), None),
        ["namespaces", ns, p, name, sub] => target(p, Some(ns), Some(name), Some(sub)),
        [p, name, sub] => target(p, None, Some(name), Some(sub)),
        _ => None,
    };
    found.unwrap_or(Route::Unknown)
}

/// A decoded query string; a repeated key keeps its last value.
pub fn query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or_default()
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (decode(k), decode(v))
        })
        .collect()
}

/// Percent-decoding, `+` as a space (what Go's `url.Values` sends).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: &str) -> Target {
        match parse(path) {
            Route::Resource(t) => t,
            other => panic!("{path}: {other:?}"),
        }
    }

    #[test]
    fn resource_paths_parse() {
        let t = target("/apis/apps/v1/namespaces/prod/deployments/web/scale");
        assert_eq!(
            (
                t.t.plural,
                t.namespace.as_deref(),
                t.name.as_deref(),
                t.subresource.as_deref()
            ),
            ("deployments", Some("prod"), Some("web"), Some("scale"))
        );
        let t = target("/api/v1/namespaces/prod/services");
        assert_eq!(
            (t.t.plural, t.namespace.as_deref(), t.name),
            ("services", Some("prod"), None)
        );
        let t = target("/api/v1/namespaces/prod");
        assert_eq!(
            (t.t.plural, t.name.as_deref()),
            ("namespaces", Some("prod"))
        );
        let t = target("/apis/apps/v1/deployments");
        assert_eq!((t.t.plural, t.namespace), ("deployments", None));
        assert_eq!(
            parse("/apis/apps/v1"),
            Route::GroupVersion("apps".into(), "v1".into())
        );
        assert_eq!(parse("/apis/apps/v1/namespaces/p/widgets"), Route::Unknown);
        assert_eq!(parse("/apis/apps/v1/deployments/web"), Route::Unknown);
        assert_eq!(parse("/apis/batch/v1/jobs"), Route::Unknown);
        assert_eq!(
            parse("/openapi/v3/apis/apps/v1"),
            Route::OpenApiV3("apis/apps/v1".into())
        );
    }

    #[test]
    fn queries_decode() {
        let q = query(Some(
            "labelSelector=app%3Dweb%2Ctier+in+%28a%2Cb%29&watch=true&bad=%zz",
        ));
        assert_eq!(q["labelSelector"], "app=web,tier in (a,b)");
        assert_eq!(q["watch"], "true");
        assert_eq!(q["bad"], "%zz");
    }
}
