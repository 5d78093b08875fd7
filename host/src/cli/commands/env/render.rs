//! `envpack env render ENV [--deployment D]`

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::output::Report;
use crate::deploy::render;
use crate::error::Result;

pub(super) fn run(ctx: &Ctx, n: Option<String>, deployment: Option<&str>) -> Result<Report> {
    let env = ctx.env_or_positional(n)?;
    let manifests = render::render(&ctx.home, &env, deployment)?;
    let text = render::yaml_stream(&manifests);
    if manifests.is_empty() {
        eprintln!(
            "note: no revision of {env} has a manifest in its plan (nothing is deployed, or its deployer's plans carry none)"
        );
    }
    Ok(Report::new(
        text,
        &json!({"environment": env, "manifests": manifests}),
    ))
}
