//! What a test scripts into the double: how long rollouts take, which
//! rollouts never become available and why, and which verbs RBAC denies.

use std::time::Duration;

use serde_json::Value;

/// Which Deployments a [`RolloutFailure`] applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RolloutMatch {
    /// The Deployment with this name, in any namespace.
    Name(String),
    /// Any Deployment whose pod template runs a container whose image
    /// contains this text (`"bad:1"`, or a digest).
    Image(String),
}

/// Why the pods of a failing rollout never become ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodFailure {
    /// The image cannot be pulled: containers wait in `ImagePullBackOff`.
    ImagePullBackOff,
    /// The container exits with code 1 at start: `CrashLoopBackOff`, with
    /// the terminated last state.
    CrashLoopBackOff,
}

impl PodFailure {
    pub fn reason(self) -> &'static str {
        match self {
            PodFailure::ImagePullBackOff => "ImagePullBackOff",
            PodFailure::CrashLoopBackOff => "CrashLoopBackOff",
        }
    }
}

/// A scripted rollout that ends in `ProgressDeadlineExceeded`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RolloutFailure {
    pub matches: RolloutMatch,
    pub failure: PodFailure,
}

/// A verb on a resource that the RBAC table denies.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denial {
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`,
    /// `deletecollection`, or `*` for every verb.
    pub verb: String,
    /// Plural resource (`deployments`), optionally with a subresource
    /// (`deployments/scale`), or `*` for every resource.
    pub resource: String,
}

impl Denial {
    /// Parses `VERB/RESOURCE[/SUBRESOURCE]` (the `--deny` option).
    pub fn parse(text: &str) -> Result<Denial, String> {
        match text.split_once('/') {
            Some((verb, resource)) if !verb.is_empty() && !resource.is_empty() => Ok(Denial {
                verb: verb.to_string(),
                resource: resource.to_string(),
            }),
            _ => Err(format!(
                "invalid denial {text:?}: expected VERB/RESOURCE, e.g. patch/deployments or delete/services"
            )),
        }
    }

    fn covers(&self, verb: &str, resource: &str, subresource: &str) -> bool {
        let full = if subresource.is_empty() {
            resource.to_string()
        } else {
            format!("{resource}/{subresource}")
        };
        (self.verb == "*" || self.verb == verb) && (self.resource == "*" || self.resource == full)
    }
}

/// Everything scripted, shared by the server and the test handle.
#[derive(Debug, Clone, Default)]
pub struct Script {
    pub rollout_delay: Duration,
    pub failures: Vec<RolloutFailure>,
    pub denials: Vec<Denial>,
}

impl Script {
    /// Whether RBAC allows `verb` on `resource` (plural) / `subresource`.
    pub fn allows(&self, verb: &str, resource: &str, subresource: &str) -> bool {
        !self
            .denials
            .iter()
            .any(|d| d.covers(verb, resource, subresource))
    }

    /// How the rollout of this Deployment fails, if it is scripted to.
    pub fn failure_of(&self, deployment: &Value) -> Option<PodFailure> {
        let name = deployment["metadata"]["name"].as_str().unwrap_or_default();
        let images: Vec<&str> = deployment["spec"]["template"]["spec"]["containers"]
            .as_array()
            .map(|cs| cs.iter().filter_map(|c| c["image"].as_str()).collect())
            .unwrap_or_default();
        self.failures
            .iter()
            .find(|f| match &f.matches {
                RolloutMatch::Name(n) => n == name,
                RolloutMatch::Image(i) => images.iter().any(|img| img.contains(i.as_str())),
            })
            .map(|f| f.failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn denials_cover_verb_and_resource() {
        let s = Script {
            denials: vec![
                Denial::parse("patch/deployments").expect("valid"),
                Denial::parse("*/secrets").expect("valid"),
                Denial::parse("update/deployments/scale").expect("valid"),
            ],
            ..Script::default()
        };
        assert!(!s.allows("patch", "deployments", ""));
        assert!(s.allows("get", "deployments", ""));
        assert!(!s.allows("get", "secrets", ""));
        assert!(!s.allows("update", "deployments", "scale"));
        assert!(s.allows("update", "deployments", ""));
        assert!(Denial::parse("patch").is_err());
    }

    #[test]
    fn failures_match_by_name_or_image() {
        let d = json!({"metadata": {"name": "web"}, "spec": {"template": {"spec": {"containers": [{"image": "reg/app@sha256:bad"}]}}}});
        let by_image = Script {
            failures: vec![RolloutFailure {
                matches: RolloutMatch::Image("sha256:bad".into()),
                failure: PodFailure::ImagePullBackOff,
            }],
            ..Script::default()
        };
        assert_eq!(by_image.failure_of(&d), Some(PodFailure::ImagePullBackOff));
        let by_name = Script {
            failures: vec![RolloutFailure {
                matches: RolloutMatch::Name("api".into()),
                failure: PodFailure::CrashLoopBackOff,
            }],
            ..Script::default()
        };
        assert_eq!(by_name.failure_of(&d), None);
    }
}
