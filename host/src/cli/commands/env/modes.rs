//! `envpack env mode|status|validate|reset`: the one-command lifecycle of
//! an environment in any mode (seed 003), delegated to its deployer.

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::output::{Report, table};
use crate::env::{self, EnvName, Mode};
use crate::error::{Error, Result};

/// What `env init` adds when it left the deployer slot empty: the binding
/// the mode needs.
pub(super) fn deployer_next_step(env: &EnvName, mode: &Mode) -> String {
    let how = match mode.known() {
        Some(k) if k.grants.contains('<') => {
            "with the API server and the secret it may use (see docs/operator-guide.md, modes)"
        }
        _ => "with the grants it asks for",
    };
    format!(
        "\n\nmode {mode} needs its deployer bound, {how}:\n  {}",
        env::mode::bind_command(env.as_str(), mode)
    )
}

/// `env mode E [MODE]`.
pub(super) fn mode(ctx: &Ctx, n: &str, new: Option<Mode>) -> Result<Report> {
    let n = ctx.env_or_positional(Some(n.to_string()))?;
    let have = env::show(&ctx.home, &n)?.meta.mode;
    let Some(new) = new else {
        let purpose = have
            .known()
            .map_or("a mode served by a deployer pack", |k| k.purpose);
        return Ok(Report::new(
            format!("{n} runs in mode {have}: {purpose}"),
            &json!({ "environment": n, "mode": have, "target": have.target() }),
        )
        .with_names(vec![have.to_string()]));
    };
    if let Some(report) = ctx.plan_first(&n, || {
        Ok(env::plan::Plan::new("env.mode", &n, n.to_string()).change(
            "mode",
            have.to_string(),
            new.to_string(),
        ))
    })? {
        return Ok(report);
    }
    let now = env::set_mode(&ctx.home, &n, new)?;
    let mut human = if now == have {
        format!("{n} already runs in mode {now}")
    } else {
        format!("{n} now runs in mode {now} (was {have})")
    };
    let served = env::show(&ctx.home, &n)?
        .lock
        .slots
        .get(&envpack_descriptor::Slot::Deployer)
        .map(|b| b.descriptor.to_string());
    if now != have {
        human.push_str(&match served {
            Some(d) => format!("\ncheck that its deployer {d} serves it: envpack env validate {n}"),
            None => deployer_next_step(&n, &now),
        });
    }
    Ok(Report::new(
        human,
        &json!({ "environment": n, "mode": now, "was": have }),
    ))
}

/// `env status E`: mode, target and every deployment's revisions with
/// their traffic, health and endpoints.
pub(super) fn status(ctx: &Ctx, n: Option<String>) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    let view = env::show(&ctx.home, &n)?;
    let mode = view.meta.mode.clone();
    let deployer = view
        .lock
        .slots
        .get(&envpack_descriptor::Slot::Deployer)
        .map(|b| b.descriptor.to_string());
    let deployments = match &deployer {
        Some(_) => crate::truth::status(&ctx.home, ctx.runtime()?, &n)?,
        None => Vec::new(),
    };
    let after = view.meta.policy.after.as_ref().map(ToString::to_string);
    let mut human = format!(
        "environment {n}\n  mode      {mode}\n  deployer  {}\n  after     {}\n",
        deployer.clone().unwrap_or_else(|| "- (none bound)".into()),
        after.clone().unwrap_or_else(|| "-".into()),
    );
    let rows: Vec<Vec<String>> = deployments
        .iter()
        .flat_map(|d| {
            d.revisions.iter().map(move |r| {
                vec![
                    d.deployment.clone(),
                    r.revision.clone(),
                    r.version.clone(),
                    crate::types::percent(r.basis_points),
                    r.health.clone().unwrap_or_else(|| "-".into()),
                    r.endpoint.clone().unwrap_or_else(|| "-".into()),
                    d.drift.label().to_string(),
                ]
            })
        })
        .collect();
    if rows.is_empty() {
        human.push_str("\nno deployments");
    } else {
        human.push('\n');
        human.push_str(&table(
            &[
                "deployment",
                "revision",
                "version",
                "traffic",
                "health",
                "endpoint",
                "drift",
            ],
            rows,
        ));
    }
    if deployer.is_none() {
        human.push_str(&deployer_next_step(&n, &mode));
    }
    Ok(Report::new(
        human.trim_end().to_string(),
        &json!({
            "environment": n,
            "mode": mode,
            "deployer": deployer,
            "after": after,
            "deployments": deployments,
        }),
    ))
}

/// `env validate E`: exits 10 (checks failed) when any check fails.
pub(super) fn validate(ctx: &Ctx, n: Option<String>) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    let report = crate::truth::validate(&ctx.home, ctx.runtime()?, &n)?;
    let rows = report
        .checks
        .iter()
        .map(|c| {
            vec![
                if c.ok { "ok" } else { "FAIL" }.to_string(),
                c.name.clone(),
                c.detail.clone(),
                c.fix.clone().unwrap_or_default(),
            ]
        })
        .collect();
    let human = format!(
        "environment {n} (mode {}, target {})\n{}",
        report.mode,
        report.target,
        table(&["", "check", "detail", "fix"], rows)
    );
    if let Err(e) = report.check() {
        eprintln!("{}", human.trim_end());
        return Err(e);
    }
    Ok(Report::new(
        format!(
            "{}\nenvironment {n} is ready ({} check(s) passed)",
            human.trim_end(),
            report.checks.len()
        ),
        &report,
    ))
}

/// `env reset E`: down, then up, from the records.
pub(super) fn reset(
    ctx: &Ctx,
    n: Option<String>,
    timeout: Option<std::time::Duration>,
) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    if let Some(report) = ctx.plan_first(&n, || {
        let down = crate::deploy::plan::down(&ctx.home, &n)?;
        let up = crate::deploy::plan::up(&ctx.home, &n)?;
        let mut plan = env::plan::Plan::new("env.reset", &n, n.to_string());
        plan.changes = down.changes.into_iter().chain(up.changes).collect();
        Ok(plan)
    })? {
        return Ok(report);
    }
    let o = crate::deploy::reset(&ctx.home, ctx.runtime()?, &n, timeout)?;
    let mut human = format!(
        "reset {n}: recreated {} revision(s) from its records",
        o.revisions.len()
    );
    for (r, why) in &o.failed {
        human.push_str(&format!("\n  {r} failed: {why}"));
    }
    if !o.failed.is_empty() {
        return Err(Error::unavailable(human)
            .hint(format!("envpack env validate {n}"))
            .with_details(serde_json::to_value(&o).unwrap_or_default()));
    }
    Ok(Report::new(human, &o))
}
