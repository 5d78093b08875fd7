//! The audit log: who changed what in an environment, when, with which
//! command, from what to what, and how it ended. Append-only JSON lines,
//! synced before the change is made: when the log cannot be written, the
//! change is not made.
//!
//! Changes that precede or outlive an environment (`env init`, `env rm`,
//! `pack install`, `pack remove`) go to the home's own audit log.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::EnvRecords;
use crate::backend::{Backend, Journal};
use crate::error::{Error, Result};
/// Now, to the millisecond: events of one second keep their order when the
/// environment's log and the home's are merged.
fn now_millis() -> String {
    humantime::format_rfc3339_millis(std::time::SystemTime::now()).to_string()
}
use crate::types::EnvName;

/// A policy decision, kept with the event it allowed or refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PolicyDecision {
    /// Whether the verb was allowed.
    pub allowed: bool,
    /// Why.
    pub reason: String,
}

/// One audit event.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct AuditEvent {
    /// When.
    pub at: String,
    /// Who ([`crate::actor`]).
    pub actor: String,
    /// Where the actor's name came from: `--actor`, `ENVPACK_ACTOR`, a CI
    /// variable, `os-user`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub actor_source: Option<String>,
    /// The verb: `deploy`, `traffic.set`, `env.policy`, `secrets.put`, ...
    pub verb: String,
    /// What it acted on: deployment, revision, bundle, slot, key.
    pub target: String,
    /// The environment, in the home's audit log (in an environment's own
    /// log it is that environment).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub environment: Option<String>,
    /// The command line, secret values replaced.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command: Option<String>,
    /// What was there before the change.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// What the change makes of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Traffic generation before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_generation: Option<u64>,
    /// Traffic generation after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after_generation: Option<u64>,
    /// Idempotency key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idempotency_key: Option<String>,
    /// Policy decision, for verbs that check policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<PolicyDecision>,
    /// `started`, `ok`, `replayed`, `denied`, `refused: ...`, `failed: <why>`.
    pub result: String,
}

impl AuditEvent {
    /// An event for `verb` on `target` with `result`, by this process's
    /// actor and command line.
    pub fn new(verb: &str, target: impl Into<String>, result: impl Into<String>) -> Self {
        let actor = crate::actor::current();
        Self {
            at: now_millis(),
            actor: actor.name,
            actor_source: Some(actor.source),
            verb: verb.into(),
            target: target.into(),
            environment: None,
            command: crate::actor::command_line(),
            before: None,
            after: None,
            before_generation: None,
            after_generation: None,
            idempotency_key: None,
            policy: None,
            result: result.into(),
        }
    }

    /// The same event with another result, stamped now.
    pub fn outcome(&self, result: impl Into<String>) -> Self {
        Self {
            at: now_millis(),
            result: result.into(),
            ..self.clone()
        }
    }
}

/// Where an event goes: an environment's log or the home's.
#[derive(Clone, Copy)]
pub enum AuditLog<'a> {
    /// The environment's own log.
    Env(&'a EnvRecords),
    /// The home's log, naming the environment concerned, if one.
    Home(&'a dyn Backend, Option<&'a EnvName>),
}

impl AuditLog<'_> {
    fn append(&self, event: &AuditEvent) -> Result<()> {
        let mut event = event.clone();
        let bytes = |e: &AuditEvent| {
            serde_json::to_vec(e)
                .map_err(|err| Error::internal(format!("cannot encode the audit event: {err}")))
        };
        match self {
            AuditLog::Env(env) => env
                .backend()
                .append(env.name(), Journal::Audit, &bytes(&event)?),
            AuditLog::Home(backend, env) => {
                event.environment = env.map(ToString::to_string);
                backend.append_home_audit(&bytes(&event)?)
            }
        }
    }
}

/// Appends an audit event; failing this fails the verb.
pub fn audit(env: &EnvRecords, event: &AuditEvent) -> Result<()> {
    AuditLog::Env(env)
        .append(event)
        .map_err(|e| e.and("; the change was not made"))
}

/// A change about to be made: what, and from what to what.
#[derive(Clone, Debug)]
pub struct Change {
    /// The verb, e.g. `env.policy`.
    pub verb: &'static str,
    /// What it acts on.
    pub target: String,
    /// Before.
    pub before: Value,
    /// After.
    pub after: Value,
}

/// Records `change` as started (synced), makes it with `apply`, then
/// records the outcome. If the started event cannot be written the change
/// is not made, and the error says so; if the outcome cannot be written
/// after the change was made, the error says that it was made.
pub fn audited<T>(
    log: AuditLog<'_>,
    change: Change,
    apply: impl FnOnce() -> Result<T>,
) -> Result<T> {
    let mut started = AuditEvent::new(change.verb, change.target, "started");
    started.before = Some(change.before);
    started.after = Some(change.after);
    log.append(&started)
        .map_err(|e| e.and(format!("; {} was not made", change.verb)))?;
    match apply() {
        Ok(value) => {
            log.append(&started.outcome("ok")).map_err(|e| {
                e.and(format!(
                    "; {} WAS made (its started entry is in the audit log) but its outcome could not be recorded",
                    change.verb
                ))
            })?;
            Ok(value)
        }
        Err(err) => {
            // The change failed; recording that is best effort, the error
            // the operator sees is the change's own.
            let _ = log.append(&started.outcome(format!("failed: {}", err.message())));
            Err(err)
        }
    }
}

/// Records a refusal (policy, confirmation) that changed nothing.
pub fn refused(log: AuditLog<'_>, verb: &str, target: &str, why: &str) -> Result<()> {
    log.append(&AuditEvent::new(verb, target, format!("refused: {why}")))
}

fn parse(lines: Vec<Vec<u8>>) -> Vec<AuditEvent> {
    // A torn last line (a crash mid-append) is skipped, not fatal.
    lines
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect()
}

/// An environment's audit log, oldest first.
pub fn read_audit(env: &EnvRecords) -> Result<Vec<AuditEvent>> {
    Ok(parse(env.backend().lines(env.name(), Journal::Audit)?))
}

/// The home's audit log, oldest first.
pub fn read_home_audit(backend: &dyn Backend) -> Result<Vec<AuditEvent>> {
    Ok(parse(backend.home_audit_lines()?))
}
