//! `deploy BUNDLE --env E`: policy, plan (shown; `--dry-run` stops here),
//! store the bundle and stage the revision, apply, warm, ready. The first
//! revision of a deployment gets all traffic.

use std::path::Path;

use envpack_manifest::Digest;
use serde::Serialize;

use super::bundle::Provenance;
use super::bundle::signature::SignatureFile;
use super::bundle::{self, Verified};
use super::journal::{self, AuditEvent, HistoryEntry, PolicyDecision};
use super::model::{Deployment, RevState, Revision, TrafficEntry};
use super::policy::{check_policy, check_signature, glob_match};
use super::records::{DeploymentRecords, Tracked, bundle_ref, new_revision_id, rev_ref};
use super::target::{self, Target};
use super::warm::Warmup;
use crate::env::{EnvName, Session};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::local;
use crate::runtime::slots::deployer::{Plan, TrafficSplit, Weight};
use crate::runtime::{Level, Runtime};
use crate::store::now_rfc3339;
use crate::types::SourceKind;

/// What `deploy` did.
#[derive(Clone, Debug, Serialize)]
pub struct DeployOutcome {
    /// Environment.
    pub environment: EnvName,
    /// Deployment (the bundle name).
    pub deployment: String,
    /// Bundle id.
    pub bundle: Digest,
    /// The revision (not recorded on a dry run).
    pub revision: Revision,
    /// The plan.
    pub plan: Plan,
    /// Whether this was a dry run.
    pub dry_run: bool,
    /// Traffic after.
    pub weights: Vec<Weight>,
    /// Policy decision.
    pub policy: PolicyDecision,
    /// The trusted key id that signed the bundle, when one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

/// What `deploy` deploys, and how.
#[derive(Clone, Copy, Debug)]
pub struct DeployOptions<'a> {
    /// The bundle file.
    pub bundle: &'a Path,
    /// Plan and show, change nothing.
    pub dry_run: bool,
    /// How long warm-up may take (default: `ENVPACK_WARM_TIMEOUT_MS`, else
    /// 30 s).
    pub timeout: Option<std::time::Duration>,
}

/// `deploy BUNDLE --env E`.
pub fn deploy(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    opts: &DeployOptions<'_>,
) -> Result<DeployOutcome> {
    // Read once, verify those bytes, store those bytes: reading the file a
    // second time would let it change between the check and the use.
    let bytes = bundle::read_file(opts.bundle)?;
    let verified = bundle::open_bytes(&bytes, &opts.bundle.display().to_string(), None)?;
    let signature = bundle::signature::read_for(opts.bundle)?;
    let release = Release {
        verified: &verified,
        bytes: &bytes,
        signature: signature.as_ref(),
        dry_run: opts.dry_run,
        promoted_from: None,
        timeout: opts.timeout,
    };
    deploy_release(home, runtime, env, &release)
}

/// A verified bundle on its way into an environment.
pub(crate) struct Release<'a> {
    pub(crate) verified: &'a Verified,
    pub(crate) bytes: &'a [u8],
    /// Its detached signature, when there is one.
    pub(crate) signature: Option<&'a SignatureFile>,
    pub(crate) dry_run: bool,
    /// The rung it is promoted from, when it is.
    pub(crate) promoted_from: Option<&'a EnvName>,
    /// The warm-up deadline.
    pub(crate) timeout: Option<std::time::Duration>,
}

/// Deploys a verified bundle (`deploy`, and `promote` into the next rung).
pub(crate) fn deploy_release(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    release: &Release<'_>,
) -> Result<DeployOutcome> {
    Session::scoped_as(home, runtime, env, release.dry_run, |session| {
        Rollout::new(session, release).run()
    })
}

/// One deploy in progress.
struct Rollout<'s, 'r> {
    session: &'s Session<'r>,
    records: DeploymentRecords,
    release: &'s Release<'s>,
    name: String,
    verb: &'static str,
    target: String,
    policy: PolicyDecision,
    before_generation: u64,
    signed_by: Option<String>,
}

impl<'s, 'r> Rollout<'s, 'r> {
    fn new(session: &'s Session<'r>, release: &'s Release<'s>) -> Self {
        let v = release.verified;
        Self {
            session,
            records: DeploymentRecords::new(session.records()),
            release,
            name: v.manifest.name.clone(),
            verb: if release.promoted_from.is_some() {
                "promote"
            } else {
                "deploy"
            },
            target: format!("{} {} ({})", v.manifest.name, v.manifest.version, v.id),
            policy: check_policy(session.meta(), v, release.promoted_from),
            before_generation: 0,
            signed_by: None,
        }
    }

    fn env(&self) -> &EnvName {
        self.session.name()
    }

    fn run(mut self) -> Result<DeployOutcome> {
        if !self.policy.allowed {
            return Err(self.refuse()?);
        }
        self.signed_by = self.check_signature()?;
        // A dry run reads; it takes no lease (which would create the lease
        // file of a first deployment).
        let _lease = match self.release.dry_run {
            true => None,
            false => Some(self.records.lock()?),
        };
        let v = self.release.verified;
        let now = now_rfc3339();
        let dep = self
            .records
            .load(&self.name)?
            .unwrap_or_else(|| Tracked::new(Deployment::new(&self.name, &now)));
        self.before_generation = dep.generation;
        let sequence = dep.revisions.iter().map(|r| r.sequence).max().unwrap_or(0) + 1;
        let rev = Revision {
            id: new_revision_id(sequence),
            sequence,
            bundle_id: v.id,
            version: v.manifest.version.to_string(),
            source: v.manifest.source.kind,
            state: RevState::Staged,
            created: now.clone(),
            updated: now,
            plan: None,
            endpoint: None,
            reason: None,
            attributes: v.manifest.attributes.clone(),
            applied: Default::default(),
        };
        // The deployer slot, or the kinetic slot for a Kinetic solution
        // release: the same steps either way.
        let slot = target::slot_for(v.manifest.attributes.iter());
        let pending = Some((&v.id, self.release.bytes));
        target::with_target(self.session, &self.records, slot, pending, |t| {
            self.drive(t, dep, rev)
        })
    }

    /// Plan (a dry run stops here), stage, apply, warm, ready.
    fn drive(
        &self,
        target: &mut dyn Target,
        mut dep: Tracked<Deployment>,
        mut rev: Revision,
    ) -> Result<DeployOutcome> {
        let v = self.release.verified;
        let plan = target.plan(&rev_ref(self.env(), &self.name, &rev), &bundle_ref(v))?;
        rev.plan = Some(plan.clone());
        if self.release.dry_run {
            return Ok(self.outcome(&dep, rev, plan, true));
        }
        self.stage(&mut dep, &mut rev)?;
        match self.apply(target, &mut dep, &mut rev, &plan) {
            Ok(()) => Ok(self.outcome(&dep, rev, plan, false)),
            Err(why) => Err(self.fail(target, &mut dep, &mut rev, why)?),
        }
    }

    /// Audits the refusal (no side effect) and says how to get the bundle
    /// in legitimately.
    fn refuse(&self) -> Result<Error> {
        // A dry run changes nothing, not even the audit log.
        if !self.release.dry_run {
            let mut ev = AuditEvent::new(self.verb, &self.target, "denied");
            ev.policy = Some(self.policy.clone());
            journal::audit(self.session.records(), &ev)?;
        }
        let meta = self.session.meta();
        let v = self.release.verified;
        let env = self.env();
        let src = &v.manifest.source;
        let hint = match (
            &meta.policy.after,
            meta.policy.allowed_sources.contains(&src.kind),
        ) {
            _ if meta.policy.require_provenance && src.provenance != Some(Provenance::Git) => {
                format!(
                    "rebuild it from a git checkout (envpack bundle build without --no-git), or change the policy: envpack env policy {env} --no-require-provenance"
                )
            }
            _ if src.kind == SourceKind::ReleaseTag
                && !meta.policy.tag_patterns.is_empty()
                && !meta
                    .policy
                    .tag_patterns
                    .iter()
                    .any(|g| glob_match(g, &src.reference)) =>
            {
                format!(
                    "release it under a tag matching {} (git tag ... && envpack bundle build ...), or change the policy: envpack env policy {env} --any-tag",
                    meta.policy.tag_patterns.join(", ")
                )
            }
            (Some(prev), true) => format!(
                "deploy it to {prev} first, then: envpack promote {} --to {env}",
                v.id
            ),
            // Production is never loosened by a hint: build it right.
            _ if meta.policy.production => {
                let allowed: Vec<&str> = meta
                    .policy
                    .allowed_sources
                    .iter()
                    .map(|s| s.as_str())
                    .collect();
                format!(
                    "build the bundle from an allowed source ({}), deploy it to the rung before {env}, and promote it",
                    if allowed.is_empty() {
                        "none is allowed".to_string()
                    } else {
                        allowed.join(", ")
                    }
                )
            }
            _ => format!(
                "build the bundle from an allowed source, or allow this one: envpack env policy {env} --add-source {}",
                v.manifest.source.kind.as_str()
            ),
        };
        Ok(Error::denied(format!("deploy refused by policy: {}", self.policy.reason)).hint(hint))
    }

    /// The signature against the environment's trusted keys, before any
    /// side effect; a refusal is audited.
    fn check_signature(&self) -> Result<Option<String>> {
        let v = self.release.verified;
        check_signature(self.session.meta(), v, self.release.signature).or_else(|e| {
            let mut ev = AuditEvent::new(self.verb, &self.target, "denied");
            ev.policy = Some(PolicyDecision {
                allowed: false,
                reason: e.message().to_string(),
            });
            journal::audit(self.session.records(), &ev)?;
            Err(e.context(format!("{} refused", self.verb)))
        })
    }

    /// Audit first (no audit, no side effects), keep the bundle's bytes in
    /// the environment, record the staged revision. A payload that cannot
    /// be staged ends the revision `failed`, audited, its files removed.
    fn stage(&self, dep: &mut Tracked<Deployment>, rev: &mut Revision) -> Result<()> {
        let mut started = AuditEvent::new(
            self.verb,
            format!("{} as {}", self.target, rev.id),
            "started",
        );
        started.policy = Some(self.policy.clone());
        started.before_generation = Some(self.before_generation);
        journal::audit(self.session.records(), &started)?;
        if let Err(e) = self.stage_files(dep, rev) {
            self.end_failed(dep, rev, &e);
            return Err(e.context(format!("revision {} of {} failed", rev.id, self.name)));
        }
        Ok(())
    }

    /// Stores the bundle, records the staged revision, and extracts the
    /// payload for deployers that run revisions on this machine.
    fn stage_files(&self, dep: &mut Tracked<Deployment>, rev: &Revision) -> Result<()> {
        let v = self.release.verified;
        self.records.store_bundle(&v.id, self.release.bytes)?;
        if let Some(sig) = self.release.signature {
            self.records.store_signature(sig)?;
        }
        dep.revisions.push(rev.clone());
        self.records.save(dep)?;
        if let Some(dir) = self.session.local_runtime_dir() {
            local::stage_payload(&dir, &rev.id, self.release.bytes, &v.id.to_string())?;
        }
        Ok(())
    }

    /// Records a revision that could not be staged as `failed`, audited
    /// after its `started`. Best effort: what failed (a full disk) may fail
    /// this too, and then the original error is still the one reported.
    fn end_failed(&self, dep: &mut Tracked<Deployment>, rev: &mut Revision, e: &Error) {
        rev.state = RevState::Failed;
        rev.reason = Some(format!("staging failed: {}", e.message()));
        rev.updated = now_rfc3339();
        if dep.revision_mut(&rev.id).is_err() {
            dep.revisions.push(rev.clone());
        }
        if let Err(again) = self.finish(dep, rev, &format!("failed: {}", e.message())) {
            tracing::warn!("could not record revision {} as failed: {again}", rev.id);
        }
    }

    /// Apply, warm, ready; the first revision takes all traffic. `Err` is
    /// why the revision failed.
    fn apply(
        &self,
        deployer: &mut dyn Target,
        dep: &mut Tracked<Deployment>,
        rev: &mut Revision,
        plan: &Plan,
    ) -> std::result::Result<(), Failed> {
        let env = self.env().clone();
        let rref = rev_ref(&env, &self.name, rev);
        let report = deployer
            .apply(&rref, &bundle_ref(self.release.verified), plan)
            .map_err(|e| Failed {
                // A target that refused the credentials or permissions is
                // `denied` (the operator's fix), anything else unavailable.
                kind: match e.kind() {
                    Kind::Denied => Kind::Denied,
                    _ => Kind::Unavailable,
                },
                why: format!("apply failed: {}", e.message()),
                fix: e.hint_text().map(str::to_string),
            })?;
        if let Some(bad) = report.steps.iter().find(|s| !s.ok) {
            return Err(format!("apply step {} failed: {}", bad.id, bad.message).into());
        }
        rev.endpoint = report.endpoint;
        rev.applied = report.attributes.into_iter().collect();
        let recorded = (|| -> Result<()> {
            RevState::Staged.check(RevState::Warming, &rev.id)?;
            rev.state = RevState::Warming;
            rev.updated = now_rfc3339();
            *dep.revision_mut(&rev.id)? = rev.clone();
            self.records.save(dep)
        })();
        recorded.map_err(|e| e.message().to_string())?;
        Warmup::new(self.release.timeout, self.session.local_runtime_dir())
            .warm(deployer, &rref)?;
        rev.state = RevState::Ready;
        rev.updated = now_rfc3339();
        self.ready(deployer, dep, rev)
            .map_err(|e| e.message().to_string().into())
    }

    fn ready(
        &self,
        deployer: &mut dyn Target,
        dep: &mut Tracked<Deployment>,
        rev: &Revision,
    ) -> Result<()> {
        // The first revision of a deployment takes all traffic; later ones
        // wait for `traffic set`, except on a target where applying made
        // the revision live (a Kinetic install), whose records must say so.
        if dep.generation == 0 || deployer.live_on_apply() {
            let weights = vec![Weight {
                revision: rev.id.clone(),
                basis_points: 10_000,
            }];
            let generation = dep.generation + 1;
            deployer.set_traffic(&TrafficSplit {
                environment: self.env().as_str(),
                deployment: &self.name,
                generation,
                weights: &weights,
            })?;
            dep.generation = generation;
            dep.weights = weights.clone();
            dep.traffic_history.push(TrafficEntry {
                generation,
                weights,
                at: now_rfc3339(),
                cause: "deploy".into(),
                idempotency_key: None,
            });
        }
        self.finish(dep, rev, "ok")?;
        self.session.event(
            "deploy.ready",
            Level::Info,
            vec![
                ("deployment".into(), self.name.clone()),
                ("revision".into(), rev.id.clone()),
            ],
        );
        Ok(())
    }

    /// Records the revision's final state: audit, record, history.
    fn finish(&self, dep: &mut Tracked<Deployment>, rev: &Revision, result: &str) -> Result<()> {
        *dep.revision_mut(&rev.id)? = rev.clone();
        let mut ev = AuditEvent::new(self.verb, format!("{} as {}", self.target, rev.id), result);
        ev.policy = Some(self.policy.clone());
        ev.before_generation = Some(self.before_generation);
        ev.after_generation = Some(dep.generation);
        journal::audit(self.session.records(), &ev)?;
        self.records.save(dep)?;
        let v = self.release.verified;
        journal::history(
            self.session.records(),
            &HistoryEntry::new(
                self.verb,
                &dep.name,
                Some(dep.generation),
                format!(
                    "{} {} -> revision {} {}",
                    self.verb, v.manifest.version, rev.id, rev.state
                ),
            )
            .with_revision(&rev.id)
            .with_bundle(v.id.to_string()),
        )
    }

    /// Stops whatever the failed revision left running (best effort), keeps
    /// what it printed with the reason, and records it as failed.
    fn fail(
        &self,
        deployer: &mut dyn Target,
        dep: &mut Tracked<Deployment>,
        rev: &mut Revision,
        failed: Failed,
    ) -> Result<Error> {
        let Failed { kind, why, fix } = failed;
        let env = self.env();
        if let Err(e) = deployer.teardown(&rev_ref(env, &dep.name, rev)) {
            tracing::warn!("teardown of failed revision {} failed: {e}", rev.id);
        }
        let tail = self
            .session
            .local_runtime_dir()
            .map(|dir| local::output_tail(&dir, &rev.id))
            .unwrap_or_default();
        let why = if tail.trim().is_empty() {
            why
        } else {
            format!("{why}; its output ends with:\n{}", tail.trim_end())
        };
        let show = format!("envpack revisions show {} --env {env}", rev.id);
        let (why, hint) = match fix {
            Some(fix) => (format!("{why}; help: {fix}"), fix),
            None => (why, show),
        };
        rev.state = RevState::Failed;
        rev.reason = Some(why.clone());
        rev.updated = now_rfc3339();
        self.finish(dep, rev, &format!("failed: {why}"))?;
        Ok(Error::new(
            kind,
            format!("revision {} of {} failed: {why}", rev.id, self.name),
        )
        .hint(hint))
    }

    fn outcome(&self, dep: &Deployment, rev: Revision, plan: Plan, dry_run: bool) -> DeployOutcome {
        DeployOutcome {
            environment: self.env().clone(),
            deployment: self.name.clone(),
            bundle: self.release.verified.id,
            weights: dep.weights.clone(),
            revision: rev,
            plan,
            dry_run,
            policy: self.policy.clone(),
            signed_by: self.signed_by.clone(),
        }
    }
}

/// Why a revision failed, and the kind of error the deploy reports.
struct Failed {
    kind: Kind,
    why: String,
    /// The target's own fix (e.g. the secret to set), which beats
    /// "look at the revision" as the hint.
    fix: Option<String>,
}

impl From<String> for Failed {
    fn from(why: String) -> Self {
        Self {
            kind: Kind::Unavailable,
            why,
            fix: None,
        }
    }
}
