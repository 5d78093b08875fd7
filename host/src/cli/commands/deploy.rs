//! `envpack deploy | revisions | traffic | promote | rollback | audit | history`.
//!
//! Every verb takes its input from flags or from a JSON answers file
//! (`--answers FILE`); `--schema` prints that file's JSON schema, generated
//! from the answer types below.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::TransitionArgs;
use crate::cli::args::{
    AnswersArgs, DeployArgs, JournalArgs, PromoteArgs, RevisionsCommand, RollbackArgs,
    TrafficCommand,
};
use crate::cli::output::{Report, table};
use crate::deploy::journal;
use crate::deploy::model::RevState;
use crate::deploy::ops;
use crate::env::{EnvDir, EnvName};
use crate::error::{Error, Result};

/// Answers for `envpack deploy`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployAnswers {
    /// The environment (default: --env).
    pub env: Option<String>,
    /// The bundle file.
    pub bundle: PathBuf,
    /// Plan and show, change nothing.
    #[serde(default)]
    pub dry_run: bool,
}

/// Answers for `envpack traffic set`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TrafficAnswers {
    /// The environment (default: --env).
    pub env: Option<String>,
    /// The deployment.
    pub deployment: String,
    /// `REVISION=WEIGHT` entries: `99%`, `0.5%` or `9900bps`.
    pub weights: Vec<String>,
    /// Makes retries safe.
    pub idempotency_key: Option<String>,
}

/// Answers for `envpack promote`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteAnswers {
    /// The bundle id or a unique hex prefix.
    pub bundle_id: String,
    /// The environment to promote into.
    pub to: String,
}

/// Answers for `envpack rollback`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackAnswers {
    /// The environment (default: --env).
    pub env: Option<String>,
    /// The deployment (default: the only one).
    pub deployment: Option<String>,
    /// Route 100% to this revision.
    pub to: Option<String>,
    /// How many traffic changes to go back.
    pub steps: Option<usize>,
}

/// Either the schema to print, the answers read from the file, or nothing
/// (flags are used).
pub(crate) enum Input<T> {
    Schema(Report),
    Answers(T),
    Flags,
}

pub(crate) fn input<T: DeserializeOwned + JsonSchema>(a: &AnswersArgs) -> Result<Input<T>> {
    if a.schema {
        let schema = schemars::schema_for!(T);
        let value = serde_json::to_value(&schema).unwrap_or_default();
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        return Ok(Input::Schema(Report {
            human: text,
            json: value,
        }));
    }
    match &a.answers {
        None => Ok(Input::Flags),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io("read answers file", path, e))?;
            serde_json::from_slice(&bytes)
                .map(Input::Answers)
                .map_err(|e| {
                    Error::invalid(format!(
                        "answers file {} does not fit the schema: {e}",
                        path.display()
                    ))
                    .hint("print the expected shape with --schema")
                })
        }
    }
}

fn env_or(ctx: &Ctx, env: Option<String>) -> Result<EnvName> {
    match env {
        Some(e) => e.parse(),
        None => ctx.env_name(),
    }
}

pub(crate) fn missing(what: &str) -> Error {
    Error::invalid(format!("missing {what}")).hint("give it as an argument or in --answers FILE")
}

/// `envpack deploy`.
pub fn deploy(ctx: &Ctx, a: DeployArgs) -> Result<Report> {
    let (env, bundle, dry_run) = match input::<DeployAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (env_or(ctx, x.env)?, x.bundle, x.dry_run || a.dry_run),
        Input::Flags => (
            ctx.env_name()?,
            a.bundle.ok_or_else(|| missing("BUNDLE"))?,
            a.dry_run,
        ),
    };
    let progress =
        crate::cli::progress::spinner(format!("deploying {} to {env}", bundle.display()));
    let out = ops::deploy(&ctx.home, ctx.runtime()?, &env, &bundle, dry_run);
    progress.finish_and_clear();
    let out = out?;
    let mut human = format!(
        "plan for {} in {}: {}\n",
        out.deployment, out.environment, out.plan.summary
    );
    for s in &out.plan.steps {
        human.push_str(&format!("  {:?} {}  {}\n", s.change, s.resource, s.summary).to_lowercase());
    }
    if out.dry_run {
        human.push_str("dry run: nothing was changed");
    } else {
        let split: Vec<String> = out
            .weights
            .iter()
            .map(|w| format!("{}={}bps", w.revision, w.basis_points))
            .collect();
        human.push_str(&format!(
            "revision {} (#{}) is {}\ntraffic: {}",
            out.revision.id,
            out.revision.sequence,
            out.revision.state,
            split.join(" ")
        ));
    }
    Ok(Report::new(human, &out))
}

/// `envpack revisions ...`.
pub fn revisions(ctx: &Ctx, cmd: RevisionsCommand) -> Result<Report> {
    let env = ctx.env_name()?;
    let dir = EnvDir::new(&ctx.home, &env);
    if matches!(
        cmd,
        RevisionsCommand::List { .. } | RevisionsCommand::Show { .. }
    ) {
        crate::env::ops_load(&dir)?;
    }
    match cmd {
        RevisionsCommand::List { deployment } => {
            let deps = match deployment {
                Some(d) => vec![ops::pick(&dir, Some(&d))?],
                None => ops::deployments(&dir)?,
            };
            let mut rows = Vec::new();
            for d in &deps {
                for r in &d.revisions {
                    rows.push(vec![
                        d.name.clone(),
                        r.id.clone(),
                        r.sequence.to_string(),
                        r.version.clone(),
                        r.state.to_string(),
                        format!("{}%", f64::from(d.weight_of(&r.id)) / 100.0),
                        format!("sha256:{}", r.bundle_id.short()),
                    ]);
                }
            }
            let human = if rows.is_empty() {
                format!("no revisions in {env}")
            } else {
                table(
                    &[
                        "deployment",
                        "revision",
                        "seq",
                        "version",
                        "state",
                        "traffic",
                        "bundle",
                    ],
                    rows,
                )
            };
            Ok(Report::new(human, &deps))
        }
        RevisionsCommand::Show {
            revision,
            deployment,
        } => {
            let d = ops::pick(&dir, deployment.as_deref())?;
            let r = d.revision(&revision)?.clone();
            let mut human = format!(
                "revision {} of {} (#{})\n  state     {}\n  version   {}\n  bundle    {}\n  traffic   {}bps\n  created   {}\n  updated   {}",
                r.id,
                d.name,
                r.sequence,
                r.state,
                r.version,
                r.bundle_id,
                d.weight_of(&r.id),
                r.created,
                r.updated
            );
            if let Some(e) = &r.endpoint {
                human.push_str(&format!("\n  endpoint  {e}"));
            }
            if let Some(why) = &r.reason {
                human.push_str(&format!("\n  reason    {why}"));
            }
            Ok(Report::new(
                human,
                &json!({"deployment": d.name, "revision": r, "basis_points": d.weight_of(&r.id)}),
            ))
        }
        RevisionsCommand::Drain(a) => transition(ctx, a, RevState::Draining),
        RevisionsCommand::Archive(a) => transition(ctx, a, RevState::Archived),
    }
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
    let r = ops::transition(
        &ctx.home,
        ctx.runtime()?,
        &env,
        deployment.as_deref(),
        &revision,
        to,
    )?;
    Ok(Report::new(
        format!("revision {} is now {}", r.id, r.state),
        &r,
    ))
}

/// `envpack traffic ...`.
pub fn traffic(ctx: &Ctx, cmd: TrafficCommand) -> Result<Report> {
    match cmd {
        TrafficCommand::Show { deployment } => {
            let env = ctx.env_name()?;
            let dir = EnvDir::new(&ctx.home, &env);
            crate::env::ops_load(&dir)?;
            let d = ops::pick(&dir, deployment.as_deref())?;
            let split: Vec<String> = d
                .weights
                .iter()
                .map(|w| format!("{}={}bps", w.revision, w.basis_points))
                .collect();
            Ok(Report::new(
                format!(
                    "{} generation {}: {}",
                    d.name,
                    d.generation,
                    split.join(" ")
                ),
                &json!({"deployment": d.name, "generation": d.generation, "weights": d.weights}),
            ))
        }
        TrafficCommand::Set(a) => {
            let (env, deployment, weights, key) = match input::<TrafficAnswers>(&a.answers)? {
                Input::Schema(r) => return Ok(r),
                Input::Answers(x) => (
                    env_or(ctx, x.env)?,
                    x.deployment,
                    x.weights,
                    x.idempotency_key,
                ),
                Input::Flags => (
                    ctx.env_name()?,
                    a.deployment.ok_or_else(|| missing("DEPLOYMENT"))?,
                    a.weights,
                    a.idempotency_key,
                ),
            };
            if weights.is_empty() {
                return Err(missing("REVISION=WEIGHT entries"));
            }
            let out = ops::set_traffic(
                &ctx.home,
                ctx.runtime()?,
                &env,
                Some(&deployment),
                &weights,
                key.as_deref(),
            )?;
            let split: Vec<String> = out
                .weights
                .iter()
                .map(|w| format!("{}={}bps", w.revision, w.basis_points))
                .collect();
            Ok(Report::new(
                format!(
                    "{} {} generation {}: {}",
                    out.outcome,
                    out.deployment,
                    out.generation,
                    split.join(" ")
                ),
                &out,
            ))
        }
    }
}

/// `envpack promote`.
pub fn promote(ctx: &Ctx, a: PromoteArgs) -> Result<Report> {
    let (bundle_id, to) = match input::<PromoteAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (x.bundle_id, x.to),
        Input::Flags => (
            a.bundle_id.ok_or_else(|| missing("BUNDLE_ID"))?,
            a.to.ok_or_else(|| missing("--to"))?,
        ),
    };
    let to: EnvName = to.parse()?;
    let (report, outcome) = ops::promote(&ctx.home, ctx.runtime()?, &bundle_id, &to)?;
    let human = format!(
        "promoted {} {} ({}) from {} (revision {}) to {}{}",
        report.name,
        report.version,
        report.bundle,
        report.from,
        report.from_revision,
        report.to,
        outcome.as_ref().map_or(String::new(), |o| format!(
            " as revision {} ({})",
            o.revision.id, o.revision.state
        ))
    );
    Ok(Report::new(
        human,
        &json!({"report": report, "deploy": outcome}),
    ))
}

/// `envpack rollback`.
pub fn rollback(ctx: &Ctx, a: RollbackArgs) -> Result<Report> {
    let (env, deployment, to, steps) = match input::<RollbackAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (env_or(ctx, x.env)?, x.deployment, x.to, x.steps),
        Input::Flags => (ctx.env_name()?, a.deployment, a.to, a.steps),
    };
    let out = ops::rollback(
        &ctx.home,
        ctx.runtime()?,
        &env,
        deployment.as_deref(),
        to.as_deref(),
        steps.unwrap_or(1),
    )?;
    let split: Vec<String> = out
        .traffic
        .weights
        .iter()
        .map(|w| format!("{}={}bps", w.revision, w.basis_points))
        .collect();
    Ok(Report::new(
        format!(
            "rolled {} back: generation {} now routes {}",
            out.deployment,
            out.traffic.generation,
            split.join(" ")
        ),
        &out,
    ))
}

fn tail<T>(mut v: Vec<T>, last: Option<usize>) -> Vec<T> {
    if let Some(n) = last {
        let cut = v.len().saturating_sub(n);
        v.drain(..cut);
    }
    v
}

/// `envpack audit`.
pub fn audit(ctx: &Ctx, a: JournalArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let dir = EnvDir::new(&ctx.home, &env);
    crate::env::ops_load(&dir)?;
    let events = tail(journal::read_audit(&dir)?, a.last);
    let rows = events
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.actor.clone(),
                e.verb.clone(),
                e.target.clone(),
                match (e.before_generation, e.after_generation) {
                    (Some(b), Some(a)) => format!("{b}->{a}"),
                    _ => "-".into(),
                },
                e.result.clone(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(
            &["at", "actor", "verb", "target", "generation", "result"],
            rows,
        ),
        &events,
    ))
}

/// `envpack history`.
pub fn history(ctx: &Ctx, a: JournalArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let dir = EnvDir::new(&ctx.home, &env);
    crate::env::ops_load(&dir)?;
    let entries = tail(journal::read_history(&dir)?, a.last);
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.kind.clone(),
                e.deployment.clone(),
                e.generation.map_or("-".into(), |g| g.to_string()),
                e.summary.clone(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["at", "kind", "deployment", "generation", "summary"], rows),
        &entries,
    ))
}
