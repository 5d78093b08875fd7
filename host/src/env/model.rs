//! The records an environment keeps on disk.

use std::collections::{BTreeMap, BTreeSet};

use envpack_descriptor::{Descriptor, Requirement, Slot};
use envpack_manifest::{Digest, Grants};
use serde::{Deserialize, Serialize};

pub use crate::types::{EnvName, SourceKind};

/// The deployment policy an environment owns and the host enforces.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Policy {
    /// A production environment: deploys only what its policy allows and
    /// only by promotion from the previous rung.
    pub production: bool,
    /// Where deployed bundles may come from.
    pub allowed_sources: BTreeSet<SourceKind>,
    /// The previous rung of the promotion ladder, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<EnvName>,
    /// Deploys and promotions need bundles whose provenance `bundle build`
    /// read from git (not `--no-git`, not built before it was checked).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_provenance: bool,
    /// Deploys and promotions need a valid signature by a trusted key.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub require_signature: bool,
    /// Keys whose bundle signatures this environment trusts: key id
    /// (`sha256:` of the public key) -> public key, hex.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub trusted_keys: BTreeMap<String, String>,
    /// Glob patterns (`*`, `?`) a release-tag bundle's tag must match one
    /// of; empty: any tag.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tag_patterns: Vec<String>,
}

impl Policy {
    /// The default: not production, every source allowed, no previous rung.
    /// A production environment defaults to release tags only.
    pub fn default_for(production: bool) -> Self {
        Self {
            production,
            allowed_sources: if production {
                [SourceKind::ReleaseTag].into()
            } else {
                SourceKind::ALL.into()
            },
            after: None,
            require_provenance: false,
            require_signature: false,
            trusted_keys: BTreeMap::new(),
            tag_patterns: Vec::new(),
        }
    }
}

/// `env.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnvMeta {
    /// File format.
    pub format: u32,
    /// The environment.
    pub name: EnvName,
    /// When it was created.
    pub created_at: String,
    /// Its policy.
    pub policy: Policy,
    /// Per-pack configuration: pack id -> key -> value.
    #[serde(default)]
    pub config: BTreeMap<String, BTreeMap<String, String>>,
    /// Quotas for each pack here, where they differ from the host's.
    #[serde(default, skip_serializing_if = "PackLimits::is_default")]
    pub limits: PackLimits,
}

/// Per-environment quotas, applied to each pack bound in the environment;
/// unset ones fall back to the host's (`ENVPACK_KV_QUOTA_MB`,
/// `ENVPACK_SCRATCH_QUOTA_MB`, or the built-in defaults).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackLimits {
    /// MiB of kv values each pack may keep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kv_quota_mb: Option<u64>,
    /// MiB each pack may keep in its scratch directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scratch_quota_mb: Option<u64>,
}

impl PackLimits {
    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }
}

/// One slot's binding in the lock.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Binding {
    /// What the operator asked for.
    pub requirement: Requirement,
    /// What it resolved to.
    pub descriptor: Descriptor,
    /// The exact bytes: sha256 of the pack file.
    pub digest: Digest,
    /// The capabilities the operator granted this pack here.
    pub grants: Grants,
    /// When it was bound.
    pub bound_at: String,
}

/// `lock.json`: the pinned packs and powers of an environment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Lock {
    /// File format.
    pub format: u32,
    /// Incremented by every change; compare-and-swap for writers.
    pub generation: u64,
    /// Slot -> binding.
    pub slots: BTreeMap<Slot, Binding>,
}

/// Current file format of `env.json` and `lock.json`.
pub const FORMAT: u32 = 1;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_names() {
        for ok in ["local", "dev", "prod-eu-1", "2026"] {
            assert!(ok.parse::<EnvName>().is_ok(), "{ok}");
        }
        for bad in ["", "Dev", "-x", "a_b", "a b", &"x".repeat(65)] {
            assert!(bad.parse::<EnvName>().is_err(), "{bad}");
        }
    }

    #[test]
    fn lock_round_trips() {
        let lock = Lock {
            format: FORMAT,
            generation: 3,
            slots: [(
                Slot::State,
                Binding {
                    requirement: "greentic.state.fs@^0.1".parse().expect("req"),
                    descriptor: "greentic.state.fs@0.1.0".parse().expect("d"),
                    digest: Digest::of(b"x"),
                    grants: ["log".parse().expect("cap")].into_iter().collect(),
                    bound_at: "2026-11-23T00:00:00Z".into(),
                },
            )]
            .into(),
        };
        let json = serde_json::to_string(&lock).expect("json");
        assert_eq!(serde_json::from_str::<Lock>(&json).expect("parse"), lock);
        assert!(serde_json::from_str::<Lock>("{\"format\":1}").is_err());
    }
}
