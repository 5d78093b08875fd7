//! The records an environment keeps on disk.

use std::collections::{BTreeMap, BTreeSet};

use envpack_descriptor::{Descriptor, PackId, Requirement, Slot};
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
    /// What a promotion into this environment must show first.
    #[serde(default, skip_serializing_if = "Gate::is_empty")]
    pub gate: Gate,
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
    /// What an install into this environment's `kinetic` slot does when
    /// UI layers conflict with it.
    #[serde(default, skip_serializing_if = "LayerConflicts::is_default")]
    pub layer_conflicts: LayerConflicts,
    /// A production environment whose secrets slot may be the development
    /// store, which keeps values unencrypted: refused unless the operator
    /// said so explicitly (`--allow-dev-secrets`, audited).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_dev_secrets: bool,
}

/// The conflict policy of Kinetic installs: what the host does when an
/// install reports layers that already exist in another company.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LayerConflicts {
    /// Stop, naming the conflicting layers; nothing is cleared.
    #[default]
    Fail,
    /// Export each conflicting layer (kept as an artifact in the
    /// environment's records), clear it, and retry the install once; every
    /// step audited.
    ExportClearAndRetryOnce,
}

impl LayerConflicts {
    fn is_default(&self) -> bool {
        *self == Self::Fail
    }

    /// The policy as written on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Fail => "fail",
            Self::ExportClearAndRetryOnce => "export-clear-and-retry-once",
        }
    }
}

/// The release gate of promotions into an environment (seed 004's
/// `promote-gated`): evidence the bundle must carry, a soak in the previous
/// rung, and a previous rung observed without drift.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Gate {
    /// Evidence files the bundle must carry, by path or glob
    /// (`evidence/test-report.xml`, `evidence/*.json`).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub evidence: BTreeSet<String>,
    /// How long, and with how much traffic, the revision must have run in
    /// the previous rung.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<Soak>,
    /// The previous rung must be observed, at promotion, without drift in
    /// the deployment (accepted drift passes).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_drift: bool,
}

impl Gate {
    /// No check configured.
    pub fn is_empty(&self) -> bool {
        self == &Gate::default()
    }
}

/// A soak: at least `min_basis_points` of the deployment's traffic for at
/// least `min_seconds`, without a break, and observed healthy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Soak {
    /// Share of traffic, in basis points (10,000 = 100%).
    pub min_basis_points: u32,
    /// How long.
    pub min_seconds: u64,
}

impl std::fmt::Display for Soak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let d = humantime::format_duration(std::time::Duration::from_secs(self.min_seconds));
        write!(
            f,
            "{} for {d}",
            crate::types::percent(self.min_basis_points)
        )
    }
}

impl std::str::FromStr for Soak {
    type Err = String;

    /// `PERCENT:DURATION`, e.g. `10%:30m` or `100%:2h`.
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || format!("soak {s:?} is not PERCENT:DURATION, e.g. 10%:30m");
        let (pct, dur) = s.split_once(':').ok_or_else(bad)?;
        let bps = crate::types::basis_points(pct).map_err(|why| format!("soak {s:?}: {why}"))?;
        let secs = humantime::parse_duration(dur).map_err(|_| bad())?.as_secs();
        if bps == 0 || secs == 0 {
            return Err(format!(
                "soak {s:?}: the share and the duration must be above zero"
            ));
        }
        Ok(Soak {
            min_basis_points: bps,
            min_seconds: secs,
        })
    }
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
            gate: Gate::default(),
            require_provenance: false,
            require_signature: false,
            trusted_keys: BTreeMap::new(),
            tag_patterns: Vec::new(),
            layer_conflicts: LayerConflicts::Fail,
            allow_dev_secrets: false,
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
    /// How long revisions that dropped to 0% keep running.
    #[serde(default, skip_serializing_if = "Retention::is_default")]
    pub retention: Retention,
    /// Where its revisions run (`local` when absent, as environments made
    /// before modes existed).
    #[serde(default)]
    pub mode: super::mode::Mode,
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

/// What happens to revisions that drop to 0% of traffic (Argo Rollouts'
/// `scaleDownDelaySeconds`): they keep running for the delay, so a rollback
/// is instant, then stop, except the `keep` most recent.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Seconds a revision keeps running after it drops to 0% (default
    /// [`Retention::DEFAULT_DELAY_SECS`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_down_delay_secs: Option<u64>,
    /// How many of the revisions at 0% stay running anyway, newest first
    /// (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep: Option<u32>,
}

impl Retention {
    /// Five minutes.
    pub const DEFAULT_DELAY_SECS: u64 = 300;

    /// Nothing set.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The delay in effect.
    pub fn delay(&self) -> std::time::Duration {
        std::time::Duration::from_secs(
            self.scale_down_delay_secs
                .unwrap_or(Self::DEFAULT_DELAY_SECS),
        )
    }
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
    /// The registry reference and manifest digest the pack was pulled
    /// from, when it was: pinned here so a tag that moves later is drift
    /// (`env doctor`), never an upgrade.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub origin: Option<crate::types::PackOrigin>,
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
    /// Command-only packs (descriptors `ns.command.name`), any number, each
    /// under its pack id. Absent from locks written before they existed,
    /// and from every lock without one, so those bytes do not change.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub commands: BTreeMap<PackId, Binding>,
}

/// Where a binding sits in an environment: one of its slots, or, for a
/// command-only pack, its own pack id.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(untagged)]
pub enum Seat {
    /// A slot (at most one pack each).
    Slot(Slot),
    /// A command-only pack.
    Commands(PackId),
}

impl Seat {
    /// Where a pack of `id` binds: its slot, or its own id for a
    /// command-only pack.
    pub fn of(id: &PackId) -> Self {
        match id.slot() {
            Slot::Command => Seat::Commands(id.clone()),
            slot => Seat::Slot(slot),
        }
    }

    /// The slot argument of `env bind` / `env unbind` for this seat
    /// (`command` for a command-only pack).
    pub fn slot(&self) -> Slot {
        match self {
            Seat::Slot(s) => *s,
            Seat::Commands(_) => Slot::Command,
        }
    }

    /// `env unbind`'s arguments after the environment: `state`, or
    /// `command acme.command.tools`.
    pub fn unbind_args(&self) -> String {
        match self {
            Seat::Slot(s) => s.to_string(),
            Seat::Commands(id) => format!("command {id}"),
        }
    }
}

impl std::fmt::Display for Seat {
    /// `the state slot`, `command pack acme.command.tools`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Seat::Slot(s) => write!(f, "the {s} slot"),
            Seat::Commands(id) => write!(f, "command pack {id}"),
        }
    }
}

impl Lock {
    /// The binding at `seat`.
    pub fn binding(&self, seat: &Seat) -> Option<&Binding> {
        match seat {
            Seat::Slot(s) => self.slots.get(s),
            Seat::Commands(id) => self.commands.get(id),
        }
    }

    /// Every binding: the slots in order, then the command-only packs.
    pub fn bindings(&self) -> impl Iterator<Item = (Seat, &Binding)> {
        self.slots.iter().map(|(s, b)| (Seat::Slot(*s), b)).chain(
            self.commands
                .iter()
                .map(|(id, b)| (Seat::Commands(id.clone()), b)),
        )
    }

    /// Binds `seat` to `binding`; returns what was there.
    pub fn insert(&mut self, seat: Seat, binding: Binding) -> Option<Binding> {
        match seat {
            Seat::Slot(s) => self.slots.insert(s, binding),
            Seat::Commands(id) => self.commands.insert(id, binding),
        }
    }

    /// Empties `seat`; returns what was there.
    pub fn remove(&mut self, seat: &Seat) -> Option<Binding> {
        match seat {
            Seat::Slot(s) => self.slots.remove(s),
            Seat::Commands(id) => self.commands.remove(id),
        }
    }
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
                    origin: None,
                },
            )]
            .into(),
            commands: BTreeMap::new(),
        };
        let json = serde_json::to_string(&lock).expect("json");
        assert!(
            !json.contains("commands"),
            "no command packs, no key: {json}"
        );
        assert_eq!(serde_json::from_str::<Lock>(&json).expect("parse"), lock);
        assert!(serde_json::from_str::<Lock>("{\"format\":1}").is_err());

        // With a command-only pack: under its id, and read back.
        let mut with = lock.clone();
        let id: PackId = "acme.command.tools".parse().expect("id");
        let mut b = lock.slots[&Slot::State].clone();
        b.descriptor = "acme.command.tools@0.1.0".parse().expect("d");
        assert_eq!(Seat::of(&id), Seat::Commands(id.clone()));
        assert!(with.insert(Seat::of(&id), b.clone()).is_none());
        let json = serde_json::to_string(&with).expect("json");
        assert!(
            json.contains(r#""commands":{"acme.command.tools":"#),
            "{json}"
        );
        let back: Lock = serde_json::from_str(&json).expect("parse");
        assert_eq!(back.binding(&Seat::Commands(id.clone())), Some(&b));
        assert_eq!(back.bindings().count(), 2);
        assert_eq!(
            Seat::Commands(id).unbind_args(),
            "command acme.command.tools"
        );
    }
}
