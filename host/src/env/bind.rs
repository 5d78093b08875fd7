//! `env bind` and `env unbind`: which pack fills a slot (or, for a
//! command-only pack, sits beside the slots under its own id), with which
//! grants. Every capability a pack requests must be granted; a rebind shows
//! the capability diff.

use envpack_descriptor::{Descriptor, Requirement, Slot};
use envpack_manifest::{Capability, Grants};
use serde::Serialize;

use super::EnvRecords;
use super::audit::{AuditLog, Change, audited};
use super::model::{Binding, EnvName, Lock, Seat};
use crate::backend::{LockScope, Precondition, RecordKey};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::packs;
use crate::runtime::Runtime;
use crate::store::{Store, now_rfc3339};

/// What `env bind` did.
#[derive(Clone, Debug, Serialize)]
pub struct BindOutcome {
    /// The slot (`command` for a command-only pack).
    pub slot: Slot,
    /// Where the binding sits: the slot, or the command-only pack's id.
    pub seat: Seat,
    /// Previously bound.
    pub previous: Option<Descriptor>,
    /// Now bound.
    pub binding: Binding,
    /// Capabilities the new pack requests that the previous one did not.
    pub added: Vec<Capability>,
    /// Capabilities the previous pack requested that the new one does not.
    pub removed: Vec<Capability>,
}

/// The capability diff of moving from a pack requesting `before` to one
/// requesting `after`: what it newly asks for, and what it no longer does.
pub fn capability_diff(before: &Grants, after: &Grants) -> (Vec<Capability>, Vec<Capability>) {
    (after.not_covered_by(before), before.not_covered_by(after))
}

/// Formats a capability diff, one `+ cap` / `- cap` per line.
pub fn format_diff(added: &[Capability], removed: &[Capability]) -> String {
    let mut out = String::new();
    for c in added {
        out.push_str(&format!("  + {c}\n"));
    }
    for c in removed {
        out.push_str(&format!("  - {c}\n"));
    }
    out
}

/// Which pack `env bind` binds, and what it grants.
#[derive(Clone, Copy, Debug)]
pub struct BindOptions<'a> {
    /// The slot.
    pub slot: Slot,
    /// The requirement, e.g. `acme.state.memory@^1`.
    pub requirement: &'a str,
    /// Capabilities granted now.
    pub grants: &'a [Capability],
    /// Grant everything the pack requests.
    pub grant_requested: bool,
    /// Check and resolve everything, change nothing.
    pub dry_run: bool,
}

/// The grants a binding ends with: an earlier binding's grants carry over
/// only when the same pack (any version) is rebound; each `--grant` must
/// cover or be covered by something the pack requests.
pub fn effective_grants(
    previous: Option<&Binding>,
    descriptor: &Descriptor,
    requested: &Grants,
    opts: &BindOptions<'_>,
) -> Result<Grants> {
    let mut effective = match previous {
        Some(b) if b.descriptor.id() == descriptor.id() => b.grants.clone(),
        _ => Grants::none(),
    };
    for g in opts.grants {
        if !requested.iter().any(|r| g.covers(r) || r.covers(g)) {
            return Err(Error::invalid(format!(
                "--grant {g}: {descriptor} does not request anything this covers (it requests: {})",
                list_or_none(requested)
            )));
        }
        effective.insert(g.clone());
    }
    if opts.grant_requested {
        for r in requested {
            effective.insert(r.clone());
        }
    }
    Ok(effective)
}

/// `env bind`: binds `slot` to the newest installed pack matching
/// `requirement`, with the grants given. Every capability the pack requests
/// must be granted, now or (for the same pack) by an earlier bind; the
/// error lists the capability diff and the command that grants it.
pub fn bind(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    opts: &BindOptions<'_>,
) -> Result<BindOutcome> {
    let (slot, requirement) = (opts.slot, opts.requirement);
    let req: Requirement = requirement.parse()?;
    if req.id().slot() != slot {
        return Err(Error::invalid(format!(
            "{req} is a {} pack and cannot fill the {slot} slot",
            req.id().slot()
        ))
        .hint(format!("envpack env bind {name} {} {req}", req.id().slot())));
    }
    let store = Store::open(home);
    let records = EnvRecords::new(home, name);
    records.load()?;
    let _guard = records.lock(LockScope::Env)?;
    let (meta, mut lock) = records.load()?;
    let descriptor = store.resolve(&req)?;
    if crate::devloop::is_dev(&descriptor) && meta.policy.production {
        return Err(Error::new(
            Kind::Denied,
            format!("{descriptor} is a dev build (`envpack pack dev`) and environment {name:?} is production"),
        )
        .hint(format!("bind a release build instead (`pack build` without dev, `pack install`): envpack env bind {name} {slot} {}@<VERSION>", descriptor.id())));
    }
    if slot == Slot::Secrets {
        super::dev_secrets::check_bind(name, &meta.policy, &descriptor)?;
    }
    let pack = store.load(&descriptor, None)?;
    let requested = pack.manifest().requested();
    let seat = Seat::of(descriptor.id());
    if seat.slot() == Slot::Command {
        check_command_names(&store, name, &lock, &seat, pack.manifest())?;
    }

    let previous = lock.binding(&seat).cloned();
    let previous_requested = match &previous {
        Some(b) => store
            .load(&b.descriptor, None)
            .map(|p| p.manifest().requested())
            .unwrap_or_default(),
        None => Grants::none(),
    };
    let effective = effective_grants(previous.as_ref(), &descriptor, &requested, opts)?;
    let (added, removed) = capability_diff(&previous_requested, &requested);
    let missing = requested.unsatisfied_by(&effective);
    if !missing.is_empty() {
        let from = previous.as_ref().map(|b| &b.descriptor);
        return Err(not_granted(
            name,
            opts,
            &descriptor,
            from,
            (&added, &removed),
            &missing,
        ));
    }
    let binding = Binding {
        requirement: req,
        descriptor: descriptor.clone(),
        digest: pack.label().digest,
        grants: effective,
        bound_at: now_rfc3339(),
        origin: store.origin_of(&descriptor)?,
    };
    if !opts.dry_run {
        packs::ensure_artifact(&store, runtime, &pack)?;
        let change = Change {
            verb: "env.bind",
            target: seat.unbind_args(),
            before: super::ops::json(&previous),
            after: super::ops::json(&binding),
        };
        lock.insert(seat.clone(), binding.clone());
        lock.generation += 1;
        audited(AuditLog::Env(&records), change, || {
            records.write(&RecordKey::Lock, &lock, Precondition::Any)
        })?;
    }
    Ok(BindOutcome {
        slot,
        seat,
        previous: previous.map(|b| b.descriptor),
        binding,
        added,
        removed,
    })
}

/// A bind refused because the pack requests capabilities not granted:
/// the capability diff, and the command that grants them.
fn not_granted(
    name: &EnvName,
    opts: &BindOptions<'_>,
    descriptor: &Descriptor,
    previous: Option<&Descriptor>,
    (added, removed): (&[Capability], &[Capability]),
    missing: &[Capability],
) -> Error {
    let flags: Vec<String> = missing
        .iter()
        .map(|c| format!("--grant {}", grant_flag(c)))
        .collect();
    Error::new(
        Kind::Denied,
        format!(
            "{descriptor} needs capabilities that environment {name:?} has not granted; capability diff{}:\n{}not granted: {}",
            previous.map_or(String::new(), |d| format!(" from {d}")),
            format_diff(added, removed),
            missing.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
        ),
    )
    .hint(format!(
        "envpack env bind {name} {} {} {} (or --grant-requested to grant all it requests)",
        opts.slot,
        opts.requirement,
        flags.join(" ")
    ))
}

/// What to grant for a missing request: itself, or, for an operator's
/// choice (`http:*`, `credential:*`), a placeholder for the narrower grant
/// the operator picks, since granting the `*` gives every host or secret.
fn grant_flag(c: &Capability) -> String {
    match (c.is_operator_choice(), c.kind()) {
        (false, _) => c.to_string(),
        (true, "http") => "http:<HOST:PORT>".into(),
        (true, kind) => format!("{kind}:<NAME>"),
    }
}

fn list_or_none(g: &Grants) -> String {
    if g.is_empty() {
        "nothing".into()
    } else {
        g.iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    }
}

/// A command-only pack's commands must not shadow the commands of another
/// pack bound in the environment: the CLI would run only one of them.
fn check_command_names(
    store: &Store,
    name: &EnvName,
    lock: &Lock,
    seat: &Seat,
    manifest: &envpack_manifest::PackManifest,
) -> Result<()> {
    for (other, b) in lock.bindings().filter(|(s, _)| s != seat) {
        let Ok(theirs) = store.load(&b.descriptor, Some(&b.digest)) else {
            continue;
        };
        if let Some(c) = manifest
            .commands
            .iter()
            .find(|c| theirs.manifest().commands.iter().any(|t| t.name == c.name))
        {
            return Err(Error::conflict(format!(
                "{} declares the command {:?}, which {} ({}) in environment {name:?} declares too",
                manifest.descriptor, c.name, b.descriptor, other
            ))
            .hint(format!(
                "unbind the other pack first: envpack env unbind {name} {}",
                other.unbind_args()
            )));
        }
    }
    Ok(())
}

/// The seat `env unbind NAME SLOT [PACK]` names: the slot, or for `command`
/// the command-only pack given by id (`acme.command.tools`) or, when only
/// one is bound under it, by name (`tools`).
pub fn seat_for(name: &EnvName, lock: &Lock, slot: Slot, pack: Option<&str>) -> Result<Seat> {
    let bound = || {
        lock.commands
            .keys()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", ")
    };
    match (slot, pack) {
        (Slot::Command, None) => Err(Error::invalid(format!(
            "say which command pack to unbind (environment {name:?} binds: {})",
            if lock.commands.is_empty() {
                "none".into()
            } else {
                bound()
            }
        ))
        .hint(format!("envpack env unbind {name} command <PACK>"))),
        (Slot::Command, Some(p)) => {
            if let Ok(id) = p.parse::<envpack_descriptor::PackId>() {
                return Ok(Seat::Commands(id));
            }
            let found: Vec<_> = lock.commands.keys().filter(|id| id.name() == p).collect();
            match found.as_slice() {
                [one] => Ok(Seat::Commands((*one).clone())),
                [] => Err(Error::not_found(format!(
                    "environment {name:?} binds no command pack named {p:?} (it binds: {})",
                    if lock.commands.is_empty() {
                        "none".into()
                    } else {
                        bound()
                    }
                ))
                .hint(format!("see what is bound: envpack env show {name}"))),
                _ => Err(Error::invalid(format!(
                    "several command packs of environment {name:?} are named {p:?}: {}; give the whole id",
                    found
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ))),
            }
        }
        (slot, None) => Ok(Seat::Slot(slot)),
        (slot, Some(p)) => Err(Error::invalid(format!(
            "the {slot} slot holds one pack; {p:?} is only for `command`"
        ))
        .hint(format!("envpack env unbind {name} {slot}"))),
    }
}

/// `env unbind`: empties a slot, or removes a command-only pack. Returns
/// what was bound.
pub fn unbind(home: &Home, name: &EnvName, seat: &Seat) -> Result<Binding> {
    let records = EnvRecords::new(home, name);
    records.load()?;
    let _guard = records.lock(LockScope::Env)?;
    let (_meta, mut lock) = records.load()?;
    let old = lock.remove(seat).ok_or_else(|| {
        let e = Error::not_found(format!("{seat} of environment {name:?} is not bound"));
        match seat {
            Seat::Slot(_) => e,
            Seat::Commands(_) => e.hint(format!("see what is bound: envpack env show {name}")),
        }
    })?;
    lock.generation += 1;
    let change = Change {
        verb: "env.unbind",
        target: seat.unbind_args(),
        before: super::ops::json(&old),
        after: serde_json::Value::Null,
    };
    audited(AuditLog::Env(&records), change, || {
        records.write(&RecordKey::Lock, &lock, Precondition::Any)
    })?;
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grants(list: &[&str]) -> Grants {
        list.iter().map(|c| c.parse().expect("cap")).collect()
    }

    fn binding(d: &str, granted: &[&str]) -> Binding {
        Binding {
            requirement: "acme.state.memory@^1".parse().expect("req"),
            descriptor: d.parse().expect("d"),
            digest: envpack_manifest::Digest::of(b"x"),
            grants: grants(granted),
            bound_at: String::new(),
            origin: None,
        }
    }

    /// Grants carry over for the same pack only; a grant must match a request.
    #[test]
    fn grants_carry_over_and_must_match() {
        let d: Descriptor = "acme.state.memory@1.3.0".parse().expect("d");
        let requested = grants(&["kv", "log"]);
        let http: [Capability; 1] = ["http:x.example".parse().expect("cap")];
        let run = |prev: Option<&Binding>, g: &[Capability], all| {
            let o = BindOptions {
                slot: Slot::State,
                requirement: "acme.state.memory@^1",
                grants: g,
                grant_requested: all,
                dry_run: false,
            };
            effective_grants(prev, &d, &requested, &o)
        };
        let same = binding("acme.state.memory@1.2.0", &["kv"]);
        let other = binding("acme.state.other@1.0.0", &["kv"]);
        assert_eq!(run(Some(&same), &[], false).expect("ok"), grants(&["kv"]));
        assert!(run(Some(&other), &[], false).expect("ok").is_empty());
        assert_eq!(run(None, &[], true).expect("ok"), requested);
        assert!(run(None, &http, false).is_err());
    }
}
