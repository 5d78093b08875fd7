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
    let (report, outcome) = deploy::promote(&ctx.home, ctx.runtime()?, &bundle_id, &to, a.timeout)?;
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
