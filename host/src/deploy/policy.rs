//! Which bundles an environment accepts: the sources its policy allows,
//! the tags release-tag bundles may have, for a production environment with
//! a previous rung promotion only, and (with `require_signature`) only
//! bundles signed by a key it trusts.

use super::bundle::signature::{self, SignatureFile};
use super::bundle::{Provenance, Verified};
use super::journal::PolicyDecision;
use crate::env::{EnvMeta, EnvName};
use crate::error::{Error, Result};
use crate::types::SourceKind;

/// Checks an environment's policy for a bundle. `promoted_from` is the rung
/// the bundle is promoted from, when it is.
pub fn check_policy(
    meta: &EnvMeta,
    v: &Verified,
    promoted_from: Option<&EnvName>,
) -> PolicyDecision {
    let src = &v.manifest.source;
    if meta.policy.require_provenance && src.provenance != Some(Provenance::Git) {
        return PolicyDecision {
            allowed: false,
            reason: format!(
                "environment {} requires provenance read from git; bundle {} {} has provenance {}",
                meta.name,
                v.manifest.name,
                v.manifest.version,
                match src.provenance {
                    Some(Provenance::Unverified) => "unverified (built with --no-git)",
                    _ => "unknown (built before provenance was checked)",
                }
            ),
        };
    }
    decide(meta, src.kind, &src.reference, promoted_from)
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
    if source == SourceKind::ReleaseTag
        && !p.tag_patterns.is_empty()
        && !p.tag_patterns.iter().any(|g| glob_match(g, reference))
    {
        return PolicyDecision {
            allowed: false,
            reason: format!(
                "environment {} takes release tags matching {} only; this bundle's tag is {reference:?}",
                meta.name,
                p.tag_patterns.join(", ")
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

/// Whether `text` matches `glob`: `*` any run of characters, `?` one.
pub fn glob_match(glob: &str, text: &str) -> bool {
    fn go(g: &[char], t: &[char]) -> bool {
        match g.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| go(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && go(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && go(rest, &t[1..]),
        }
    }
    let g: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    go(&g, &t)
}

/// A tag pattern an operator may set: a non-empty glob of printable
/// characters.
pub fn check_tag_pattern(glob: &str) -> Result<()> {
    if glob.is_empty() || glob.len() > 200 || glob.chars().any(char::is_control) {
        return Err(Error::invalid(format!(
            "tag pattern {glob:?} is not a glob of at most 200 printable characters"
        ))
        .hint("e.g. --tag-pattern 'v*'"));
    }
    Ok(())
}

/// Checks the bundle's signature against the environment's trusted keys.
/// `Ok(Some(key id))`: signed by that trusted key. `Ok(None)`: unsigned,
/// or signed by an unknown key, where signatures are not required. A
/// signature that does not verify is refused whatever the policy
/// (integrity, exit 6); a missing or untrusted one where they are required
/// is refused as denied (exit 4).
pub fn check_signature(
    meta: &EnvMeta,
    v: &Verified,
    sig: Option<&SignatureFile>,
) -> Result<Option<String>> {
    let p = &meta.policy;
    let env = &meta.name;
    let sign_hint = |v: &Verified| {
        format!(
            "sign it with a key {env} trusts: envpack bundle sign BUNDLE --key KEYFILE, or trust the signer's key: envpack env policy {env} --trust-key KEYFILE.pub (bundle {})",
            v.id
        )
    };
    let Some(sig) = sig else {
        if p.require_signature {
            return Err(Error::denied(format!(
                "environment {env} requires a signed bundle; {} {} ({}) has no signature (BUNDLE.sig next to the bundle file)",
                v.manifest.name, v.manifest.version, v.id
            ))
            .hint(sign_hint(v)));
        }
        return Ok(None);
    };
    if let Some(why) = signature::verify(sig, &v.id, &sig.public_key) {
        return Err(Error::integrity(format!(
            "the signature of bundle {} is invalid: {why}",
            v.id
        ))
        .hint("sign it again: envpack bundle sign BUNDLE --key KEYFILE"));
    }
    match p.trusted_keys.get(&sig.key_id) {
        Some(public) if *public == sig.public_key => Ok(Some(sig.key_id.clone())),
        Some(_) => Err(Error::integrity(format!(
            "the signature of bundle {} names trusted key {} but carries another public key",
            v.id, sig.key_id
        ))
        .hint("sign it again: envpack bundle sign BUNDLE --key KEYFILE")),
        None if p.require_signature => Err(Error::denied(format!(
            "bundle {} is signed by key {}, which environment {env} does not trust",
            v.id, sig.key_id
        ))
        .hint(sign_hint(v))),
        None => Ok(None),
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
            retention: Default::default(),
            mode: Default::default(),
        }
    }

    #[test]
    fn globs() {
        for (g, t, want) in [
            ("v*", "v1.2.0", true),
            ("v*", "release-1", false),
            ("v?.*", "v1.2", true),
            ("v?.*", "v10.2", false),
            ("*", "", true),
            ("v1.2.0", "v1.2.0", true),
        ] {
            assert_eq!(glob_match(g, t), want, "{g} {t}");
        }
        let mut m = meta(false, None);
        m.policy.tag_patterns = vec!["v*".into()];
        assert!(decide(&m, SourceKind::ReleaseTag, "v1.0.0", None).allowed);
        assert!(!decide(&m, SourceKind::ReleaseTag, "nightly", None).allowed);
        assert!(decide(&m, SourceKind::Main, "main", None).allowed);
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
