//! `envpack revisions list | show | drain | archive`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::answers::{Input, env_or, input, missing};
use crate::cli::Ctx;
use crate::cli::args::{RevisionsCommand, TransitionArgs};
use crate::cli::output::{Report, table};
use crate::deploy::model::{Deployment, RevState, Revision};
use crate::deploy::{self, DeploymentRecords, TransitionOptions, retention};
use crate::env::plan::Plan;
use crate::env::{EnvName, EnvRecords};
use crate::error::Result;
use crate::truth::{self, LastSeen};

/// `envpack revisions ...`.
pub fn revisions(ctx: &Ctx, cmd: RevisionsCommand) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    if matches!(
        cmd,
        RevisionsCommand::List { .. } | RevisionsCommand::Show { .. }
    ) {
        records.load()?;
    }
    let dir = DeploymentRecords::new(&records);
    match cmd {
        RevisionsCommand::List { deployment, all } => list(&dir, &env, deployment, all),
        RevisionsCommand::Show {
            revision,
            deployment,
        } => show(&dir, &revision, deployment),
        RevisionsCommand::Drain(a) => transition(ctx, a, RevState::Draining),
        RevisionsCommand::Archive(a) => transition(ctx, a, RevState::Archived),
        RevisionsCommand::ScaleDown => scale_down(ctx, &env),
    }
}

/// `envpack revisions scale-down`.
fn scale_down(ctx: &Ctx, env: &EnvName) -> Result<Report> {
    let plan = || {
        let records = EnvRecords::new(&ctx.home, env);
        let (meta, _) = records.load()?;
        let now = std::time::SystemTime::now();
        let mut plan = Plan::new("revision.scale-down", env, env.to_string());
        for d in DeploymentRecords::new(&records).all()? {
            for r in retention::due(&d, &meta.retention, now) {
                plan = plan.change(
                    format!("{} {}", r.deployment, r.revision),
                    format!("ready (at 0% since {})", r.since),
                    "inactive",
                );
            }
        }
        Ok(plan)
    };
    if let Some(report) = ctx.plan_first(env, plan)? {
        return Ok(report);
    }
    let stopped = retention::scale_down(&ctx.home, ctx.runtime()?, env)?;
    Ok(Report::new(stopped_text(env, &stopped), &stopped))
}

/// What a sweep stopped, for people.
pub(crate) fn stopped_text(env: &EnvName, stopped: &[retention::Retired]) -> String {
    if stopped.is_empty() {
        return format!("nothing in {env} is past its scale-down delay");
    }
    stopped
        .iter()
        .map(|r| {
            format!(
                "stopped {} of {} (at 0% since {}, past the scale-down delay)",
                r.revision, r.deployment, r.since
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Answers for `envpack revisions drain` and `archive`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TransitionAnswers {
    /// The environment (default: --env).
    pub env: Option<String>,
    /// The deployment (default: the only one).
    pub deployment: Option<String>,
    /// Revision id or unique prefix.
    pub revision: String,
}

fn transition(ctx: &Ctx, a: TransitionArgs, to: RevState) -> Result<Report> {
    let (env, deployment, revision) = match input::<TransitionAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (env_or(ctx, x.env)?, x.deployment, x.revision),
        Input::Flags => (
            ctx.env_name()?,
            a.deployment,
            a.revision.ok_or_else(|| missing("REVISION"))?,
        ),
    };
    let opts = TransitionOptions {
        deployment: deployment.as_deref(),
        revision: &revision,
        to,
    };
    let plan = || deploy::plan::transition(&ctx.home, &env, &opts);
    if let Some(report) = ctx.plan_first(&env, plan)? {
        return Ok(report);
    }
    let r = deploy::transition(&ctx.home, ctx.runtime()?, &env, &opts)?;
    Ok(Report::new(
        format!("revision {} is now {}", r.id, r.state),
        &r,
    ))
}

/// A revision's recorded lifecycle with what was observed of it:
/// `ready (observed: exited, 2m ago)`, `ready (stopped by env down)`.
fn lifecycle(d: &Deployment, r: &Revision, seen: Option<&LastSeen>) -> String {
    let running = matches!(r.state, RevState::Ready | RevState::Warming);
    if running && d.stopped.contains(&r.id) {
        return format!("{} (stopped by env down)", r.state);
    }
    match seen {
        Some(seen) if running || seen.states.contains_key(&r.id) => {
            format!("{} (observed: {})", r.state, seen.describe(&r.id))
        }
        _ => r.state.to_string(),
    }
}

/// `envpack revisions list`.
fn list(
    dir: &DeploymentRecords,
    env: &EnvName,
    deployment: Option<String>,
    all: bool,
) -> Result<Report> {
    let mut deps: Vec<Deployment> = match deployment {
        Some(d) => vec![dir.find(Some(&d))?.into_inner()],
        None => dir.all()?.into_iter().map(|d| d.into_inner()).collect(),
    };
    if !all {
        for d in &mut deps {
            d.revisions.retain(|r| r.state != RevState::Archived);
        }
    }
    let seen = truth::last_seen(dir.env())?;
    let (rows, wide_rows) = rows_of(&deps, seen.as_ref());
    let names = deps
        .iter()
        .flat_map(|d| d.revisions.iter().map(|r| r.id.clone()))
        .collect();
    let columns = [
        "deployment",
        "revision",
        "seq",
        "version",
        "state",
        "traffic",
        "bundle",
    ];
    let human = if rows.is_empty() {
        format!("no revisions in {env}")
    } else {
        table(&columns, rows)
    };
    let wide_columns: Vec<&str> = columns
        .iter()
        .copied()
        .chain(["source", "endpoint", "created", "reason"])
        .collect();
    let wide = table(&wide_columns, wide_rows);
    let json: Vec<serde_json::Value> = deps.iter().map(|d| json_of(d, seen.as_ref())).collect();
    Ok(Report::new(human, &json).with_names(names).with_wide(wide))
}

/// The table rows of the revisions, and the wide ones (every column).
fn rows_of(deps: &[Deployment], seen: Option<&LastSeen>) -> (Vec<Vec<String>>, Vec<Vec<String>>) {
    let (mut rows, mut wide) = (Vec::new(), Vec::new());
    for d in deps {
        for r in &d.revisions {
            let row = vec![
                d.name.clone(),
                r.id.clone(),
                r.sequence.to_string(),
                r.version.clone(),
                lifecycle(d, r, seen),
                crate::types::percent(d.weight_of(&r.id)),
            ];
            let mut w = row.clone();
            w.extend([
                r.bundle_id.to_string(),
                r.source.as_str().to_string(),
                r.endpoint.clone().unwrap_or_else(|| "-".into()),
                r.created.clone(),
                r.reason.clone().unwrap_or_else(|| "-".into()),
            ]);
            let mut short = row;
            short.push(format!("sha256:{}", r.bundle_id.short()));
            rows.push(short);
            wide.push(w);
        }
    }
    (rows, wide)
}

/// A deployment as recorded, each revision with its traffic, and what the
/// newest snapshot saw.
fn json_of(d: &Deployment, seen: Option<&LastSeen>) -> serde_json::Value {
    let mut v = serde_json::to_value(d).unwrap_or_default();
    if let Some(revs) = v.get_mut("revisions").and_then(|r| r.as_array_mut()) {
        for r in revs {
            let id = r["id"].as_str().unwrap_or_default().to_string();
            let bps = d.weight_of(&id);
            r["basis_points"] = json!(bps);
            r["traffic"] = json!(crate::types::percent(bps));
        }
    }
    if let (Some(obj), Some(seen)) = (v.as_object_mut(), seen) {
        obj.insert("observed".into(), json!(seen));
    }
    v
}

/// `envpack revisions show`.
fn show(dir: &DeploymentRecords, revision: &str, deployment: Option<String>) -> Result<Report> {
    let d = dir.find(deployment.as_deref())?;
    let r = d.revision(dir.name(), revision)?.clone();
    let seen = truth::last_seen(dir.env())?;
    let mut human = format!(
        "revision {} of {} (#{})\n  state     {}\n  version   {}\n  bundle    {}\n  traffic   {}\n  created   {}\n  updated   {}",
        r.id,
        d.name,
        r.sequence,
        lifecycle(&d, &r, seen.as_ref()),
        r.version,
        r.bundle_id,
        crate::types::percent(d.weight_of(&r.id)),
        r.created,
        r.updated
    );
    if let Some(e) = &r.endpoint {
        human.push_str(&format!("\n  endpoint  {e}"));
    }
    if let Some(why) = &r.reason {
        human.push_str(&format!("\n  reason    {why}"));
    }
    let observed = seen
        .as_ref()
        .map(|s| json!({"state": s.states.get(&r.id), "at": s.at, "unobservable": s.unobservable}));
    Ok(Report::new(
        human,
        &json!({"deployment": d.name, "revision": r, "basis_points": d.weight_of(&r.id),
                "stopped": d.stopped.contains(&r.id), "observed": observed}),
    ))
}

/// After a change that succeeded: the revisions of `env` past their
/// scale-down delay are stopped, and `report` says which (or warns).
pub(crate) fn then_scale_down(ctx: &Ctx, env: &EnvName, mut report: Report) -> Result<Report> {
    let (stopped, warnings) = retention::after_change(&ctx.home, ctx.runtime()?, env);
    if !stopped.is_empty() {
        report.human.push('\n');
        report.human.push_str(&stopped_text(env, &stopped));
    }
    for w in &warnings {
        report.human.push_str(&format!("\nwarning: {w}"));
    }
    if let Some(obj) = report.json.as_object_mut() {
        obj.insert("scaled_down".into(), json!(stopped));
    }
    Ok(report)
}
