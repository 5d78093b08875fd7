//! The `deployer` slot: what the host exchanges with a deployer pack, as
//! domain types (the version modules convert them to and from the WIT
//! records), and the client that calls it.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::runtime::instance::Calls;
use crate::runtime::wit::DeployerGuest;
use crate::types::SourceKind;

/// What a deployer's target supports.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Target kind, e.g. `local-process`.
    pub target: String,
    /// One line.
    pub description: String,
    /// Whether traffic can be split between revisions.
    pub supports_traffic_split: bool,
    /// Whether `observe` reports reality.
    pub supports_observe: bool,
    /// Most revisions running at once.
    pub max_live_revisions: Option<u32>,
    /// Extra facts.
    pub attributes: Vec<(String, String)>,
}

/// One file of a bundle, as the deployer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleFileRef {
    /// Relative path.
    pub path: String,
    /// Hex sha256.
    pub sha256: String,
    /// Size.
    pub size: u64,
}

/// A verified bundle, as the deployer sees it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BundleRef {
    /// `sha256:` id.
    pub id: String,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source kind.
    pub source: SourceKind,
    /// Branch or tag.
    pub source_ref: String,
    /// Commit.
    pub commit: Option<String>,
    /// Payload files.
    pub files: Vec<BundleFileRef>,
    /// Guest path of the mounted payload, if mounted.
    pub payload_dir: Option<String>,
    /// Target settings.
    pub attributes: Vec<(String, String)>,
}

/// Identifies a revision to the deployer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RevisionRef {
    /// Environment.
    pub environment: String,
    /// Deployment.
    pub deployment: String,
    /// Revision id.
    pub id: String,
    /// Sequence number within the deployment.
    pub sequence: u64,
}

/// What a plan step does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    /// Creates a resource.
    Create,
    /// Updates one.
    Update,
    /// Deletes one.
    Delete,
    /// Leaves one alone.
    NoOp,
}

/// One planned step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanStep {
    /// Unique within the plan.
    pub id: String,
    /// What it does.
    pub change: Change,
    /// The target resource.
    pub resource: String,
    /// One line.
    pub summary: String,
    /// Extra facts.
    pub attributes: Vec<(String, String)>,
}

/// A deployer's plan, recorded by the host and applied as recorded.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plan {
    /// One line.
    pub summary: String,
    /// Steps.
    pub steps: Vec<PlanStep>,
}

/// Outcome of one applied step.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepResult {
    /// The step.
    pub id: String,
    /// Whether it succeeded.
    pub ok: bool,
    /// Details.
    pub message: String,
}

/// What `apply` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApplyReport {
    /// Per step.
    pub steps: Vec<StepResult>,
    /// Where the revision answers.
    pub endpoint: Option<String>,
    /// Extra facts.
    pub attributes: Vec<(String, String)>,
}

/// Health verdicts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum HealthStatus {
    /// Serving.
    Healthy,
    /// Serving with problems.
    Degraded,
    /// Not serving.
    Unhealthy,
    /// Cannot tell.
    Unknown,
}

/// A health report.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Health {
    /// Verdict.
    pub status: HealthStatus,
    /// Details.
    pub message: String,
    /// Extra facts.
    pub attributes: Vec<(String, String)>,
}

/// A share of traffic in basis points.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Weight {
    /// Revision id.
    pub revision: String,
    /// Basis points (10,000 = 100%).
    pub basis_points: u32,
}

/// What the deployer applied for a traffic change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrafficReport {
    /// Generation applied.
    pub generation: u64,
    /// Weights applied.
    pub applied: Vec<Weight>,
    /// Details.
    pub message: String,
}

/// What the target says really runs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Observed {
    /// Deployment.
    pub deployment: String,
    /// Revision.
    pub revision: String,
    /// Target-specific state.
    pub state: String,
    /// Payload digest, when known.
    pub digest: Option<String>,
    /// Endpoint.
    pub endpoint: Option<String>,
    /// Extra facts.
    pub attributes: Vec<(String, String)>,
}

/// One readiness check of a deployer's target (`deployer.validate`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Short stable name, such as `api-reachable`.
    pub name: String,
    /// Whether it passed.
    pub ok: bool,
    /// What was observed.
    pub detail: String,
    /// How to fix a failing check, when known.
    pub fix: Option<String>,
}

/// A traffic split for `set-traffic`.
#[derive(Clone, Copy, Debug)]
pub struct TrafficSplit<'a> {
    /// Environment.
    pub environment: &'a str,
    /// Deployment.
    pub deployment: &'a str,
    /// The generation this split makes.
    pub generation: u64,
    /// The weights, summing to 10,000 basis points.
    pub weights: &'a [Weight],
}

/// Calls a deployer pack.
pub struct DeployerClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn DeployerGuest,
}

impl<'a> DeployerClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn DeployerGuest) -> Self {
        Self { calls, guest }
    }

    /// `deployer.describe`.
    pub fn describe(&mut self) -> Result<TargetInfo> {
        self.calls
            .call("deployer.describe", |s| self.guest.describe(s))
    }

    /// `deployer.plan`.
    pub fn plan(&mut self, revision: &RevisionRef, bundle: &BundleRef) -> Result<Plan> {
        self.calls
            .call("deployer.plan", |s| self.guest.plan(s, revision, bundle))
    }

    /// `deployer.apply` with exactly the recorded plan.
    pub fn apply(
        &mut self,
        revision: &RevisionRef,
        bundle: &BundleRef,
        plan: &Plan,
    ) -> Result<ApplyReport> {
        self.calls.call("deployer.apply", |s| {
            self.guest.apply(s, revision, bundle, plan)
        })
    }

    /// `deployer.health`.
    pub fn health(&mut self, revision: &RevisionRef) -> Result<Health> {
        self.calls
            .call("deployer.health", |s| self.guest.health(s, revision))
    }

    /// `deployer.set-traffic`.
    pub fn set_traffic(&mut self, split: &TrafficSplit<'_>) -> Result<TrafficReport> {
        self.calls
            .call("deployer.set-traffic", |s| self.guest.set_traffic(s, split))
    }

    /// `deployer.teardown`.
    pub fn teardown(&mut self, revision: &RevisionRef) -> Result<()> {
        self.calls
            .call("deployer.teardown", |s| self.guest.teardown(s, revision))
    }

    /// `deployer.observe`.
    pub fn observe(&mut self, environment: &str) -> Result<Vec<Observed>> {
        self.calls
            .call("deployer.observe", |s| self.guest.observe(s, environment))
    }

    /// `deployer.validate`: checks the target can run the environment's
    /// revisions; changes nothing. A 0.1 deployer answers with one check
    /// built from `describe`.
    pub fn validate(&mut self, environment: &str) -> Result<Vec<Check>> {
        self.calls
            .call("deployer.validate", |s| self.guest.validate(s, environment))
    }

    /// `deployer.prepare`: creates what the environment needs before any
    /// revision, idempotently. A 0.1 deployer has nothing to do.
    pub fn prepare(&mut self, environment: &str) -> Result<Vec<StepResult>> {
        self.calls
            .call("deployer.prepare", |s| self.guest.prepare(s, environment))
    }

    /// `deployer.decommission`: removes what `prepare` created, once every
    /// revision is torn down; idempotent. A 0.1 deployer has nothing to do.
    pub fn decommission(&mut self, environment: &str) -> Result<Vec<StepResult>> {
        self.calls.call("deployer.decommission", |s| {
            self.guest.decommission(s, environment)
        })
    }
}
