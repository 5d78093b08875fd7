//! `envpack state ...`: through the environment's state pack.

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::StateCommand;
use crate::cli::output::Report;
use crate::env::audit::{AuditLog, Change, audited};
use crate::env::plan::Plan;
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};
use crate::runtime::slots::state::Expect;

/// Dispatches `envpack state`.
pub fn run(ctx: &Ctx, cmd: StateCommand) -> Result<Report> {
    let name = ctx.env_name()?;
    let plan = plan_of(&name, &cmd);
    if let Some(plan) = plan
        && let Some(report) = ctx.plan_first(&name, || Ok(plan))?
    {
        return Ok(report);
    }
    Session::scoped(&ctx.home, ctx.runtime()?, &name, |session| {
        Ok(match cmd {
            StateCommand::Put {
                key,
                value,
                expect_generation,
                expect_absent,
            } => {
                let expect = match (expect_generation, expect_absent) {
                    (Some(g), _) => Some(Expect::Generation(g)),
                    (None, true) => Some(Expect::Absent),
                    _ => None,
                };
                put(session, &key, &value, expect)?
            }
            StateCommand::Get { key } => {
                let e = session
                    .with_state(false, |i| i.state()?.get(&key))?
                    .ok_or_else(|| {
                        Error::not_found(format!("environment {name} has no state key {key:?}"))
                            .hint(format!("envpack state list --env {name}"))
                    })?;
                let text = String::from_utf8_lossy(&e.value).into_owned();
                Report::new(
                    text.clone(),
                    &json!({"environment": name, "key": key, "value": text, "generation": e.generation}),
                )
            }
            StateCommand::List { prefix } => {
                let keys = session.with_state(false, |i| i.state()?.list(&prefix))?;
                let human = if keys.is_empty() {
                    format!("no state keys in {name}")
                } else {
                    keys.join("\n")
                };
                Report::new(human, &keys).with_names(keys.clone())
            }
            StateCommand::Rm {
                key,
                expect_generation,
            } => {
                let change = Change {
                    verb: "state.rm",
                    target: key.clone(),
                    before: json!({"expect_generation": expect_generation}),
                    after: serde_json::Value::Null,
                };
                let existed = audited(AuditLog::Env(session.records()), change, || {
                    session.with_state(true, |i| {
                        i.state()?
                            .delete(&key, expect_generation.map(Expect::Generation))
                    })
                })?;
                if !existed {
                    return Err(Error::not_found(format!(
                        "environment {name} has no state key {key:?}"
                    )));
                }
                Report::new(
                    format!("removed {key} from {name}"),
                    &json!({"environment": name, "key": key}),
                )
            }
        })
    })
}

/// The plan of a write, for `--dry-run` and production confirmation.
fn plan_of(name: &EnvName, cmd: &StateCommand) -> Option<Plan> {
    match cmd {
        StateCommand::Put { key, value, .. } => Some(Plan::new("state.put", name, key).change(
            format!("state {key}"),
            "?",
            format!("{} bytes", value.len()),
        )),
        StateCommand::Rm { key, .. } => {
            Some(Plan::new("state.rm", name, key).change(format!("state {key}"), "?", "-"))
        }
        _ => None,
    }
}

/// `state put`, audited (the value's size and hash, not the value).
fn put(session: &Session<'_>, key: &str, value: &str, expect: Option<Expect>) -> Result<Report> {
    let name = session.name();
    let change = Change {
        verb: "state.put",
        target: key.to_string(),
        before: json!({"expect": format!("{expect:?}")}),
        after: json!({
            "bytes": value.len(),
            "sha256": crate::manifest::Digest::of(value.as_bytes()).to_string(),
        }),
    };
    let generation = audited(AuditLog::Env(session.records()), change, || {
        session.with_state(true, |i| i.state()?.put(key, value.as_bytes(), expect))
    })?;
    session.event(
        "state.put",
        crate::runtime::Level::Info,
        vec![
            ("key".into(), key.to_string()),
            ("generation".into(), generation.to_string()),
        ],
    );
    Ok(Report::new(
        format!("stored {key} in {name} (generation {generation})"),
        &json!({"environment": name, "key": key, "generation": generation}),
    ))
}
