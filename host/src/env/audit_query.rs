//! Reading the audit logs back: every event of the environments asked
//! for, from their own logs and the home's, merged in time order and
//! filtered by actor, verb and time. `envpack audit` and the dashboard's
//! audit feed both answer with this.

use std::sync::Arc;
use std::time::SystemTime;

use super::EnvRecords;
use super::audit::{AuditEvent, read_audit, read_home_audit};
use crate::backend::Backend;
use crate::error::Result;
use crate::types::EnvName;

/// Which events to keep.
#[derive(Clone, Debug, Default)]
pub struct AuditQuery {
    /// The environments; `None`: every one the backend holds.
    pub environments: Option<Vec<EnvName>>,
    /// Only this actor's events.
    pub actor: Option<String>,
    /// Only this verb, or the verbs under it (`traffic` keeps
    /// `traffic.set`).
    pub verb: Option<String>,
    /// Only events at or after this time.
    pub since: Option<SystemTime>,
    /// Only events before this time.
    pub until: Option<SystemTime>,
    /// Only the newest this many.
    pub last: Option<usize>,
}

impl AuditQuery {
    fn keeps(&self, e: &AuditEvent) -> bool {
        let verb_ok = self
            .verb
            .as_ref()
            .is_none_or(|v| e.verb == *v || e.verb.starts_with(&format!("{v}.")));
        let at = when(&e.at);
        self.actor.as_ref().is_none_or(|a| e.actor == *a)
            && verb_ok
            && self.since.is_none_or(|s| at >= s)
            && self.until.is_none_or(|u| at < u)
    }
}

/// An event's time (RFC 3339, to the second or finer); unreadable: the
/// epoch, so it sorts first and passes no `since`.
fn when(at: &str) -> SystemTime {
    humantime::parse_rfc3339_weak(at).unwrap_or(std::time::UNIX_EPOCH)
}

/// The events `q` asks for, oldest first, each with its environment (`-`
/// for a home event naming none).
pub fn query(backend: &Arc<dyn Backend>, q: &AuditQuery) -> Result<Vec<(String, AuditEvent)>> {
    let all = q.environments.is_none();
    let envs = match &q.environments {
        Some(list) => list.clone(),
        None => backend.environments()?,
    };
    let mut events: Vec<(String, AuditEvent)> = Vec::new();
    for env in &envs {
        let records = EnvRecords::with_backend(backend.clone(), env);
        for e in read_audit(&records)? {
            events.push((env.to_string(), e));
        }
    }
    for e in read_home_audit(backend.as_ref())? {
        let env = e.environment.clone().unwrap_or_default();
        if all || envs.iter().any(|n| n.as_str() == env) {
            events.push((if env.is_empty() { "-".into() } else { env }, e));
        }
    }
    events.retain(|(_, e)| q.keeps(e));
    // Stable: events of one instant keep the order of their log.
    events.sort_by_key(|(_, e)| when(&e.at));
    if let Some(n) = q.last {
        let cut = events.len().saturating_sub(n);
        events.drain(..cut);
    }
    Ok(events)
}

/// The events as JSON, each carrying its environment: what `envpack
/// --json audit` prints as its result.
pub fn to_json(events: &[(String, AuditEvent)]) -> Vec<serde_json::Value> {
    events
        .iter()
        .map(|(env, e)| {
            let mut v = serde_json::to_value(e).unwrap_or_default();
            v["environment"] = serde_json::Value::from(env.as_str());
            v
        })
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn event(actor: &str, verb: &str, at: &str) -> AuditEvent {
        let mut e = AuditEvent::new(verb, "web", "ok");
        e.actor = actor.into();
        e.at = at.into();
        e
    }

    #[test]
    fn filters_keep_the_actor_the_verb_family_and_the_time_range() {
        let q = AuditQuery {
            actor: Some("alice".into()),
            verb: Some("traffic".into()),
            since: humantime::parse_rfc3339_weak("2026-01-02T00:00:00Z").ok(),
            ..AuditQuery::default()
        };
        assert!(q.keeps(&event("alice", "traffic.set", "2026-01-03T00:00:00Z")));
        assert!(q.keeps(&event("alice", "traffic", "2026-01-03T00:00:00Z")));
        assert!(!q.keeps(&event("bob", "traffic.set", "2026-01-03T00:00:00Z")));
        assert!(!q.keeps(&event("alice", "trafficker", "2026-01-03T00:00:00Z")));
        assert!(!q.keeps(&event("alice", "traffic.set", "2026-01-01T00:00:00Z")));
        assert!(!q.keeps(&event("alice", "traffic.set", "not a time")));
    }
}
