//! The audit log (kept by [`crate::env::audit`]) and the history:
//! append-only JSON lines per environment.
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

pub use crate::env::audit::{AuditEvent, PolicyDecision, audit, read_audit};

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

/// The history, oldest first.
pub fn read_history(env: &EnvRecords) -> Result<Vec<HistoryEntry>> {
    read_lines(env, Journal::History)
}
