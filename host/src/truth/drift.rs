//! Drift: reality against expectation, and expectation against intent, as
//! evidence. Pure functions over the three records; nothing here observes
//! or writes.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use super::model::{
    Acceptance, DriftEntry, DriftKind, Expectation, ExpectedRevision, Observation, ObservedRevision,
};

/// One cell of the drift matrix.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum DriftState {
    /// Reality matches expectation and expectation matches intent.
    InSync,
    /// Something differs that nobody accepted.
    Drifted,
    /// Every difference is accepted.
    Accepted,
    /// The deployer could not tell.
    Unobservable,
}

impl DriftState {
    /// For people: `in sync`, `drifted`, `accepted`, `unobservable`.
    pub fn label(self) -> &'static str {
        match self {
            DriftState::InSync => "in sync",
            DriftState::Drifted => "drifted",
            DriftState::Accepted => "accepted",
            DriftState::Unobservable => "unobservable",
        }
    }
}

/// Every difference between the records of one snapshot.
pub fn compare(expectation: &Expectation, observation: &Observation) -> Option<Vec<DriftEntry>> {
    let Observation::Observed { revisions } = observation else {
        return None;
    };
    let observed: BTreeMap<&str, &ObservedRevision> =
        revisions.iter().map(|o| (o.revision.as_str(), o)).collect();
    let mut out = Vec::new();
    for e in &expectation.revisions {
        let r = (e.deployment.as_str(), e.revision.as_str());
        if let Some(why) = expectation.intent_problems.get(&e.revision) {
            out.push(DriftEntry::new(
                DriftKind::Changed,
                "intent",
                r,
                "bundle",
                (Some(e.bundle.to_string()), Some(why.clone())),
            ));
        }
        let seen = observed.get(e.revision.as_str());
        let running = seen.is_some_and(|o| o.state == "running");
        // Expected to run and not seen running: missing, with what was
        // seen instead (`exited(1)`), if anything.
        if e.running && !running {
            out.push(with_bundle(
                DriftEntry::new(
                    DriftKind::Missing,
                    "reality",
                    r,
                    "revision",
                    (Some("running".into()), seen.map(|o| o.state.clone())),
                ),
                e,
            ));
        }
        if let Some(o) = seen {
            out.extend(changed(e, o));
        }
    }
    let expected: BTreeSet<&str> = expectation
        .revisions
        .iter()
        .filter(|e| e.running)
        .map(|e| e.revision.as_str())
        .collect();
    for o in revisions {
        // Processes nothing accounts for, beside a revision that should run.
        if let Some(pids) = o.attributes.get(super::observe::STRAY_PIDS)
            && expected.contains(o.revision.as_str())
        {
            out.push(DriftEntry::new(
                DriftKind::Unexpected,
                "reality",
                (&o.deployment, &o.revision),
                "processes",
                (
                    None,
                    Some(format!("{} untracked process(es)", pids.split(',').count())),
                ),
            ));
        }
        if !expected.contains(o.revision.as_str()) && o.state == "running" {
            out.push(DriftEntry::new(
                DriftKind::Unexpected,
                "reality",
                (&o.deployment, &o.revision),
                "revision",
                (None, Some(o.state.clone())),
            ));
        }
    }
    Some(out)
}

fn with_bundle(mut d: DriftEntry, e: &ExpectedRevision) -> DriftEntry {
    d.expected_bundle = Some(e.bundle.to_string());
    d
}

/// The values of a revision both records know (whether it runs is
/// `missing` / `unexpected`).
fn changed(e: &ExpectedRevision, o: &ObservedRevision) -> Vec<DriftEntry> {
    let r = (e.deployment.as_str(), e.revision.as_str());
    let mut out = Vec::new();
    let mut diff = |field: &str, expected: Option<String>, observed: Option<String>| {
        if expected != observed {
            out.push(with_bundle(
                DriftEntry::new(
                    DriftKind::Changed,
                    "reality",
                    r,
                    field,
                    (expected, observed),
                ),
                e,
            ));
        }
    };
    if let Some(bundle) = &o.bundle {
        diff("bundle", Some(e.bundle.to_string()), Some(bundle.clone()));
    }
    if e.running && o.endpoint.is_some() {
        diff("endpoint", e.endpoint.clone(), o.endpoint.clone());
    }
    if !o.files.is_empty() {
        files(e, o, &mut out);
    }
    if e.running {
        attributes(e, o, &mut out);
    }
    out
}

/// Attributes the recorded plan expected (`expect.<key>`) against what
/// the deployer observed: a different value is `changed`, an absent one
/// `missing` (a deleted Service, say). The host knows nothing of the keys.
fn attributes(e: &ExpectedRevision, o: &ObservedRevision, out: &mut Vec<DriftEntry>) {
    let r = (e.deployment.as_str(), e.revision.as_str());
    for (key, want) in &e.attributes {
        let got = o.attributes.get(key);
        if got == Some(want) {
            continue;
        }
        let kind = if got.is_some() {
            DriftKind::Changed
        } else {
            DriftKind::Missing
        };
        out.push(with_bundle(
            DriftEntry::new(kind, "reality", r, key, (Some(want.clone()), got.cloned())),
            e,
        ));
    }
}

/// Payload files that differ, in path order. Both maps are sorted, so one
/// merge walk finds them, and only a difference allocates.
fn files(e: &ExpectedRevision, o: &ObservedRevision, out: &mut Vec<DriftEntry>) {
    let r = (e.deployment.as_str(), e.revision.as_str());
    let mut push = |path: &str, expected: Option<&String>, observed: Option<&String>| {
        out.push(with_bundle(
            DriftEntry::new(
                DriftKind::Changed,
                "reality",
                r,
                &format!("file:{path}"),
                (expected.cloned(), observed.cloned()),
            ),
            e,
        ));
    };
    let (mut want, mut got) = (e.files.iter().peekable(), o.files.iter().peekable());
    loop {
        match (want.peek(), got.peek()) {
            (None, None) => break,
            (Some((p, a)), Some((q, b))) if p == q => {
                if a != b {
                    push(p, Some(a), Some(b));
                }
                want.next();
                got.next();
            }
            (Some((p, a)), Some((q, _))) if p < q => {
                push(p, Some(a), None);
                want.next();
            }
            (Some((p, a)), None) => {
                push(p, Some(a), None);
                want.next();
            }
            (_, Some((q, b))) => {
                push(q, None, Some(b));
                got.next();
            }
        }
    }
}

/// The state of a set of entries given the acceptances on record.
pub fn state_of(entries: Option<&[DriftEntry]>, accepted: &[Acceptance]) -> DriftState {
    match entries {
        None => DriftState::Unobservable,
        Some([]) => DriftState::InSync,
        Some(list) if list.iter().all(|d| is_accepted(d, accepted)) => DriftState::Accepted,
        Some(_) => DriftState::Drifted,
    }
}

/// Whether an entry was accepted (the same difference: same id).
pub fn is_accepted(d: &DriftEntry, accepted: &[Acceptance]) -> bool {
    accepted.iter().any(|a| a.entry == d.id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::deploy::model::RevState;
    use envpack_manifest::Digest;

    fn expected(rev: &str, running: bool, files: &[(&str, &str)]) -> ExpectedRevision {
        ExpectedRevision {
            deployment: "web".into(),
            revision: rev.into(),
            lifecycle: if running {
                RevState::Ready
            } else {
                RevState::Inactive
            },
            basis_points: 0,
            running,
            bundle: Digest::of(rev.as_bytes()),
            version: "1.0.0".into(),
            endpoint: Some(format!("http://127.0.0.1/{rev}")),
            files: files
                .iter()
                .map(|(p, s)| (p.to_string(), s.to_string()))
                .collect(),
            attributes: BTreeMap::new(),
        }
    }

    fn observed(rev: &str, state: &str, files: &[(&str, &str)]) -> ObservedRevision {
        ObservedRevision {
            deployment: "web".into(),
            revision: rev.into(),
            state: state.into(),
            bundle: Some(Digest::of(rev.as_bytes()).to_string()),
            endpoint: Some(format!("http://127.0.0.1/{rev}")),
            files: files
                .iter()
                .map(|(p, s)| (p.to_string(), s.to_string()))
                .collect(),
            attributes: BTreeMap::new(),
        }
    }

    fn exp(revs: Vec<ExpectedRevision>) -> Expectation {
        Expectation {
            revisions: revs,
            ..Expectation::default()
        }
    }

    fn kinds(d: &[DriftEntry]) -> Vec<(DriftKind, String, String)> {
        d.iter()
            .map(|e| (e.kind, e.revision.clone(), e.field.clone()))
            .collect()
    }

    #[test]
    fn in_sync() {
        let e = exp(vec![
            expected("r1", true, &[("a", "1")]),
            expected("r0", false, &[]),
        ]);
        let o = Observation::Observed {
            revisions: vec![observed("r1", "running", &[("a", "1")])],
        };
        let d = compare(&e, &o).expect("observed");
        assert!(d.is_empty(), "{d:?}");
        assert_eq!(state_of(Some(&d), &[]), DriftState::InSync);
    }

    /// Attributes a plan expected: equal is in sync, different `changed`,
    /// absent `missing`; attributes nobody expected are ignored.
    #[test]
    fn expected_attributes() {
        let mut e = expected("r1", true, &[]);
        e.attributes = [
            ("image", "a@sha256:1"),
            ("replicas", "1"),
            ("service", "web-r1"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let mut o = observed("r1", "running", &[]);
        o.attributes = [
            ("image", "a@sha256:1"),
            ("replicas", "1"),
            ("service", "web-r1"),
            ("extra", "x"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .into();
        let obs = |o: &ObservedRevision| Observation::Observed {
            revisions: vec![o.clone()],
        };
        assert_eq!(compare(&exp(vec![e.clone()]), &obs(&o)), Some(vec![]));
        o.attributes.insert("replicas".into(), "3".into());
        o.attributes.remove("service");
        let d = compare(&exp(vec![e]), &obs(&o)).expect("observed");
        assert_eq!(
            kinds(&d),
            [
                (DriftKind::Changed, "r1".into(), "replicas".into()),
                (DriftKind::Missing, "r1".into(), "service".into())
            ]
        );
        assert_eq!(d[0].observed.as_deref(), Some("3"));
    }

    /// Missing, unexpected, changed state, changed and extra files.
    #[test]
    fn every_kind() {
        let e = exp(vec![
            expected("r1", true, &[("a", "1"), ("b", "2")]),
            expected("r2", true, &[]),
        ]);
        let o = Observation::Observed {
            revisions: vec![
                observed("r1", "exited", &[("a", "9"), ("b", "2"), ("c", "3")]),
                observed("r9", "running", &[]),
            ],
        };
        let d = compare(&e, &o).expect("observed");
        assert_eq!(
            kinds(&d),
            [
                (DriftKind::Missing, "r1".into(), "revision".into()),
                (DriftKind::Changed, "r1".into(), "file:a".into()),
                (DriftKind::Changed, "r1".into(), "file:c".into()),
                (DriftKind::Missing, "r2".into(), "revision".into()),
                (DriftKind::Unexpected, "r9".into(), "revision".into()),
            ]
        );
        assert_eq!(
            d[0].observed.as_deref(),
            Some("exited"),
            "what was seen instead"
        );
        let a = &d[1];
        assert_eq!(
            (a.expected.as_deref(), a.observed.as_deref()),
            (Some("1"), Some("9"))
        );
        assert_eq!(d[2].expected, None, "an extra file was not expected");
        assert_eq!(state_of(Some(&d), &[]), DriftState::Drifted);
    }

    /// A stopped revision that is not expected to run is in sync; an
    /// unobservable environment is never in sync; acceptances hold until
    /// the observed value changes.
    #[test]
    fn stopped_unobservable_and_accepted() {
        let e = exp(vec![expected("r0", false, &[])]);
        let o = Observation::Observed {
            revisions: vec![observed("r0", "exited", &[])],
        };
        assert_eq!(compare(&e, &o).expect("observed"), vec![]);
        let none = compare(&e, &Observation::Unobservable { reason: "x".into() });
        assert_eq!(state_of(none.as_deref(), &[]), DriftState::Unobservable);

        let e = exp(vec![expected("r1", true, &[("a", "1")])]);
        let seen = |sha: &str| {
            compare(
                &e,
                &Observation::Observed {
                    revisions: vec![observed("r1", "running", &[("a", sha)])],
                },
            )
            .expect("observed")
        };
        let first = seen("2");
        let accepted = vec![Acceptance {
            entry: first[0].id.clone(),
            reason: "hotfix".into(),
            actor: "me".into(),
            at: String::new(),
            snapshot: Digest::of(b"s"),
        }];
        assert_eq!(state_of(Some(&first), &accepted), DriftState::Accepted);
        assert_eq!(state_of(Some(&seen("2")), &accepted), DriftState::Accepted);
        assert_eq!(state_of(Some(&seen("3")), &accepted), DriftState::Drifted);
    }
}
