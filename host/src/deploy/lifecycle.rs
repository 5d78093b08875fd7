//! `revisions drain|archive`: one lifecycle transition, checked against the
//! transition table.

use super::journal::{self, AuditEvent, HistoryEntry};
use super::model::{Deployment, RevState, Revision};
use super::records::{DeploymentRecords, rev_ref};
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::now_rfc3339;

/// Which revision moves where.
#[derive(Clone, Copy, Debug)]
pub struct TransitionOptions<'a> {
    /// The deployment (default: the only one).
    pub deployment: Option<&'a str>,
    /// Revision id or unique prefix.
    pub revision: &'a str,
    /// `draining` or `archived`.
    pub to: RevState,
}

/// The states a revision passes through to reach `to` by hand, checked
/// against the transition table. Draining has no traffic left to finish
/// here, so a drained revision is stopped and becomes inactive at once; a
/// revision left staged or warming (its deploy was killed) is abandoned:
/// it fails first, then archives.
pub fn path_to(from: RevState, to: RevState, revision: &str) -> Result<Vec<RevState>> {
    let path = match (to, from) {
        (RevState::Draining, _) => vec![RevState::Draining, RevState::Inactive],
        (RevState::Archived, RevState::Staged | RevState::Warming) => {
            vec![RevState::Failed, RevState::Archived]
        }
        (RevState::Archived, _) => vec![RevState::Archived],
        (other, _) => {
            return Err(Error::invalid(format!(
                "cannot move a revision to {other} directly"
            )));
        }
    };
    let mut at = from;
    for next in &path {
        at.check(*next, revision)?;
        at = *next;
    }
    Ok(path)
}

/// Whether `rev` of `dep` may go to `to`: it carries no traffic and the
/// transition table allows it. Returns the states it passes through.
pub(crate) fn check_transition(
    env: &EnvName,
    dep: &Deployment,
    rev: &Revision,
    to: RevState,
) -> Result<Vec<RevState>> {
    let weight = dep.weight_of(&rev.id);
    if weight > 0 {
        return Err(Error::conflict(format!(
            "revision {} still receives {} of traffic ({weight}bps); move it away first",
            rev.id,
            crate::types::percent(weight)
        ))
        .hint(format!(
            "envpack traffic set --env {env} {} <other>=100%",
            dep.name
        )));
    }
    path_to(rev.state, to, &rev.id)
}

/// `revisions drain|archive`.
pub fn transition(
    home: &Home,
    runtime: &Runtime,
    env: &EnvName,
    opts: &TransitionOptions<'_>,
) -> Result<Revision> {
    Session::scoped(home, runtime, env, |session| {
        let records = DeploymentRecords::new(session.records());
        let _lease = records.lock()?;
        let mut dep = records.find(opts.deployment)?;
        let mut rev = dep.revision(env, opts.revision)?.clone();
        let path = check_transition(env, &dep, &rev, opts.to)?;
        let slot = super::target::deployment_slot(&dep);
        super::target::with_target(session, &records, slot, None, |target| {
            target.teardown(&rev_ref(env, &dep.name, &rev))
        })?;
        if path.first() == Some(&RevState::Failed) {
            rev.reason = Some("abandoned: its deploy did not finish".into());
        }
        rev.state = *path.last().unwrap_or(&rev.state);
        rev.updated = now_rfc3339();
        let verb = if opts.to == RevState::Archived {
            "archive"
        } else {
            "drain"
        };
        let mut ev = AuditEvent::new(
            &format!("revision.{verb}"),
            format!("{} {}", dep.name, rev.id),
            "ok",
        );
        ev.before_generation = Some(dep.generation);
        ev.after_generation = Some(dep.generation);
        journal::audit(session.records(), &ev)?;
        *dep.revision_mut(&rev.id)? = rev.clone();
        records.save(&mut dep)?;
        journal::history(
            session.records(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use RevState::*;

    /// Hand-made transitions follow the one transition table.
    #[test]
    fn paths() {
        assert_eq!(
            path_to(Ready, Draining, "r").expect("drain"),
            [Draining, Inactive]
        );
        assert!(path_to(Inactive, Draining, "r").is_err());
        assert_eq!(
            path_to(Inactive, Archived, "r").expect("archive"),
            [Archived]
        );
        assert_eq!(
            path_to(Warming, Archived, "r").expect("abandon"),
            [Failed, Archived]
        );
        assert_eq!(path_to(Failed, Archived, "r").expect("archive"), [Archived]);
        assert!(path_to(Ready, Archived, "r").is_err());
        assert!(path_to(Archived, Archived, "r").is_err());
        assert!(path_to(Ready, Ready, "r").is_err());
    }
}
