//! `promote BUNDLE_ID --to E`: deploys the very same bundle (same id, same
//! bytes) into the next rung, if it is deployed and ready in the previous
//! one, and writes a promotion report.

use envpack_manifest::Digest;
use serde::Serialize;

use super::deploy::{DeployOutcome, Release, deploy_release};
use super::journal::PolicyDecision;
use super::model::{RevState, Revision};
use super::policy::check_policy;
use super::records::DeploymentRecords;
use crate::env::{EnvName, EnvRecords};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::now_rfc3339;

/// A promotion report, written to the target environment.
#[derive(Clone, Debug, Serialize, serde::Deserialize)]
pub struct PromotionReport {
    /// Bundle id.
    pub bundle: Digest,
    /// Bundle name and version.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source environment.
    pub from: EnvName,
    /// The ready revision there.
    pub from_revision: String,
    /// Target environment.
    pub to: EnvName,
    /// Policy decision in the target.
    pub policy: PolicyDecision,
    /// `ok`, or the failure.
    pub result: String,
    /// The new revision in the target, when deployed.
    pub revision: Option<String>,
    /// When.
    pub at: String,
}

/// The ready revision of the source rung running the bundle with id (or
/// unique hex prefix) `bundle_id`.
fn ready_revision(from: &DeploymentRecords, bundle_id: &str, to: &EnvName) -> Result<Revision> {
    let want = bundle_id.trim_start_matches("sha256:");
    let mut found = None;
    let mut ids = std::collections::BTreeSet::new();
    for dep in from.all()? {
        for r in &dep.revisions {
            if r.bundle_id.hex().starts_with(want) && r.state == RevState::Ready {
                ids.insert(r.bundle_id);
                found = Some(r.clone());
            }
        }
    }
    let env = from.name();
    if ids.len() > 1 {
        return Err(Error::invalid(format!(
            "bundle id prefix {bundle_id:?} matches {} bundles ready in {env}; give more of the id",
            ids.len()
        )));
    }
    found.ok_or_else(|| {
        Error::denied(format!(
            "bundle {bundle_id} is not deployed and ready in {env}, the rung before {to}; only what runs there can be promoted"
        ))
        .hint(format!("envpack revisions list --env {env}"))
    })
}

/// `promote`.
pub fn promote(
    home: &Home,
    runtime: &Runtime,
    bundle_id: &str,
    to: &EnvName,
    timeout: Option<std::time::Duration>,
) -> Result<(PromotionReport, Option<DeployOutcome>)> {
    let to_env = EnvRecords::new(home, to);
    let (meta, _) = to_env.load()?;
    let from = meta.policy.after.clone().ok_or_else(|| {
        Error::invalid(format!(
            "environment {to} has no previous rung to promote from"
        ))
        .hint(format!("envpack env policy {to} --after <ENV>"))
    })?;
    let from_records = DeploymentRecords::new(&EnvRecords::new(home, &from));
    let rev = ready_revision(&from_records, bundle_id, to)?;
    let (verified, bytes) = from_records.open_bundle_scanned(&rev.bundle_id)?;
    let signature = from_records.signature(&rev.bundle_id)?;
    let policy = check_policy(&meta, &verified, Some(&from));
    let release = Release {
        verified: &verified,
        bytes: &bytes,
        signature: signature.as_ref(),
        dry_run: false,
        promoted_from: Some(&from),
        timeout,
    };
    let outcome = deploy_release(home, runtime, to, &release);
    let report = PromotionReport {
        bundle: verified.id,
        name: verified.manifest.name.clone(),
        version: verified.manifest.version.to_string(),
        from: from.clone(),
        from_revision: rev.id.clone(),
        to: to.clone(),
        policy,
        result: match &outcome {
            Ok(_) => "ok".into(),
            Err(e) => format!("failed: {}", e.message()),
        },
        revision: outcome.as_ref().ok().map(|o| o.revision.id.clone()),
        at: now_rfc3339(),
    };
    let name = format!(
        "{}-{}",
        report.at.replace(':', ""),
        &verified.id.hex()[..12]
    );
    DeploymentRecords::new(&to_env).store_report(&name, &report)?;
    outcome.map(|o| (report, Some(o)))
}
