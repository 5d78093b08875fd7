//! The three records, as the truth layer compares them: what the
//! environment expects (from its deployment records and stored bundles),
//! what a deployer observed, and the snapshot that keeps both.

use std::collections::BTreeMap;

use envpack_manifest::Digest;
use serde::{Deserialize, Serialize};

use crate::deploy::model::RevState;

/// What the environment claims to run for one revision.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExpectedRevision {
    /// Deployment.
    pub deployment: String,
    /// Revision id.
    pub revision: String,
    /// Its recorded lifecycle state.
    pub lifecycle: RevState,
    /// Basis points it receives now.
    pub basis_points: u32,
    /// Whether it should be running: ready or warming, in an environment
    /// that is not down.
    pub running: bool,
    /// The bundle it runs.
    pub bundle: Digest,
    /// The bundle's version.
    pub version: String,
    /// Where it answers, as recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Payload path -> sha256, from the bundle as it was verified (intent);
    /// empty when the stored bundle cannot be read.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// What the deployer's recorded plan said `observe` will report for the
    /// revision: the `expect.<key>` attributes of its steps, by `<key>`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// The prefix of a plan step attribute that states an expected observed
/// attribute: `expect.image=...` in a plan means `observe` should report
/// `image=...` for that revision.
pub const EXPECT_PREFIX: &str = "expect.";

/// The `expect.*` attributes of a plan's steps, by key without the prefix.
pub fn expected_attributes(
    plan: Option<&crate::runtime::slots::deployer::Plan>,
) -> BTreeMap<String, String> {
    plan.into_iter()
        .flat_map(|p| &p.steps)
        .flat_map(|s| &s.attributes)
        .filter_map(|(k, v)| {
            k.strip_prefix(EXPECT_PREFIX)
                .map(|k| (k.to_string(), v.clone()))
        })
        .collect()
}

/// Everything the environment expects at one moment.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Expectation {
    /// The lock's generation.
    pub lock_generation: u64,
    /// Each deployment's traffic generation.
    pub generations: BTreeMap<String, u64>,
    /// Every revision that is not archived, by deployment then id.
    pub revisions: Vec<ExpectedRevision>,
    /// Problems reading the intent behind it (a stored bundle missing or
    /// not matching its id), by revision.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub intent_problems: BTreeMap<String, String>,
}

/// One revision as a deployer observed it, normalised: volatile attributes
/// (those the pack lists in its `volatile` attribute, and `pid`) dropped.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObservedRevision {
    /// Deployment, when the target knows it.
    pub deployment: String,
    /// Revision id.
    pub revision: String,
    /// Target-specific state: `running`, `exited`, `missing`...
    pub state: String,
    /// The bundle or payload digest the target runs, when it can tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Where it answers.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// Payload path -> sha256 as the files are now, when the host or the
    /// target can read them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub files: BTreeMap<String, String>,
    /// Target-specific facts that are not volatile.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
}

/// What an observation found.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum Observation {
    /// The deployer answered.
    Observed {
        /// Every revision it reports, sorted by revision id.
        revisions: Vec<ObservedRevision>,
    },
    /// The deployer could not tell; never counted as in sync.
    Unobservable {
        /// Why.
        reason: String,
    },
}

impl Observation {
    /// Revision id -> observed state; empty when unobservable.
    pub fn states(&self) -> std::collections::BTreeMap<&str, &str> {
        match self {
            Observation::Observed { revisions } => revisions
                .iter()
                .map(|r| (r.revision.as_str(), r.state.as_str()))
                .collect(),
            Observation::Unobservable { .. } => Default::default(),
        }
    }
}

/// The pack that took an observation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observer {
    /// Its descriptor.
    pub pack: String,
    /// Its digest.
    pub digest: Digest,
}

/// An immutable, content-addressed snapshot: an observation and the
/// expectation it was compared with. Its id is the sha256 of this record,
/// so two identical observations are one snapshot, seen at several times.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot {
    /// Format of this record.
    pub format: u32,
    /// The environment.
    pub environment: String,
    /// Who observed.
    pub observer: Observer,
    /// What was observed.
    pub observation: Observation,
    /// What the environment expected then.
    pub expectation: Expectation,
}

impl Snapshot {
    /// The content address: sha256 of the canonical (compact, key-sorted)
    /// JSON of the record.
    pub fn id(&self) -> Digest {
        Digest::of(&serde_json::to_vec(self).unwrap_or_default())
    }
}

/// One line of the snapshot index: snapshot `id` was observed `at`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Sighting {
    /// The snapshot.
    pub id: Digest,
    /// When.
    pub at: String,
}

/// Consecutive sightings of one snapshot, as one record with a time range.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SnapshotSpan {
    /// The snapshot.
    pub id: Digest,
    /// First seen.
    pub first: String,
    /// Last seen.
    pub last: String,
    /// How many observations found exactly this.
    pub count: usize,
}

/// Groups consecutive identical sightings.
pub fn spans(sightings: &[Sighting]) -> Vec<SnapshotSpan> {
    let mut out: Vec<SnapshotSpan> = Vec::new();
    for s in sightings {
        match out.last_mut() {
            Some(last) if last.id == s.id => {
                last.last = s.at.clone();
                last.count += 1;
            }
            _ => out.push(SnapshotSpan {
                id: s.id,
                first: s.at.clone(),
                last: s.at.clone(),
                count: 1,
            }),
        }
    }
    out
}

/// What kind of difference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftKind {
    /// Expected, not observed.
    Missing,
    /// Observed, not expected.
    Unexpected,
    /// Both, with different values.
    Changed,
}

/// One difference between two records.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriftEntry {
    /// Stable id: the same difference has the same id in every snapshot,
    /// and a new observed value makes a new id.
    pub id: String,
    /// What differs.
    pub kind: DriftKind,
    /// `reality` (reality vs expectation) or `intent` (expectation vs
    /// intent).
    pub between: String,
    /// Deployment.
    pub deployment: String,
    /// Revision.
    pub revision: String,
    /// The field: `revision`, `state`, `bundle`, `endpoint`, `file:<path>`,
    /// or an attribute the plan expected (`image`, `replicas`...).
    pub field: String,
    /// What was expected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected: Option<String>,
    /// What was observed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed: Option<String>,
    /// The bundle the expected value comes from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expected_bundle: Option<String>,
}

impl DriftEntry {
    pub(crate) fn new(
        kind: DriftKind,
        between: &str,
        r: (&str, &str),
        field: &str,
        values: (Option<String>, Option<String>),
    ) -> Self {
        let (deployment, revision) = r;
        let (expected, observed) = values;
        let key = serde_json::json!([
            kind, between, deployment, revision, field, expected, observed
        ]);
        let id = Digest::of(key.to_string().as_bytes()).hex()[..12].to_string();
        Self {
            id,
            kind,
            between: between.into(),
            deployment: deployment.into(),
            revision: revision.into(),
            field: field.into(),
            expected,
            observed,
            expected_bundle: None,
        }
    }
}

/// A recorded acceptance of one drift entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Acceptance {
    /// The entry.
    pub entry: String,
    /// Why it is accepted.
    pub reason: String,
    /// Who accepted it.
    pub actor: String,
    /// When.
    pub at: String,
    /// The snapshot it was seen in.
    pub snapshot: Digest,
}
