//! `envpack deploy`.

use std::path::PathBuf;

use schemars::JsonSchema;
use serde::Deserialize;

use super::answers::{Input, env_or, input, missing, split};
use crate::cli::Ctx;
use crate::cli::args::DeployArgs;
use crate::cli::output::Report;
use crate::deploy::{self, DeployOptions};
use crate::error::Result;

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

/// `envpack deploy`.
pub fn deploy(ctx: &Ctx, a: DeployArgs) -> Result<Report> {
    let (env, bundle, dry_run) = match input::<DeployAnswers>(&a.answers)? {
        Input::Schema(r) => return Ok(r),
        Input::Answers(x) => (env_or(ctx, x.env)?, x.bundle, x.dry_run || ctx.dry_run),
        Input::Flags => (
            ctx.env_name()?,
            a.bundle.ok_or_else(|| missing("BUNDLE"))?,
            ctx.dry_run,
        ),
    };
    // A bundle in a registry is pulled (verified) into a directory of its
    // own first, then deployed like the file it is.
    let (bundle, _pulled) = match bundle.to_str() {
        Some(r) if r.starts_with(crate::types::OCI_SCHEME) => {
            let dir = tempfile::tempdir().map_err(|e| {
                crate::error::Error::internal(format!("cannot make a temporary directory: {e}"))
            })?;
            let got = crate::registry::bundle::pull(
                &ctx.home,
                &r.parse()?,
                None,
                dir.path(),
                a.insecure,
            )?;
            let file = got.file.unwrap_or_default();
            (file, Some(dir))
        }
        _ => (bundle, None),
    };
    let runtime = ctx.runtime()?;
    if !dry_run {
        let plan = || {
            let opts = DeployOptions {
                bundle: &bundle,
                dry_run: true,
                timeout: a.timeout,
            };
            deploy::deploy(&ctx.home, runtime, &env, &opts).map(|p| plan_text(&p))
        };
        ctx.confirm(&env, "deploy", &bundle.display().to_string(), plan)?;
    }
    let deploying = runtime
        .reporter()
        .start(format!("deploying {} to {env}", bundle.display()));
    let opts = DeployOptions {
        bundle: &bundle,
        dry_run,
        timeout: a.timeout,
    };
    let out = deploy::deploy(&ctx.home, runtime, &env, &opts);
    drop(deploying);
    let out = out?;
    let mut human = plan_text(&out);
    if out.dry_run {
        human.push_str("dry run: nothing was changed");
    } else {
        human.push_str(&format!(
            "revision {} (#{}) is {}\ntraffic: {}",
            out.revision.id,
            out.revision.sequence,
            out.revision.state,
            split(&out.weights)
        ));
    }
    let report = Report::new(human, &out);
    if out.dry_run {
        return Ok(report);
    }
    super::revisions::then_scale_down(ctx, &env, report)
}

/// The deployer's plan for people.
fn plan_text(out: &deploy::DeployOutcome) -> String {
    let mut human = format!(
        "plan for {} in {}: {}\n",
        out.deployment, out.environment, out.plan.summary
    );
    for s in &out.plan.steps {
        human.push_str(&format!("  {:?} {}  {}\n", s.change, s.resource, s.summary).to_lowercase());
    }
    human
}
