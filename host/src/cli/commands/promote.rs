//! `envpack promote`.

use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::json;

use super::answers::{Input, input, missing};
use crate::cli::Ctx;
use crate::cli::args::PromoteArgs;
use crate::cli::output::Report;
use crate::deploy;
use crate::env::EnvName;
use crate::env::plan::Plan;
use crate::error::Result;

/// Answers for `envpack promote`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PromoteAnswers {
    /// The bundle id or a unique hex prefix.
    pub bundle_id: String,
    /// The environment to promote into.
    pub to: String,
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
    let run = |dry_run| {
        deploy::promote(
            &ctx.home,
            ctx.runtime()?,
            &bundle_id,
            &to,
            a.timeout,
            dry_run,
        )
    };
    let plan = || {
        let (report, outcome) = run(true)?;
        let mut plan = Plan::new(
            "promote",
            &to,
            format!("{} {}", report.name, report.version),
        )
        .change("bundle", "-", report.bundle.to_string())
        .change(
            "from",
            "-",
            format!("{} revision {}", report.from, report.from_revision),
        )
        .change("policy", "-", report.policy.reason.clone());
        if let Some(o) = &outcome {
            plan = plan.change(
                format!("deployment {}", o.deployment),
                "-",
                o.plan.summary.clone(),
            );
        }
        Ok(plan)
    };
    if let Some(report) = ctx.dry_run_report(&plan)? {
        return Ok(report);
    }
    ctx.confirm(&to, "promote", &bundle_id, || plan().map(|p| p.human()))?;
    let (report, outcome) = run(false)?;
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
