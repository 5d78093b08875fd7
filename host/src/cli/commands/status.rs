//! `envpack status [--all]` and `envpack drift --all`.

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::output::{Report, table};
use crate::env::EnvName;
use crate::error::Result;
use crate::truth::{self, DeploymentStatus, DriftState};

/// The environments a command covers: every one in ladder order, or the
/// one `--env` names.
fn environments(ctx: &Ctx, all: bool) -> Result<Vec<EnvName>> {
    if all {
        truth::ladder_order(&ctx.home)
    } else {
        Ok(vec![ctx.env_name()?])
    }
}

/// Environments that could not be reported, and why.
type Failures = Vec<(EnvName, String)>;

/// Every environment's status; one that cannot be read is reported, not
/// fatal, under `--all`.
fn collect(ctx: &Ctx, all: bool) -> Result<(Vec<DeploymentStatus>, Failures)> {
    let runtime = ctx.runtime()?;
    let (mut ok, mut failed) = (Vec::new(), Vec::new());
    for env in environments(ctx, all)? {
        match truth::status(&ctx.home, runtime, &env) {
            Ok(mut s) => ok.append(&mut s),
            Err(e) if all => failed.push((env, e.message().to_string())),
            Err(e) => return Err(e),
        }
    }
    Ok((ok, failed))
}

/// How long `status --watch` waits for a change before waiting again.
const WATCH_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// `envpack status --watch`: the status, then again after every change to
/// the environments' records (woken by the backend: a notification on
/// PostgreSQL), until interrupted.
pub fn watch(ctx: &Ctx, all: bool) -> Result<Report> {
    let backend = crate::backend::open(&ctx.home);
    let format = if ctx.json {
        crate::cli::output::Format::Json
    } else {
        crate::cli::output::Format::Human
    };
    loop {
        // Tokens first: a change while the status is computed shows next.
        let mut since = Vec::new();
        for env in environments(ctx, all)? {
            let token = backend.change_token(&env)?;
            since.push((env, token));
        }
        let report = run(ctx, all)?;
        if !ctx.json {
            println!(
                "-- {} (envpack status --watch; Ctrl-C stops)",
                crate::store::now_rfc3339()
            );
        }
        crate::cli::output::print_ok(&report, format, false);
        while !backend.wait_changes(&since, WATCH_WAIT)? {}
    }
}

/// `envpack status`.
pub fn run(ctx: &Ctx, all: bool) -> Result<Report> {
    let (deployments, failed) = collect(ctx, all)?;
    let mut rows = Vec::new();
    for d in &deployments {
        for r in &d.revisions {
            rows.push(vec![
                d.environment.to_string(),
                d.deployment.clone(),
                r.revision.clone(),
                r.version.clone(),
                crate::types::percent(r.basis_points),
                r.lifecycle.to_string(),
                r.observed.clone(),
                r.health.clone().unwrap_or_else(|| "-".into()),
                r.endpoint.clone().unwrap_or_else(|| "-".into()),
                d.drift.label().to_string(),
                truth::age(&r.created).trim_end_matches(" ago").to_string(),
            ]);
        }
    }
    let mut human = if rows.is_empty() {
        "no deployments".to_string()
    } else {
        table(
            &[
                "env",
                "deployment",
                "revision",
                "version",
                "traffic",
                "lifecycle",
                "observed",
                "health",
                "endpoint",
                "drift",
                "age",
            ],
            rows,
        )
    };
    for (env, why) in &failed {
        human.push_str(&format!("\n{env}: cannot report: {why}"));
    }
    let failed: Vec<_> = failed
        .iter()
        .map(|(e, why)| json!({"environment": e, "error": why}))
        .collect();
    Ok(Report::new(
        human,
        &json!({"deployments": deployments, "failed": failed}),
    ))
}

/// `envpack drift --all`: environments (columns, ladder order) x
/// deployments (rows), one drift state per cell; exit 2 when any cell
/// drifted.
pub fn drift_matrix(ctx: &Ctx) -> Result<Report> {
    let (deployments, failed) = collect(ctx, true)?;
    let mut envs: Vec<EnvName> = truth::ladder_order(&ctx.home)?;
    envs.retain(|e| {
        deployments.iter().any(|d| &d.environment == e) || failed.iter().any(|f| &f.0 == e)
    });
    let mut names: Vec<String> = deployments.iter().map(|d| d.deployment.clone()).collect();
    names.sort();
    names.dedup();
    let cell = |env: &EnvName, name: &str| -> String {
        if let Some((_, why)) = failed.iter().find(|f| &f.0 == env) {
            return format!("error: {why}");
        }
        deployments
            .iter()
            .find(|d| &d.environment == env && d.deployment == name)
            .map_or("-".to_string(), |d| d.drift.label().to_string())
    };
    let mut header = vec!["deployment".to_string()];
    header.extend(envs.iter().map(ToString::to_string));
    let rows = names
        .iter()
        .map(|n| {
            let mut row = vec![n.clone()];
            row.extend(envs.iter().map(|e| cell(e, n)));
            row
        })
        .collect();
    let header: Vec<&str> = header.iter().map(String::as_str).collect();
    let drifted = deployments.iter().any(|d| d.drift == DriftState::Drifted);
    let matrix: Vec<_> = deployments
        .iter()
        .map(
            |d| json!({"environment": d.environment, "deployment": d.deployment, "state": d.drift}),
        )
        .collect();
    let report = Report::new(
        if names.is_empty() {
            "no deployments".to_string()
        } else {
            table(&header, rows)
        },
        &json!({"cells": matrix, "failed": failed.iter().map(|(e, w)| json!({"environment": e, "error": w})).collect::<Vec<_>>()}),
    );
    Ok(if drifted { report.exit_with(2) } else { report })
}
