//! `envpack rollback`.

use schemars::JsonSchema;
use serde::Deserialize;

use super::answers::{Input, env_or, input, split};
use crate::cli::Ctx;
use crate::cli::args::RollbackArgs;
use crate::cli::output::{Report, with_warnings};
use crate::deploy::{self, RollbackOptions};
use crate::error::Result;

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

/// `envpack rollback`.
pub fn rollback(ctx: &Ctx, a: RollbackArgs) -> Result<Report> {
    let (env, deployment, to, steps) = match input::<RollbackAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (env_or(ctx, x.env)?, x.deployment, x.to, x.steps),
        Input::Flags => (ctx.env_name()?, a.deployment, a.to, a.steps),
    };
    let opts = RollbackOptions {
        deployment: deployment.as_deref(),
        to: to.as_deref(),
        steps: steps.unwrap_or(1),
        timeout: a.timeout,
    };
    if let Some(report) = ctx.plan_first(&env, || deploy::plan::rollback(&ctx.home, &env, &opts))? {
        return Ok(report);
    }
    let out = deploy::rollback(&ctx.home, ctx.runtime()?, &env, &opts)?;
    let human = format!(
        "rolled {} back: generation {} now routes {}",
        out.deployment,
        out.traffic.generation,
        split(&out.traffic.weights)
    );
    let report = Report::new(with_warnings(human, &out.traffic.warnings), &out);
    super::revisions::then_scale_down(ctx, &env, report)
}
