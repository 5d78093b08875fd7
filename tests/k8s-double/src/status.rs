//! `Status` bodies: every failure the double answers is one, with the
//! `reason`, `code` and message shape of the real API server, so clients
//! (kubectl, the deployer pack) can act on them the same way.

use serde_json::{Value, json};

use crate::resources::ResourceType;

/// A failed API call, rendered as a `kind: Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Option<Value>,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError {
            code,
            reason,
            message: message.into(),
            details: None,
        }
    }

    pub fn with_details(mut self, details: Value) -> Self {
        self.details = Some(details);
        self
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(400, "BadRequest", message)
    }

    pub fn unauthorized() -> Self {
        Self::new(401, "Unauthorized", "Unauthorized")
    }

    /// `deployments.apps "web" not found`
    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("{} \"{name}\" not found", t.qualified()),
        )
        .with_details(details(t, name))
    }

    /// A URL the server does not serve at all.
    pub fn no_route(path: &str) -> Self {
        Self::new(
            404,
            "NotFound",
            format!("the server could not find the requested resource ({path})"),
        )
        .with_details(json!({"causes": [{"reason": "UnexpectedServerResponse", "message": "404 page not found"}]}))
    }

    pub fn already_exists(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "AlreadyExists",
            format!("{} \"{name}\" already exists", t.qualified()),
        )
        .with_details(details(t, name))
    }

    /// An optimistic-concurrency failure (a stale `resourceVersion`).
    pub fn stale(t: &ResourceType, name: &str) -> Self {
        Self::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; \
                 please apply your changes to the latest version and try again",
                t.qualified()
            ),
        )
        .with_details(details(t, name))
    }

    /// `422 Invalid`, with one cause per offending field.
    pub fn invalid(t: &ResourceType, name: &str, causes: &[(&str, String)]) -> Self {
        let list: Vec<String> = causes.iter().map(|(f, m)| format!("{f}: {m}")).collect();
        let mut d = details(t, name);
        d["causes"] = causes
            .iter()
            .map(|(f, m)| json!({"reason": "FieldValueInvalid", "message": m, "field": f}))
            .collect();
        Self::new(
            422,
            "Invalid",
            format!("{} \"{name}\" is invalid: {}", t.kind, list.join(", ")),
        )
        .with_details(d)
    }

    /// `deployments.apps "web" is forbidden: User "envpack-double" cannot
    /// patch resource "deployments" in API group "apps" in the namespace "prod"`
    pub fn forbidden(t: &ResourceType, name: &str, namespace: Option<&str>, verb: &str) -> Self {
        let what = if name.is_empty() {
            t.qualified()
        } else {
            format!("{} \"{name}\"", t.qualified())
        };
        let place = namespace
            .map(|n| format!(" in the namespace \"{n}\""))
            .unwrap_or_default();
        Self::new(
            403,
            "Forbidden",
            format!(
                "{what} is forbidden: User \"envpack-double\" cannot {verb} resource \"{}\" in API group \"{}\"{place}",
                t.plural, t.group
            ),
        )
        .with_details(details(t, name))
    }

    pub fn method_not_allowed(t: &ResourceType, verb: &str) -> Self {
        Self::new(
            405,
            "MethodNotAllowed",
            format!(
                "the server does not allow this method on the requested resource ({verb} {})",
                t.qualified()
            ),
        )
    }

    pub fn unsupported_media(content_type: &str) -> Self {
        Self::new(
            415,
            "UnsupportedMediaType",
            format!(
                "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json, application/apply-patch+yaml (got {content_type:?})"
            ),
        )
    }

    /// The `Status` object.
    pub fn body(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
            "reason": self.reason,
            "code": self.code,
        });
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v
    }
}

fn details(t: &ResourceType, name: &str) -> Value {
    let mut d = json!({"name": name, "kind": t.plural});
    if !t.group.is_empty() {
        d["group"] = json!(t.group);
    }
    d
}

/// The `Status` a successful DELETE of a collection, or of an object
/// already gone from storage, answers with.
pub fn success(t: &ResourceType, name: &str, uid: &str) -> Value {
    let mut d = details(t, name);
    d["uid"] = json!(uid);
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": d,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resources::by_plural;

    #[test]
    fn not_found_reads_like_the_real_server() {
        let t = by_plural("deployments").expect("deployments are served");
        let b = ApiError::not_found(t, "web").body();
        assert_eq!(b["message"], "deployments.apps \"web\" not found");
        assert_eq!(b["reason"], "NotFound");
        assert_eq!(b["code"], 404);
        assert_eq!(b["details"]["group"], "apps");
    }
}
