//! `promote BUNDLE_ID --to E`: deploys the very same bundle (same id, same
//! bytes) into the next rung, if it is deployed and ready in the previous
//! one, and writes a promotion report.

use envpack_manifest::Digest;
use serde::Serialize;

use super::bundle::Verified;
use super::deploy::{DeployOutcome, Release, deploy_release};
use super::gate::{self, GateCheck, GateDecision, GateInputs, SourceObservation};
use super::journal::{self, AuditEvent, PolicyDecision};
use super::model::{RevState, Revision};
use super::policy::check_policy;
use super::records::DeploymentRecords;
use crate::env::{EnvName, EnvRecords};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::now_rfc3339;

/// A promotion report, written to the target environment
/// (`promotions/<at>-<id>.json`) for every promotion the gate decides,
/// allowed or refused; `envpack promote --report-schema` prints its schema.
#[derive(Clone, Debug, Serialize, serde::Deserialize, schemars::JsonSchema)]
pub struct PromotionReport {
    /// Bundle id.
    #[schemars(with = "String")]
    pub bundle: Digest,
    /// Bundle name and version.
    pub name: String,
    /// Version.
    pub version: String,
    /// Source environment: where the bytes came from.
    #[schemars(with = "String")]
    pub from: EnvName,
    /// The ready revision there.
    pub from_revision: String,
    /// Target environment.
    #[schemars(with = "String")]
    pub to: EnvName,
    /// The bundle's verification: its id and file digest, every payload
    /// and evidence file checked against the manifest.
    #[serde(default)]
    pub verification: serde_json::Value,
    /// Policy decision in the target.
    pub policy: PolicyDecision,
    /// The release gate: each check with its evidence, and the decision.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateDecision>,
    /// `ok`, `refused: ...`, or the failure.
    pub result: String,
    /// The new revision in the target, when deployed.
    pub revision: Option<String>,
    /// What the target's deployment points at afterwards: deployment,
    /// traffic generation and split.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pointer: Option<serde_json::Value>,
    /// When.
    pub at: String,
}

impl PromotionReport {
    /// A report before the deploy: bundle, source, target, decisions.
    fn new(
        verified: &Verified,
        (from, from_revision): (&EnvName, &str),
        to: &EnvName,
        policy: PolicyDecision,
        gate: GateDecision,
    ) -> Self {
        Self {
            bundle: verified.id,
            name: verified.manifest.name.clone(),
            version: verified.manifest.version.to_string(),
            from: from.clone(),
            from_revision: from_revision.to_string(),
            to: to.clone(),
            verification: serde_json::json!({
                "bundle": verified.id,
                "file_digest": verified.file_digest,
                "payload_files": verified.manifest.files.len(),
                "evidence_files": verified.manifest.evidence.len(),
                "verified": true,
            }),
            policy,
            gate: Some(gate),
            result: String::new(),
            revision: None,
            pointer: None,
            at: now_rfc3339(),
        }
    }
}

/// What `promote` needs.
pub struct PromoteOptions<'a> {
    /// The bundle id or a unique hex prefix.
    pub bundle_id: &'a str,
    /// The environment to promote into.
    pub to: &'a EnvName,
    /// Warm-up timeout.
    pub timeout: Option<std::time::Duration>,
    /// Plan only.
    pub dry_run: bool,
    /// Observes the previous rung for the gate (`truth::observe`).
    pub observe: &'a dyn Fn(&EnvName) -> Result<SourceObservation>,
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

/// `promote`: the release gate first, before any side effect; then the
/// very bytes of the previous rung deployed as a new revision.
pub fn promote(
    home: &Home,
    runtime: &Runtime,
    opts: &PromoteOptions<'_>,
) -> Result<(PromotionReport, Option<DeployOutcome>)> {
    let to = opts.to;
    let to_env = EnvRecords::new(home, to);
    let (meta, _) = to_env.load()?;
    let from = meta.policy.after.clone().ok_or_else(|| {
        Error::invalid(format!(
            "environment {to} has no previous rung to promote from"
        ))
        .hint(format!("envpack env policy {to} --after <ENV>"))
    })?;
    let from_records = DeploymentRecords::new(&EnvRecords::new(home, &from));
    let rev = ready_revision(&from_records, opts.bundle_id, to)?;
    let (from_dep, rev) = from_records.find_revision(&rev.id)?;
    let (verified, bytes) = from_records.open_bundle_scanned(&rev.bundle_id)?;
    let signature = from_records.signature(&rev.bundle_id)?;
    let gate = &meta.policy.gate;
    let observed = (gate.soak.is_some() || gate.no_drift).then(|| {
        (opts.observe)(&from).unwrap_or_else(|e| SourceObservation {
            unobservable: Some(e.message().to_string()),
            ..SourceObservation::default()
        })
    });
    let decision = gate::evaluate(&GateInputs {
        gate,
        to,
        from: &from,
        verified: &verified,
        deployment: &from_dep,
        revision: &rev,
        observed: observed.as_ref(),
        now: std::time::SystemTime::now(),
    });
    let policy = check_policy(&meta, &verified, Some(&from));
    let mut report =
        PromotionReport::new(&verified, (&from, &rev.id), to, policy, decision.clone());
    if !decision.allowed {
        return Err(refuse(&to_env, &mut report, opts.dry_run)?);
    }
    let release = Release {
        verified: &verified,
        bytes: &bytes,
        signature: signature.as_ref(),
        dry_run: opts.dry_run,
        promoted_from: Some(&from),
        timeout: opts.timeout,
    };
    let outcome = deploy_release(home, runtime, to, &release);
    report.result = match &outcome {
        Ok(_) if opts.dry_run => "dry run: nothing was changed".into(),
        Ok(_) => "ok".into(),
        Err(e) => format!("failed: {}", e.message()),
    };
    if let Ok(o) = &outcome {
        report.revision = Some(o.revision.id.clone());
        report.pointer = Some(serde_json::json!({
            "deployment": o.deployment,
            "generation": DeploymentRecords::new(&to_env).load(&o.deployment)?.map(|d| d.generation),
            "weights": o.weights,
        }));
    }
    if !opts.dry_run {
        store_report(&to_env, &report)?;
    }
    outcome.map(|o| (report, Some(o)))
}

fn store_report(to_env: &EnvRecords, report: &PromotionReport) -> Result<()> {
    // Two decisions in the same second (a refusal, then another) are two
    // reports: the name carries the sub-second time too.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    let name = format!(
        "{}-{}-{nanos:09}",
        report.at.replace(':', ""),
        &report.bundle.hex()[..12]
    );
    DeploymentRecords::new(to_env).store_report(&name, report)
}

/// A promotion the gate refused: audited and reported (unless a dry run),
/// with every failed check and its fix.
fn refuse(to_env: &EnvRecords, report: &mut PromotionReport, dry_run: bool) -> Result<Error> {
    let failed: Vec<&GateCheck> = report
        .gate
        .iter()
        .flat_map(|g| g.checks.iter())
        .filter(|c| !c.passed)
        .collect();
    let names: Vec<&str> = failed.iter().map(|c| c.check.as_str()).collect();
    report.result = format!("refused by the release gate: {}", names.join(", "));
    if !dry_run {
        let mut ev = AuditEvent::new(
            "promote",
            format!("{} {} ({})", report.name, report.version, report.bundle),
            "denied",
        );
        ev.policy = Some(PolicyDecision {
            allowed: false,
            reason: report.result.clone(),
        });
        journal::audit(to_env, &ev)?;
        store_report(to_env, report)?;
    }
    let mut message = format!(
        "promotion of {} {} to {} refused by the release gate:",
        report.name, report.version, report.to
    );
    for c in &failed {
        message.push_str(&format!("\n  {}: {}", c.check, c.detail));
    }
    let fixes: Vec<String> = failed.iter().filter_map(|c| c.fix.clone()).collect();
    // The report rides along, so a caller can show every check.
    Ok(Error::denied(message)
        .hint(fixes.join("; then "))
        .with_details(serde_json::to_value(&*report).unwrap_or_default()))
}
