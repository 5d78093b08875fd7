//! Which bundles an environment accepts: the sources its policy allows, and
//! for a production environment with a previous rung, promotion only.

use super::bundle::Verified;
use super::journal::PolicyDecision;
use crate::env::{EnvMeta, EnvName};
use crate::types::SourceKind;

/// Checks an environment's policy for a bundle. `promoted_from` is the rung
/// the bundle is promoted from, when it is.
pub fn check_policy(
    meta: &EnvMeta,
    v: &Verified,
    promoted_from: Option<&EnvName>,
) -> PolicyDecision {
    decide(
        meta,
        v.manifest.source.kind,
        &v.manifest.source.reference,
        promoted_from,
    )
}

fn decide(
    meta: &EnvMeta,
    source: SourceKind,
    reference: &str,
    promoted_from: Option<&EnvName>,
) -> PolicyDecision {
    let p = &meta.policy;
    if !p.allowed_sources.contains(&source) {
        let allowed: Vec<&str> = p.allowed_sources.iter().map(|s| s.as_str()).collect();
        return PolicyDecision {
            allowed: false,
            reason: format!(
                "environment {} allows bundles from {} only; this bundle comes from a {} ({reference})",
                meta.name,
                if allowed.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.join(", ")
                },
                source.as_str(),
            ),
        };
    }
    if p.production
        && let Some(prev) = &p.after
        && promoted_from != Some(prev)
    {
        return PolicyDecision {
            allowed: false,
            reason: format!(
                "environment {} is production and takes bundles only by promotion from {prev}",
                meta.name
            ),
        };
    }
    PolicyDecision {
        allowed: true,
        reason: format!("source {} is allowed in {}", source.as_str(), meta.name),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::env::Policy;

    fn meta(production: bool, after: Option<&str>) -> EnvMeta {
        let mut policy = Policy::default_for(production);
        policy.after = after.map(|a| a.parse().expect("name"));
        EnvMeta {
            format: 1,
            name: "prod".parse().expect("name"),
            created_at: String::new(),
            policy,
            config: Default::default(),
            limits: Default::default(),
        }
    }

    /// Sources x production x promotion.
    #[test]
    fn decisions() {
        let staging: EnvName = "staging".parse().expect("name");
        let other: EnvName = "dev".parse().expect("name");
        for (production, after, source, from, want) in [
            (false, None, SourceKind::FeatureBranch, None, true),
            (true, None, SourceKind::FeatureBranch, None, false),
            (true, None, SourceKind::ReleaseTag, None, true),
            (true, Some("staging"), SourceKind::ReleaseTag, None, false),
            (
                true,
                Some("staging"),
                SourceKind::ReleaseTag,
                Some(&staging),
                true,
            ),
            (
                true,
                Some("staging"),
                SourceKind::ReleaseTag,
                Some(&other),
                false,
            ),
            (
                true,
                Some("staging"),
                SourceKind::Main,
                Some(&staging),
                false,
            ),
        ] {
            let d = decide(&meta(production, after), source, "ref", from);
            assert_eq!(
                d.allowed, want,
                "{production} {after:?} {source} {from:?}: {}",
                d.reason
            );
        }
    }
}
