//! The deployment verbs: deploy, traffic, drain, archive, promote, rollback.
//!
//! Each holds the environment's deployment lock for its whole run (so
//! concurrent verbs on one environment serialise and traffic generations
//! have no gaps), checks policy before any side effect, appends an audit
//! event before committing (no audit, no change), and drives the
//! environment's deployer pack through the `deployer` interface.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use envpack_descriptor::Slot;
use envpack_manifest::Digest;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::bundle::{self, Verified};
use super::journal::{self, AuditEvent, HistoryEntry, PolicyDecision};
use super::model::{Deployment, RevState, Revision, TrafficEntry, check_sum, parse_weight};
use super::target::{BundleFileRef, BundleRef, HealthStatus, Plan, RevisionRef, Weight};
use crate::env::{EnvDir, EnvMeta, EnvName, Session};
use crate::error::{Error, Kind, Result};
use crate::fsutil::{self, LockGuard};
use crate::home::Home;
use crate::runtime::{Level, PackInstance, Runtime};
use crate::store::now_rfc3339;

fn deployments_dir(dir: &EnvDir) -> PathBuf {
    dir.path().join("deployments")
}

fn deploy_lock(dir: &EnvDir) -> Result<LockGuard> {
    LockGuard::acquire(&deployments_dir(dir).join(".lock"))
}

fn deployment_path(dir: &EnvDir, name: &str) -> PathBuf {
    deployments_dir(dir).join(format!("{name}.json"))
}

/// Reads a deployment, if it exists.
pub fn load_deployment(dir: &EnvDir, name: &str) -> Result<Option<Deployment>> {
    let path = deployment_path(dir, name);
    match std::fs::read(&path) {
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| {
            Error::integrity(format!(
                "deployment record {} is damaged: {e}",
                path.display()
            ))
            .hint(format!("restore it from {}.bak", path.display()))
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("read", &path, e)),
    }
}

fn save_deployment(dir: &EnvDir, d: &Deployment) -> Result<()> {
    let path = deployment_path(dir, &d.name);
    let bytes = serde_json::to_vec_pretty(d)
        .map_err(|e| Error::internal(format!("cannot encode deployment: {e}")))?;
    if path.exists() {
        let old = std::fs::read(&path).map_err(|e| Error::io("read", &path, e))?;
        fsutil::write_atomic(&path.with_extension("json.bak"), &old)?;
    }
    fsutil::write_atomic(&path, &bytes)
}

/// Every deployment of an environment, by name.
pub fn deployments(dir: &EnvDir) -> Result<Vec<Deployment>> {
    let d = deployments_dir(dir);
    let entries = match std::fs::read_dir(&d) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io("list", &d, e)),
    };
    let mut out = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let name = e.file_name().to_string_lossy().to_string();
        if let Some(stem) = name.strip_suffix(".json")
            && let Some(dep) = load_deployment(dir, stem)?
        {
            out.push(dep);
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Picks the deployment a verb means: the named one, or the only one.
pub fn pick(dir: &EnvDir, name: Option<&str>) -> Result<Deployment> {
    let env = dir.name();
    match name {
        Some(n) => load_deployment(dir, n)?.ok_or_else(|| {
            Error::not_found(format!("environment {env} has no deployment {n:?}"))
                .hint(format!("envpack revisions list --env {env}"))
        }),
        None => {
            let mut all = deployments(dir)?;
            match all.len() {
                1 => Ok(all.remove(0)),
                0 => Err(
                    Error::not_found(format!("environment {env} has no deployments"))
                        .hint(format!("envpack deploy <BUNDLE> --env {env}")),
                ),
                _ => Err(Error::invalid(format!(
                    "environment {env} has several deployments ({}); name one",
                    all.iter()
                        .map(|d| d.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
                .hint("add --deployment NAME")),
            }
        }
    }
}

/// A sortable unique revision id: creation time, then randomness.
fn new_revision_id(sequence: u64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let mut h = Sha256::new();
    h.update(now.as_nanos().to_le_bytes());
    h.update(std::process::id().to_le_bytes());
    h.update(sequence.to_le_bytes());
    format!(
        "r{:011x}{}",
        now.as_millis(),
        &hex::encode(h.finalize())[..6]
    )
}

fn bundle_ref(v: &Verified) -> BundleRef {
    let m = &v.manifest;
    BundleRef {
        id: v.id.to_string(),
        name: m.name.clone(),
        version: m.version.to_string(),
        source: m.source.kind,
        source_ref: m.source.reference.clone(),
        commit: m.source.commit.clone(),
        files: m
            .files
            .iter()
            .map(|f| BundleFileRef {
                path: f.path.clone(),
                sha256: f.sha256.clone(),
                size: f.size,
            })
            .collect(),
        payload_dir: None,
        attributes: m
            .attributes
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
    }
}

fn rev_ref(env: &EnvName, dep: &str, r: &Revision) -> RevisionRef {
    RevisionRef {
        environment: env.to_string(),
        deployment: dep.to_string(),
        id: r.id.clone(),
        sequence: r.sequence,
    }
}

/// Checks an environment's policy for a bundle. `promoted_from` is the rung
/// the bundle is promoted from, when it is.
pub fn check_policy(
    meta: &EnvMeta,
    v: &Verified,
    promoted_from: Option<&EnvName>,
) -> PolicyDecision {
    let p = &meta.policy;
    let source = v.manifest.source.kind;
    if !p.allowed_sources.contains(&source) {
        let allowed: Vec<&str> = p.allowed_sources.iter().map(|s| s.as_str()).collect();
        return PolicyDecision {
            allowed: false,
            reason: format!(
                "environment {} allows bundles from {} only; this bundle comes from a {} ({})",
                meta.name,
                if allowed.is_empty() {
                    "nothing".to_string()
                } else {
                    allowed.join(", ")
                },
                source.as_str(),
                v.manifest.source.reference
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
}

/// `deploy BUNDLE --env E`.
pub fn deploy(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    bundle_file: &Path,
    dry_run: bool,
) -> Result<DeployOutcome> {
    let verified = bundle::open(bundle_file, None)?;
    let bytes = std::fs::read(bundle_file).map_err(|e| Error::io("read bundle", bundle_file, e))?;
    deploy_verified(home, runtime, env, &verified, &bytes, dry_run, None)
}

fn warm_timeout() -> Duration {
    match std::env::var("ENVPACK_WARM_TIMEOUT_MS") {
        Ok(v) => v.parse().map(Duration::from_millis).unwrap_or_else(|_| {
            tracing::warn!(
                "ENVPACK_WARM_TIMEOUT_MS={v:?} is not a number of milliseconds; using 30000"
            );
            Duration::from_secs(30)
        }),
        Err(_) => Duration::from_secs(30),
    }
}

/// Polls the deployer's health check until healthy or the warm deadline.
fn warm(deployer: &mut PackInstance, r: &RevisionRef) -> std::result::Result<(), String> {
    let deadline = Instant::now() + warm_timeout();
    let mut wait = Duration::from_millis(50);
    loop {
        let last = match deployer.deployer_health(r) {
            Ok(h) if h.status == HealthStatus::Healthy => return Ok(()),
            Ok(h) => format!("health check says {:?}: {}", h.status, h.message),
            Err(e) => format!("health check failed: {}", e.message()),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "not healthy within {} ms; last {last}",
                warm_timeout().as_millis()
            ));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}

#[allow(clippy::too_many_arguments)]
pub(crate) fn deploy_verified(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    verified: &Verified,
    bytes: &[u8],
    dry_run: bool,
    promoted_from: Option<&EnvName>,
) -> Result<DeployOutcome> {
    Session::scoped(home, runtime, env, |session| {
        deploy_in(session, env, verified, bytes, dry_run, promoted_from)
    })
}

fn deploy_in(
    session: &Session<'_>,
    env: &EnvName,
    verified: &Verified,
    bytes: &[u8],
    dry_run: bool,
    promoted_from: Option<&EnvName>,
) -> Result<DeployOutcome> {
    let dir = session.dir().clone();
    let meta = session.meta();
    let name = verified.manifest.name.clone();
    let verb = if promoted_from.is_some() {
        "promote"
    } else {
        "deploy"
    };
    let target = format!("{name} {} ({})", verified.manifest.version, verified.id);
    let policy = check_policy(meta, verified, promoted_from);
    if !policy.allowed {
        let mut ev = AuditEvent::new(verb, &target, "denied");
        ev.policy = Some(policy.clone());
        journal::audit(&dir, &ev)?;
        let hint = match (
            &meta.policy.after,
            meta.policy
                .allowed_sources
                .contains(&verified.manifest.source.kind),
        ) {
            (Some(prev), true) => format!(
                "deploy it to {prev} first, then: envpack promote {} --to {env}",
                verified.id
            ),
            _ => format!(
                "build the bundle from an allowed source, or change the policy: envpack env policy {env} --allow-source ..."
            ),
        };
        return Err(
            Error::denied(format!("deploy refused by policy: {}", policy.reason)).hint(hint),
        );
    }
    let _lock = deploy_lock(&dir)?;
    let now = now_rfc3339();
    let mut dep = load_deployment(&dir, &name)?.unwrap_or_else(|| Deployment::new(&name, &now));
    let sequence = dep.revisions.iter().map(|r| r.sequence).max().unwrap_or(0) + 1;
    let mut rev = Revision {
        id: new_revision_id(sequence),
        sequence,
        bundle_id: verified.id,
        version: verified.manifest.version.to_string(),
        source: verified.manifest.source.kind,
        state: RevState::Staged,
        created: now.clone(),
        updated: now.clone(),
        plan: None,
        endpoint: None,
        reason: None,
        attributes: verified.manifest.attributes.clone(),
    };
    let rref = rev_ref(env, &name, &rev);
    let bref = bundle_ref(verified);
    let mut deployer = session.instance(Slot::Deployer)?;
    let plan = deployer.deployer_plan(&rref, &bref)?;
    rev.plan = Some(plan.clone());
    if dry_run {
        return Ok(DeployOutcome {
            environment: env.clone(),
            deployment: name,
            bundle: verified.id,
            revision: rev,
            plan,
            dry_run: true,
            weights: dep.weights.clone(),
            policy,
        });
    }

    // Start: audit first (no audit, no side effects), keep the bundle's
    // bytes in the environment, record the staged revision.
    let mut started = AuditEvent::new(verb, format!("{target} as {}", rev.id), "started");
    started.policy = Some(policy.clone());
    started.before_generation = Some(dep.generation);
    journal::audit(&dir, &started)?;
    let bundles = dir.path().join("bundles");
    let stored = bundles.join(format!("{}.tgz", verified.id.hex()));
    if !stored.exists() {
        fsutil::write_atomic(&stored, bytes)?;
    }
    dep.revisions.push(rev.clone());
    save_deployment(&dir, &dep)?;

    let finish = |dep: &mut Deployment, rev: &Revision, result: &str| -> Result<()> {
        *dep.revision_mut(&rev.id)? = rev.clone();
        let mut ev = AuditEvent::new(verb, format!("{target} as {}", rev.id), result);
        ev.policy = Some(policy.clone());
        ev.before_generation = started.before_generation;
        ev.after_generation = Some(dep.generation);
        journal::audit(&dir, &ev)?;
        save_deployment(&dir, dep)?;
        journal::history(
            &dir,
            &HistoryEntry::new(
                verb,
                &dep.name,
                Some(dep.generation),
                format!(
                    "{} {} -> revision {} {}",
                    verb, verified.manifest.version, rev.id, rev.state
                ),
            )
            .with_revision(&rev.id)
            .with_bundle(verified.id.to_string()),
        )
    };

    let processes = crate::env::Processes::new(&dir);
    let fail = |deployer: &mut PackInstance,
                dep: &mut Deployment,
                rev: &mut Revision,
                why: String|
     -> Result<Error> {
        // Stop whatever the failed revision left running (best effort),
        // and keep what it printed with the reason.
        if let Err(e) = deployer.deployer_teardown(&rev_ref(env, &dep.name, rev)) {
            tracing::warn!("teardown of failed revision {} failed: {e}", rev.id);
        }
        let tail = processes.output_tail(&rev.id);
        let why = if tail.trim().is_empty() {
            why
        } else {
            format!("{why}; its output ends with:\n{}", tail.trim_end())
        };
        rev.state = RevState::Failed;
        rev.reason = Some(why.clone());
        rev.updated = now_rfc3339();
        finish(dep, rev, &format!("failed: {why}"))?;
        Ok(Error::new(
            Kind::Unavailable,
            format!("revision {} of {name} failed: {why}", rev.id),
        )
        .hint(format!("envpack revisions show {} --env {env}", rev.id)))
    };

    // The payload, extracted from the verified bundle, for deployers that
    // run revisions on this machine (the `process` capability).
    bundle::open(&stored, Some(&processes.payload_dir(&rev.id)))?;
    processes.set_bundle(&rev.id, &verified.id.to_string())?;
    match deployer.deployer_apply(&rref, &bref, &plan) {
        Ok(report) => {
            if let Some(bad) = report.steps.iter().find(|s| !s.ok) {
                let why = format!("apply step {} failed: {}", bad.id, bad.message);
                return Err(fail(&mut deployer, &mut dep, &mut rev, why)?);
            }
            rev.endpoint = report.endpoint;
        }
        Err(e) => {
            return Err(fail(
                &mut deployer,
                &mut dep,
                &mut rev,
                format!("apply failed: {}", e.message()),
            )?);
        }
    }
    RevState::Staged.check(RevState::Warming, &rev.id)?;
    rev.state = RevState::Warming;
    rev.updated = now_rfc3339();
    *dep.revision_mut(&rev.id)? = rev.clone();
    save_deployment(&dir, &dep)?;
    if let Err(why) = warm(&mut deployer, &rref) {
        return Err(fail(&mut deployer, &mut dep, &mut rev, why)?);
    }
    rev.state = RevState::Ready;
    rev.updated = now_rfc3339();
    // The first revision of a deployment takes all traffic; later ones wait
    // for `traffic set`.
    if dep.generation == 0 {
        let weights = vec![Weight {
            revision: rev.id.clone(),
            basis_points: 10_000,
        }];
        deployer.deployer_set_traffic(env.as_str(), &name, 1, &weights)?;
        dep.generation = 1;
        dep.weights = weights.clone();
        dep.traffic_history.push(TrafficEntry {
            generation: 1,
            weights,
            at: now_rfc3339(),
            cause: "deploy".into(),
            idempotency_key: None,
        });
    }
    finish(&mut dep, &rev, "ok")?;
    session.event(
        "deploy.ready",
        Level::Info,
        vec![
            ("deployment".into(), name.clone()),
            ("revision".into(), rev.id.clone()),
        ],
    );
    Ok(DeployOutcome {
        environment: env.clone(),
        deployment: name,
        bundle: verified.id,
        weights: dep.weights.clone(),
        revision: rev,
        plan,
        dry_run: false,
        policy,
    })
}

/// What a traffic change did.
#[derive(Clone, Debug, Serialize)]
pub struct TrafficOutcome {
    /// Deployment.
    pub deployment: String,
    /// Generation after.
    pub generation: u64,
    /// Split after.
    pub weights: Vec<Weight>,
    /// `applied`, or `replayed` for a retried idempotency key.
    pub outcome: &'static str,
    /// What the deployer reported applying.
    pub applied: Vec<Weight>,
}

/// Resolves `REV=WEIGHT` entries against a deployment and checks them.
fn resolve_weights(dep: &Deployment, entries: &[String]) -> Result<Vec<Weight>> {
    let mut weights = Vec::new();
    for e in entries {
        let (rev, bps) = parse_weight(e)?;
        let r = dep.revision(&rev)?;
        if bps > 0 && r.state != RevState::Ready {
            return Err(Error::conflict(format!(
                "revision {} is {}; only ready revisions can receive traffic",
                r.id, r.state
            )));
        }
        weights.push(Weight {
            revision: r.id.clone(),
            basis_points: bps,
        });
    }
    check_sum(&weights)?;
    weights.retain(|w| w.basis_points > 0);
    weights.sort();
    Ok(weights)
}

/// `traffic set`.
pub fn set_traffic(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    deployment: Option<&str>,
    entries: &[String],
    idempotency_key: Option<&str>,
) -> Result<TrafficOutcome> {
    Session::scoped(home, runtime, env, |session| {
        let dir = session.dir().clone();
        let _lock = deploy_lock(&dir)?;
        let mut dep = pick(&dir, deployment)?;
        let weights = resolve_weights(&dep, entries)?;
        if let Some(key) = idempotency_key
            && let Some(generation) = dep.idempotency.get(key).copied()
        {
            let earlier = dep
                .traffic_history
                .iter()
                .find(|t| t.generation == generation)
                .map(|t| t.weights.clone())
                .unwrap_or_default();
            if earlier == weights {
                let mut ev = AuditEvent::new("traffic.set", &dep.name, "replayed");
                ev.idempotency_key = Some(key.into());
                ev.before_generation = Some(dep.generation);
                ev.after_generation = Some(dep.generation);
                journal::audit(&dir, &ev)?;
                return Ok(TrafficOutcome {
                    deployment: dep.name.clone(),
                    generation,
                    weights: earlier.clone(),
                    outcome: "replayed",
                    applied: earlier,
                });
            }
            return Err(Error::conflict(format!(
                "idempotency key {key:?} was already used for a different split (generation {generation})"
            ))
            .hint("use a new idempotency key for a new change"));
        }
        route(session, &mut dep, weights, "traffic", idempotency_key)
    })
}

/// Applies a split through the deployer, bumps the generation, and records
/// it. The caller holds the deployment lock.
fn route(
    session: &Session<'_>,
    dep: &mut Deployment,
    weights: Vec<Weight>,
    cause: &str,
    idempotency_key: Option<&str>,
) -> Result<TrafficOutcome> {
    let dir = session.dir().clone();
    let env = session.name().clone();
    let before = dep.generation;
    let generation = before + 1;
    let mut ev = AuditEvent::new(
        if cause == "rollback" {
            "rollback"
        } else {
            "traffic.set"
        },
        &dep.name,
        "ok",
    );
    ev.before_generation = Some(before);
    ev.after_generation = Some(generation);
    ev.idempotency_key = idempotency_key.map(str::to_string);
    let mut deployer = session.instance(Slot::Deployer)?;
    // Audit before the side effect: no audit, no change.
    journal::audit(&dir, &ev)?;
    let report = match deployer.deployer_set_traffic(env.as_str(), &dep.name, generation, &weights)
    {
        Ok(r) => r,
        Err(e) => {
            ev.result = format!("failed: {}", e.message());
            journal::audit(&dir, &ev)?;
            return Err(e);
        }
    };
    dep.generation = generation;
    dep.weights = weights.clone();
    dep.traffic_history.push(TrafficEntry {
        generation,
        weights: weights.clone(),
        at: now_rfc3339(),
        cause: cause.into(),
        idempotency_key: idempotency_key.map(str::to_string),
    });
    if let Some(k) = idempotency_key {
        dep.idempotency.insert(k.to_string(), generation);
    }
    save_deployment(&dir, dep)?;
    let split: Vec<String> = weights
        .iter()
        .map(|w| format!("{}={}bps", w.revision, w.basis_points))
        .collect();
    journal::history(
        &dir,
        &HistoryEntry::new(
            cause,
            &dep.name,
            Some(generation),
            format!("{cause}: {}", split.join(" ")),
        ),
    )?;
    Ok(TrafficOutcome {
        deployment: dep.name.clone(),
        generation,
        weights,
        outcome: "applied",
        applied: report.applied,
    })
}

/// `revisions drain|archive`: one lifecycle transition, checked against
/// the transition table.
pub fn transition(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    deployment: Option<&str>,
    revision: &str,
    to: RevState,
) -> Result<Revision> {
    Session::scoped(home, runtime, env, |session| {
        let dir = session.dir().clone();
        let _lock = deploy_lock(&dir)?;
        let mut dep = pick(&dir, deployment)?;
        let mut rev = dep.revision(revision)?.clone();
        let weight = dep.weight_of(&rev.id);
        if weight > 0 && matches!(to, RevState::Draining | RevState::Archived) {
            return Err(Error::conflict(format!(
                "revision {} still receives {}bps of traffic; move it away first",
                rev.id, weight
            ))
            .hint(format!(
                "envpack traffic set --env {env} {} <other>=100%",
                dep.name
            )));
        }
        let mut deployer = session.instance(Slot::Deployer)?;
        let rref = rev_ref(env, &dep.name, &rev);
        match to {
            RevState::Draining => {
                rev.state.check(RevState::Draining, &rev.id)?;
                // Draining has no traffic left to finish here, so the
                // revision is stopped and becomes inactive at once.
                deployer.deployer_teardown(&rref)?;
                RevState::Draining.check(RevState::Inactive, &rev.id)?;
                rev.state = RevState::Inactive;
            }
            RevState::Archived => {
                // A revision left staged or warming (its deploy was killed)
                // is abandoned: it fails first, then archives, both steps
                // the transition table allows.
                if matches!(rev.state, RevState::Staged | RevState::Warming) {
                    rev.state.check(RevState::Failed, &rev.id)?;
                    rev.state = RevState::Failed;
                    rev.reason = Some("abandoned: its deploy did not finish".into());
                }
                rev.state.check(RevState::Archived, &rev.id)?;
                deployer.deployer_teardown(&rref)?;
                rev.state = RevState::Archived;
            }
            other => {
                return Err(Error::invalid(format!(
                    "cannot move a revision to {other} directly"
                )));
            }
        }
        rev.updated = now_rfc3339();
        let mut ev = AuditEvent::new(
            &format!(
                "revision.{}",
                if to == RevState::Archived {
                    "archive"
                } else {
                    "drain"
                }
            ),
            format!("{} {}", dep.name, rev.id),
            "ok",
        );
        ev.before_generation = Some(dep.generation);
        ev.after_generation = Some(dep.generation);
        journal::audit(&dir, &ev)?;
        *dep.revision_mut(&rev.id)? = rev.clone();
        save_deployment(&dir, &dep)?;
        journal::history(
            &dir,
            &HistoryEntry::new(
                "revision",
                &dep.name,
                Some(dep.generation),
                format!("revision {} -> {}", rev.id, rev.state),
            )
            .with_revision(&rev.id),
        )?;
        Ok(rev)
    })
}

/// What `rollback` did.
#[derive(Clone, Debug, Serialize)]
pub struct RollbackOutcome {
    /// Deployment.
    pub deployment: String,
    /// The generation whose split was restored.
    pub restored_generation: u64,
    /// The traffic change it made.
    pub traffic: TrafficOutcome,
    /// Revisions re-warmed to take traffic again.
    pub rewarmed: Vec<String>,
}

/// `rollback --env E [--to REVISION | --steps N]`.
pub fn rollback(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    deployment: Option<&str>,
    to: Option<&str>,
    steps: usize,
) -> Result<RollbackOutcome> {
    Session::scoped(home, runtime, env, |session| {
        let dir = session.dir().clone();
        let _lock = deploy_lock(&dir)?;
        let mut dep = pick(&dir, deployment)?;
        let (weights, restored) = match to {
            Some(r) => {
                let id = dep.revision(r)?.id.clone();
                (
                    vec![Weight {
                        revision: id,
                        basis_points: 10_000,
                    }],
                    0,
                )
            }
            None => {
                let n = dep.traffic_history.len();
                if steps == 0 || steps >= n {
                    return Err(Error::invalid(format!(
                        "cannot roll {} back {steps} step(s): it has {} earlier traffic state(s)",
                        dep.name,
                        n.saturating_sub(1)
                    ))
                    .hint(format!("envpack history --env {env}")));
                }
                let entry = &dep.traffic_history[n - 1 - steps];
                (entry.weights.clone(), entry.generation)
            }
        };
        // Revisions that no longer run are warmed again before they get
        // traffic back; archived ones are gone.
        let mut rewarmed = Vec::new();
        let mut deployer = session.instance(Slot::Deployer)?;
        for w in &weights {
            let rev = dep.revision(&w.revision)?.clone();
            match rev.state {
                RevState::Ready => {}
                RevState::Inactive | RevState::Draining => {
                    let bundle_file = dir
                        .path()
                        .join("bundles")
                        .join(format!("{}.tgz", rev.bundle_id.hex()));
                    let verified = bundle::open(&bundle_file, None)?;
                    let rref = rev_ref(env, &dep.name, &rev);
                    let plan = rev
                        .plan
                        .clone()
                        .ok_or_else(|| Error::internal("revision has no recorded plan"))?;
                    rev.state.check(
                        if rev.state == RevState::Draining {
                            RevState::Ready
                        } else {
                            RevState::Warming
                        },
                        &rev.id,
                    )?;
                    let report = deployer.deployer_apply(&rref, &bundle_ref(&verified), &plan)?;
                    if let Some(bad) = report.steps.iter().find(|s| !s.ok) {
                        return Err(Error::unavailable(format!(
                            "cannot bring {} back: apply step {} failed: {}",
                            rev.id, bad.id, bad.message
                        )));
                    }
                    warm(&mut deployer, &rref).map_err(|why| {
                        Error::unavailable(format!("cannot bring {} back: {why}", rev.id))
                    })?;
                    let r = dep.revision_mut(&rev.id)?;
                    // A restarted revision may answer somewhere new.
                    r.endpoint = report.endpoint.clone().or(r.endpoint.take());
                    r.state = RevState::Ready;
                    r.updated = now_rfc3339();
                    rewarmed.push(rev.id.clone());
                }
                other => {
                    return Err(Error::conflict(format!(
                        "cannot roll back to revision {}: it is {other}",
                        rev.id
                    )));
                }
            }
        }
        drop(deployer);
        let traffic = route(session, &mut dep, weights, "rollback", None)?;
        Ok(RollbackOutcome {
            deployment: dep.name.clone(),
            restored_generation: restored,
            traffic,
            rewarmed,
        })
    })
}

/// A promotion report, written to `envs/<to>/promotions/`.
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

/// `promote BUNDLE_ID --to E`: deploys the very same bundle (same id,
/// same bytes) if it is deployed and ready in the previous rung.
pub fn promote(
    home: &Home,
    runtime: &Runtime,
    bundle_id: &str,
    to: &EnvName,
) -> Result<(PromotionReport, Option<DeployOutcome>)> {
    let to_dir = EnvDir::new(home, to);
    let (meta, _) = crate::env::ops_load(&to_dir)?;
    let from = meta.policy.after.clone().ok_or_else(|| {
        Error::invalid(format!(
            "environment {to} has no previous rung to promote from"
        ))
        .hint(format!("envpack env policy {to} --after <ENV>"))
    })?;
    let from_dir = EnvDir::new(home, &from);
    // Find the bundle by id or unique prefix among the source's revisions.
    let want = bundle_id.trim_start_matches("sha256:");
    let mut found = None;
    let mut ids = std::collections::BTreeSet::new();
    for dep in deployments(&from_dir)? {
        for r in &dep.revisions {
            if r.bundle_id.hex().starts_with(want) && r.state == RevState::Ready {
                ids.insert(r.bundle_id);
                found = Some((dep.name.clone(), r.clone()));
            }
        }
    }
    if ids.len() > 1 {
        return Err(Error::invalid(format!(
            "bundle id prefix {bundle_id:?} matches {} bundles ready in {from}; give more of the id",
            ids.len()
        )));
    }
    let (_, rev) = found.ok_or_else(|| {
        Error::denied(format!(
            "bundle {bundle_id} is not deployed and ready in {from}, the rung before {to}; only what runs there can be promoted"
        ))
        .hint(format!("envpack revisions list --env {from}"))
    })?;
    let file = from_dir
        .path()
        .join("bundles")
        .join(format!("{}.tgz", rev.bundle_id.hex()));
    let bytes =
        std::fs::read(&file).map_err(|e| Error::io("read the promoted bundle", &file, e))?;
    let verified = bundle::open(&file, None)?;
    if verified.id != rev.bundle_id {
        return Err(Error::integrity(format!(
            "the stored bundle {} no longer matches its id {}",
            file.display(),
            rev.bundle_id
        )));
    }
    let policy = check_policy(&meta, &verified, Some(&from));
    let outcome = deploy_verified(home, runtime, to, &verified, &bytes, false, Some(&from));
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
    let path = to_dir.path().join("promotions").join(format!(
        "{}-{}.json",
        report.at.replace(':', ""),
        &verified.id.hex()[..12]
    ));
    let json = serde_json::to_vec_pretty(&report)
        .map_err(|e| Error::internal(format!("cannot encode report: {e}")))?;
    fsutil::write_atomic(&path, &json)?;
    match outcome {
        Ok(o) => Ok((report, Some(o))),
        Err(e) => Err(e),
    }
}

/// What `env down` / `env up` did.
#[derive(Clone, Debug, Serialize)]
pub struct UpDown {
    /// Environment.
    pub environment: EnvName,
    /// Revisions stopped or started.
    pub revisions: Vec<String>,
    /// Revisions that could not be started again, with why.
    pub failed: Vec<(String, String)>,
}

/// `env down`: stops every running revision, keeping what the environment
/// expects to run (revisions stay `ready`), so `env up` can start them again.
pub fn down(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<UpDown> {
    Session::scoped(home, runtime, env, |session| {
        let dir = session.dir().clone();
        let _lock = deploy_lock(&dir)?;
        journal::audit(&dir, &AuditEvent::new("env.down", env.as_str(), "ok"))?;
        let mut deployer = session.instance(Slot::Deployer)?;
        let mut stopped = Vec::new();
        for dep in deployments(&dir)? {
            for r in dep.revisions.iter().filter(|r| {
                matches!(
                    r.state,
                    RevState::Ready | RevState::Warming | RevState::Staged
                )
            }) {
                deployer.deployer_teardown(&rev_ref(env, &dep.name, r))?;
                stopped.push(r.id.clone());
            }
        }
        fsutil::write_atomic(&dir.path().join("down"), now_rfc3339().as_bytes())?;
        journal::history(
            &dir,
            &HistoryEntry::new(
                "env",
                "",
                None,
                format!("env down: stopped {} revision(s)", stopped.len()),
            ),
        )?;
        Ok(UpDown {
            environment: env.clone(),
            revisions: stopped,
            failed: vec![],
        })
    })
}

/// `env up`: starts again every revision the environment expects to run
/// (`ready`), applying its recorded plan and warming it.
pub fn up(home: &Home, runtime: &Runtime, env: &EnvName) -> Result<UpDown> {
    Session::scoped(home, runtime, env, |session| {
        let dir = session.dir().clone();
        let _lock = deploy_lock(&dir)?;
        journal::audit(&dir, &AuditEvent::new("env.up", env.as_str(), "ok"))?;
        let mut deployer = session.instance(Slot::Deployer)?;
        let (mut started, mut failed) = (Vec::new(), Vec::new());
        for mut dep in deployments(&dir)? {
            let ready: Vec<Revision> = dep
                .revisions
                .iter()
                .filter(|r| r.state == RevState::Ready)
                .cloned()
                .collect();
            for r in ready {
                let rref = rev_ref(env, &dep.name, &r);
                let file = dir
                    .path()
                    .join("bundles")
                    .join(format!("{}.tgz", r.bundle_id.hex()));
                let result = (|| -> std::result::Result<Option<String>, String> {
                    let verified =
                        bundle::open(&file, None).map_err(|e| e.message().to_string())?;
                    let plan = r.plan.clone().ok_or("no recorded plan")?;
                    let report = deployer
                        .deployer_apply(&rref, &bundle_ref(&verified), &plan)
                        .map_err(|e| e.message().to_string())?;
                    warm(&mut deployer, &rref)?;
                    Ok(report.endpoint)
                })();
                match result {
                    Ok(endpoint) => {
                        // A restarted process may listen on a new port.
                        let rev = dep.revision_mut(&r.id)?;
                        rev.endpoint = endpoint;
                        rev.updated = now_rfc3339();
                        started.push(r.id.clone());
                    }
                    Err(why) => failed.push((r.id.clone(), why)),
                }
            }
            save_deployment(&dir, &dep)?;
        }
        let _ = std::fs::remove_file(dir.path().join("down"));
        journal::history(
            &dir,
            &HistoryEntry::new(
                "env",
                "",
                None,
                format!(
                    "env up: started {} revision(s), {} failed",
                    started.len(),
                    failed.len()
                ),
            ),
        )?;
        Ok(UpDown {
            environment: env.clone(),
            revisions: started,
            failed,
        })
    })
}
