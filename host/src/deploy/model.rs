//! Deployments, revisions, their lifecycle, and traffic splits.

use std::collections::BTreeMap;
use std::fmt;

use envpack_manifest::Digest;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::runtime::slots::deployer::{Plan, Weight};
use crate::types::SourceKind;

/// A revision's lifecycle state.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum RevState {
    /// Recorded and planned, not applied yet.
    Staged,
    /// Applied; waiting for its health check.
    Warming,
    /// Healthy; may receive traffic.
    Ready,
    /// Receives no new traffic; finishing what it has.
    Draining,
    /// Stopped, kept for rollback.
    Inactive,
    /// Gone for good.
    Archived,
    /// Apply or the health check failed; the reason is kept.
    Failed,
}

impl RevState {
    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            RevState::Staged => "staged",
            RevState::Warming => "warming",
            RevState::Ready => "ready",
            RevState::Draining => "draining",
            RevState::Inactive => "inactive",
            RevState::Archived => "archived",
            RevState::Failed => "failed",
        }
    }

    /// The one transition table: which states may follow which.
    pub fn allowed_next(self) -> &'static [RevState] {
        use RevState::*;
        match self {
            Staged => &[Warming, Failed],
            Warming => &[Ready, Failed],
            Ready => &[Draining, Failed],
            Draining => &[Inactive, Ready],
            // An inactive revision can be warmed again (rollback to it).
            Inactive => &[Warming, Archived],
            Archived => &[],
            // A failed revision is retried from the start.
            Failed => &[Staged, Archived],
        }
    }

    /// Checks one transition.
    pub fn check(self, next: RevState, revision: &str) -> Result<()> {
        if self.allowed_next().contains(&next) {
            Ok(())
        } else {
            let allowed: Vec<&str> = self.allowed_next().iter().map(|s| s.as_str()).collect();
            Err(Error::conflict(format!(
                "revision {revision} is {}; it cannot become {} (allowed next: {})",
                self.as_str(),
                next.as_str(),
                if allowed.is_empty() {
                    "none".to_string()
                } else {
                    allowed.join(", ")
                }
            )))
        }
    }
}

impl fmt::Display for RevState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One revision of a deployment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Revision {
    /// Sortable unique id.
    pub id: String,
    /// 1, 2, 3... within the deployment.
    pub sequence: u64,
    /// The bundle it runs.
    pub bundle_id: Digest,
    /// Bundle version.
    pub version: String,
    /// Bundle source kind.
    pub source: SourceKind,
    /// Lifecycle state.
    pub state: RevState,
    /// Created.
    pub created: String,
    /// Last changed.
    pub updated: String,
    /// The plan the deployer returned, applied as recorded.
    pub plan: Option<Plan>,
    /// Where it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Why it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The bundle's target settings (routing: `host`, `prefix`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    /// What the target reported when the revision was applied (its
    /// `apply-report` attributes), such as the Kinetic target's
    /// `kinetic.baseline`: the inventory it left, which observation
    /// expects.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub applied: BTreeMap<String, String>,
}

/// One traffic change, kept for history and rollback.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficEntry {
    /// The generation it made.
    pub generation: u64,
    /// The split.
    pub weights: Vec<Weight>,
    /// When.
    pub at: String,
    /// `deploy`, `traffic` or `rollback`.
    pub cause: String,
    /// The idempotency key, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
}

/// A deployment: one bundle name in one environment.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deployment {
    /// File format.
    pub format: u32,
    /// The bundle name.
    pub name: String,
    /// Created.
    pub created: String,
    /// Revisions, oldest first.
    pub revisions: Vec<Revision>,
    /// Current traffic generation (0: never routed).
    pub generation: u64,
    /// Current split.
    pub weights: Vec<Weight>,
    /// Every traffic change, oldest first.
    pub traffic_history: Vec<TrafficEntry>,
    /// Idempotency key -> the generation it produced.
    #[serde(default)]
    pub idempotency: BTreeMap<String, u64>,
    /// Revisions stopped by `env down`: expected not to run until `env up`
    /// starts them again.
    #[serde(default, skip_serializing_if = "std::collections::BTreeSet::is_empty")]
    pub stopped: std::collections::BTreeSet<String>,
}

impl Deployment {
    /// A new, empty deployment.
    pub fn new(name: &str, now: &str) -> Self {
        Self {
            format: 1,
            name: name.to_string(),
            created: now.to_string(),
            revisions: Vec::new(),
            generation: 0,
            weights: Vec::new(),
            traffic_history: Vec::new(),
            idempotency: BTreeMap::new(),
            stopped: Default::default(),
        }
    }

    /// A revision by id (or unique id prefix); `env` is the environment
    /// the deployment belongs to, for the hint.
    pub fn revision(&self, env: &crate::types::EnvName, id: &str) -> Result<&Revision> {
        let matches: Vec<&Revision> = self
            .revisions
            .iter()
            .filter(|r| r.id.starts_with(id))
            .collect();
        match matches.as_slice() {
            [one] => Ok(one),
            [] => Err(Error::not_found(format!(
                "deployment {} of environment {env} has no revision {id:?}",
                self.name
            ))
            .hint(format!(
                "envpack revisions list --env {env} --deployment {}",
                self.name
            ))),
            _ => Err(Error::invalid(format!(
                "revision prefix {id:?} is ambiguous in deployment {}",
                self.name
            ))
            .hint(format!(
                "give more of the id; envpack revisions list --env {env} --deployment {}",
                self.name
            ))),
        }
    }

    /// Mutable access by exact id.
    pub fn revision_mut(&mut self, id: &str) -> Result<&mut Revision> {
        let name = self.name.clone();
        self.revisions
            .iter_mut()
            .find(|r| r.id == id)
            .ok_or_else(|| Error::internal(format!("deployment {name} lost revision {id}")))
    }

    /// The basis points routed to a revision now.
    pub fn weight_of(&self, id: &str) -> u32 {
        self.weights
            .iter()
            .find(|w| w.revision == id)
            .map_or(0, |w| w.basis_points)
    }
}

/// Parses one `REV=WEIGHT` entry: `99%`, `99.5%`, or `9950bps`.
pub fn parse_weight(entry: &str) -> Result<(String, u32)> {
    let (rev, w) = entry.split_once('=').ok_or_else(|| {
        Error::invalid(format!(
            "traffic entry {entry:?} is not REVISION=WEIGHT (e.g. r1=99% or r1=9900bps)"
        ))
    })?;
    let bad = |why: &str| Error::invalid(format!("traffic entry {entry:?}: {why}"));
    let bps = crate::types::basis_points(w).map_err(bad)?;
    if rev.is_empty() {
        return Err(bad("the revision is empty"));
    }
    Ok((rev.to_string(), bps))
}

/// Checks that weights sum to exactly 10,000 basis points (summed in u64 so
/// no overflow can fake a valid total) with no revision twice.
pub fn check_sum(weights: &[Weight]) -> Result<()> {
    let sum: u64 = weights.iter().map(|w| u64::from(w.basis_points)).sum();
    if sum != 10_000 {
        return Err(Error::invalid(format!(
            "traffic weights sum to {sum} basis points ({}%); they must sum to exactly 10000 (100%)",
            sum as f64 / 100.0
        )));
    }
    let mut seen = std::collections::BTreeSet::new();
    for w in weights {
        if !seen.insert(&w.revision) {
            return Err(Error::invalid(format!(
                "revision {} appears twice in the split",
                w.revision
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weights_parse() {
        assert_eq!(parse_weight("r1=99%").unwrap().1, 9900);
        assert_eq!(parse_weight("r1=0.5%").unwrap().1, 50);
        assert_eq!(parse_weight("r1=99.25%").unwrap().1, 9925);
        assert_eq!(parse_weight("r1=9900bps").unwrap().1, 9900);
        for bad in [
            "r1",
            "r1=99",
            "r1=101%",
            "r1=10001bps",
            "r1=4294967296bps",
            "r1=-1bps",
            "r1=1.234%",
            "=5%",
            "r1=%",
        ] {
            assert!(parse_weight(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sums_are_exact() {
        let w = |r: &str, b| Weight {
            revision: r.into(),
            basis_points: b,
        };
        assert!(check_sum(&[w("a", 9999)]).is_err());
        assert!(check_sum(&[w("a", 9999), w("b", 2)]).is_err());
        assert!(check_sum(&[w("a", 9900), w("b", 100)]).is_ok());
        assert!(check_sum(&[w("a", u32::MAX), w("b", 10_001)]).is_err());
        assert!(check_sum(&[w("a", 5000), w("a", 5000)]).is_err());
    }

    #[test]
    fn transition_table() {
        use RevState::*;
        assert!(Staged.check(Warming, "r").is_ok());
        assert!(Staged.check(Ready, "r").is_err());
        assert!(Failed.check(Staged, "r").is_ok());
        assert!(Archived.check(Staged, "r").is_err());
        assert!(
            Ready
                .check(Archived, "r")
                .unwrap_err()
                .message()
                .contains("allowed next: draining, failed")
        );
    }
}
