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
    if a.report_schema {
        return Ok(report_schema());
    }
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
        let observe = |env: &EnvName| {
            crate::truth::promotion::source_observation(&ctx.home, ctx.runtime()?, env, dry_run)
        };
        let opts = deploy::PromoteOptions {
            bundle_id: &bundle_id,
            to: &to,
            timeout: a.timeout,
            dry_run,
            observe: &observe,
        };
        deploy::promote(&ctx.home, ctx.runtime()?, &opts)
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
        for c in report.gate.iter().flat_map(|g| g.checks.iter()) {
            plan = plan.change(
                format!("gate {}", c.check),
                "-",
                format!("passes: {}", c.detail),
            );
        }
        if let Some(o) = &outcome {
            plan = plan.change(
                format!("deployment {}", o.deployment),
                "-",
                o.plan.summary.clone(),
            );
        }
        Ok(plan)
    };
    if let Some(report) = ctx.dry_run_report(plan)? {
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
    let out = Report::new(human, &json!({"report": report, "deploy": outcome}));
    super::revisions::then_scale_down(ctx, &to, out)
}

/// `promote --report-schema`: the promotion report's JSON schema.
fn report_schema() -> Report {
    let schema =
        serde_json::to_value(schemars::schema_for!(deploy::PromotionReport)).unwrap_or_default();
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    Report::raw(text, schema, 0)
}
