//! `envpack traffic show | set`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::answers::{Input, env_or, input, missing, split};
use crate::cli::Ctx;
use crate::cli::args::TrafficCommand;
use crate::cli::output::{Report, with_warnings};
use crate::deploy::{self, DeploymentRecords, TrafficOptions};
use crate::env::EnvRecords;
use crate::error::Result;

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

/// `envpack traffic ...`.
pub fn traffic(ctx: &Ctx, cmd: TrafficCommand) -> Result<Report> {
    match cmd {
        TrafficCommand::Show {
            deployment,
            deployment_flag,
        } => {
            let deployment = deployment.or(deployment_flag);
            let env = ctx.env_name()?;
            let records = EnvRecords::new(&ctx.home, &env);
            records.load()?;
            let d = DeploymentRecords::new(&records).find(deployment.as_deref())?;
            Ok(Report::new(
                format!(
                    "{} generation {}: {}",
                    d.name,
                    d.generation,
                    split(&d.weights)
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
                Input::Flags => {
                    // With --deployment, the first positional is an entry.
                    let (deployment, weights) = match a.deployment_flag {
                        Some(d) => (d, a.deployment.into_iter().chain(a.weights).collect()),
                        None => (
                            a.deployment.ok_or_else(|| missing("DEPLOYMENT"))?,
                            a.weights,
                        ),
                    };
                    (ctx.env_name()?, deployment, weights, a.idempotency_key)
                }
            };
            if weights.is_empty() {
                return Err(missing("REVISION=WEIGHT entries"));
            }
            let plan = || deploy::plan::traffic(&ctx.home, &env, Some(&deployment), &weights);
            if let Some(report) = ctx.plan_first(&env, plan)? {
                return Ok(report);
            }
            let opts = TrafficOptions {
                deployment: Some(&deployment),
                entries: &weights,
                idempotency_key: key.as_deref(),
            };
            let out = deploy::set_traffic(&ctx.home, ctx.runtime()?, &env, &opts)?;
            let human = format!(
                "{} {} generation {}: {}",
                out.outcome,
                out.deployment,
                out.generation,
                split(&out.weights)
            );
            let report = Report::new(with_warnings(human, &out.warnings), &out);
            super::revisions::then_scale_down(ctx, &env, report)
        }
    }
}
