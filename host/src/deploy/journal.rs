//! The audit log and the history: append-only JSON lines per environment.
//!
//! Every mutating verb appends an audit event (who, when, what, before and
//! after generation, idempotency key, policy decision, result) before it
//! commits; when the audit cannot be written, the verb fails and changes
//! nothing. The history records what the environment ran: deployments,
//! traffic changes and rollbacks.

use serde::{Deserialize, Serialize};

use crate::backend::Journal;
use crate::env::EnvRecords;
use crate::error::{Error, Result};
use crate::store::now_rfc3339;

/// A policy decision, kept with the event it allowed or refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
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
    /// Who (the OS user running envpack).
    pub actor: String,
    /// The verb: `deploy`, `traffic.set`, `promote`, `rollback`,
    /// `revision.drain`, `revision.archive`.
    pub verb: String,
    /// What it acted on: deployment, revision, bundle.
    pub target: String,
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
    /// `started`, `ok`, `replayed`, `denied`, `failed: <why>`.
    pub result: String,
}

impl AuditEvent {
    /// An event for `verb` on `target` with `result`.
    pub fn new(verb: &str, target: impl Into<String>, result: impl Into<String>) -> Self {
        Self {
            at: now_rfc3339(),
            actor: std::env::var("USER")
                .or_else(|_| std::env::var("USERNAME"))
                .unwrap_or_else(|_| "unknown".into()),
            verb: verb.into(),
            target: target.into(),
            before_generation: None,
            after_generation: None,
            idempotency_key: None,
            policy: None,
            result: result.into(),
        }
    }
}

/// One history entry.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// When.
    pub at: String,
    /// `deploy`, `traffic`, `rollback`, `promote`, `revision`.
    pub kind: String,
    /// Deployment.
    pub deployment: String,
    /// Revision concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<String>,
    /// Bundle concerned, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bundle: Option<String>,
    /// Traffic generation after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
    /// What happened, for people.
    pub summary: String,
}

impl HistoryEntry {
    /// An entry of `kind` for `deployment` (empty for environment-wide
    /// entries), stamped now.
    pub fn new(kind: &str, deployment: &str, generation: Option<u64>, summary: String) -> Self {
        Self {
            at: now_rfc3339(),
            kind: kind.into(),
            deployment: deployment.into(),
            revision: None,
            bundle: None,
            generation,
            summary,
        }
    }

    /// The revision concerned.
    pub fn with_revision(mut self, revision: &str) -> Self {
        self.revision = Some(revision.into());
        self
    }

    /// The bundle concerned.
    pub fn with_bundle(mut self, bundle: String) -> Self {
        self.bundle = Some(bundle);
        self
    }
}

fn append(env: &EnvRecords, journal: Journal, line: &impl Serialize, what: &str) -> Result<()> {
    let bytes = serde_json::to_vec(line)
        .map_err(|e| Error::internal(format!("cannot encode {what}: {e}")))?;
    env.backend().append(env.name(), journal, &bytes)
}

/// Appends an audit event; failing this fails the verb.
pub fn audit(env: &EnvRecords, event: &AuditEvent) -> Result<()> {
    append(env, Journal::Audit, event, "audit log").map_err(|e| e.and("; the change was not made"))
}

/// Appends a history entry.
pub fn history(env: &EnvRecords, entry: &HistoryEntry) -> Result<()> {
    append(env, Journal::History, entry, "history")
}

fn read_lines<T: for<'de> Deserialize<'de>>(env: &EnvRecords, journal: Journal) -> Result<Vec<T>> {
    // A torn last line (a crash mid-append) is skipped, not fatal.
    Ok(env
        .backend()
        .lines(env.name(), journal)?
        .iter()
        .filter_map(|l| serde_json::from_slice(l).ok())
        .collect())
}

/// The audit log, oldest first.
pub fn read_audit(env: &EnvRecords) -> Result<Vec<AuditEvent>> {
    read_lines(env, Journal::Audit)
}

/// The history, oldest first.
pub fn read_history(env: &EnvRecords) -> Result<Vec<HistoryEntry>> {
    read_lines(env, Journal::History)
}
