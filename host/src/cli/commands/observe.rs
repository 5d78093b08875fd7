//! `envpack observe`, `envpack snapshots` and `envpack drift`: reality,
//! kept as snapshots and compared with what the environment expects.

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::{DriftCommand, SnapshotsCommand};
use crate::cli::output::{Report, table};
use crate::deploy::journal::{self, AuditEvent};
use crate::env::EnvRecords;
use crate::error::{Error, Kind, Result};
use crate::store::now_rfc3339;
use crate::truth::model::{Acceptance, DriftEntry, Observation, spans};
use crate::truth::{DriftState, ObserveOutcome, drift, observe, store};

/// The exit code of an outcome: 0 in sync or accepted, 2 drift; an
/// unobservable environment is an error (exit 1) carrying the outcome.
fn conclude(human: String, out: &ObserveOutcome) -> Result<Report> {
    if let Observation::Unobservable { reason } = &out.observation {
        return Err(Error::new(
            Kind::Unobservable,
            format!(
                "environment {} could not be observed: {reason}",
                out.environment
            ),
        )
        .hint(format!(
            "envpack observe --env {} -vv (shows what the deployer answered)",
            out.environment
        ))
        .with_details(serde_json::to_value(out).unwrap_or_default()));
    }
    let report = Report::new(human, out);
    Ok(match out.state {
        DriftState::Drifted => report.exit_with(2),
        _ => report,
    })
}

/// `envpack observe`.
pub fn run_observe(ctx: &Ctx) -> Result<Report> {
    let env = ctx.env_name()?;
    let out = observe(&ctx.home, ctx.runtime()?, &env)?;
    let human = format!(
        "observed {}: {} ({} revision(s)); snapshot {}{}",
        out.environment,
        out.state.label(),
        match &out.observation {
            Observation::Observed { revisions } => revisions.len(),
            Observation::Unobservable { .. } => 0,
        },
        out.snapshot.short(),
        if out.seen_before {
            " (seen before)"
        } else {
            ""
        }
    );
    conclude(human, &out)
}

fn render_drift(entries: &[DriftEntry], accepted: &[Acceptance]) -> String {
    table(
        &[
            "id",
            "kind",
            "between",
            "deployment",
            "revision",
            "field",
            "expected",
            "observed",
            "accepted",
        ],
        entries
            .iter()
            .map(|d| {
                vec![
                    d.id.clone(),
                    format!("{:?}", d.kind).to_lowercase(),
                    d.between.clone(),
                    d.deployment.clone(),
                    d.revision.clone(),
                    d.field.clone(),
                    d.expected.clone().unwrap_or_else(|| "-".into()),
                    d.observed.clone().unwrap_or_else(|| "-".into()),
                    if drift::is_accepted(d, accepted) {
                        "yes".into()
                    } else {
                        "-".into()
                    },
                ]
            })
            .collect(),
    )
}

/// `envpack drift [accept ...]`.
pub fn run_drift(ctx: &Ctx, command: Option<DriftCommand>) -> Result<Report> {
    if let Some(DriftCommand::Accept { entries, reason }) = command {
        return accept(ctx, &entries, &reason);
    }
    let env = ctx.env_name()?;
    let out = observe(&ctx.home, ctx.runtime()?, &env)?;
    let accepted = store::acceptances(&EnvRecords::new(&ctx.home, &env))?;
    let mut human = format!(
        "{}: {} (snapshot {})",
        out.environment,
        out.state.label(),
        out.snapshot.short()
    );
    if !out.drift.is_empty() {
        human.push_str(&format!("\n\n{}", render_drift(&out.drift, &accepted)));
    }
    if let Some(first) = out.drift.iter().find(|d| !drift::is_accepted(d, &accepted)) {
        human.push_str(&format!(
            "\n\nhelp: to record an entry as known: envpack drift accept {} --reason \"why it is acceptable\" --env {env}",
            first.id
        ));
    }
    conclude(human, &out)
}

/// `envpack drift accept`: each entry must be in the newest snapshot's
/// drift; the acceptance is audited.
fn accept(ctx: &Ctx, entries: &[String], reason: &str) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    records.load()?;
    if reason.trim().is_empty() {
        return Err(Error::invalid(
            "--reason is empty; say why the drift is acceptable",
        ));
    }
    let (sighting, snapshot) = store::latest(&records)?.ok_or_else(|| {
        Error::not_found(format!("environment {env} has not been observed yet"))
            .hint(format!("envpack drift --env {env}"))
    })?;
    let current = drift::compare(&snapshot.expectation, &snapshot.observation).unwrap_or_default();
    let found = entries
        .iter()
        .map(|id| {
            current.iter().find(|d| &d.id == id).ok_or_else(|| {
                Error::not_found(format!(
                    "drift entry {id:?} is not in the newest snapshot of {env} ({})",
                    sighting.id.short()
                ))
                .hint(format!("envpack drift --env {env}"))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let plan = || {
        let mut plan = crate::env::plan::Plan::new("drift.accept", &env, entries.join(" "));
        for e in &found {
            let what = format!("drift {} ({} {})", e.id, e.revision, e.field);
            plan = plan.change(what, "not accepted", format!("accepted: {reason}"));
        }
        Ok(plan)
    };
    if let Some(report) = ctx.plan_first(&env, plan)? {
        return Ok(report);
    }
    let mut done = Vec::new();
    for entry in found {
        let acceptance = Acceptance {
            entry: entry.id.clone(),
            reason: reason.to_string(),
            actor: crate::actor::current().name,
            at: now_rfc3339(),
            snapshot: sighting.id,
        };
        let mut ev = AuditEvent::new(
            "drift.accept",
            format!("{} {} {}: {reason}", entry.revision, entry.field, entry.id),
            "ok",
        );
        ev.at = acceptance.at.clone();
        journal::audit(&records, &ev)?;
        store::accept(&records, &acceptance)?;
        done.push(acceptance);
    }
    Ok(Report::new(
        format!(
            "accepted {} drift entr{} in {env}",
            done.len(),
            if done.len() == 1 { "y" } else { "ies" }
        ),
        &json!({"environment": env, "accepted": done}),
    ))
}

/// `envpack snapshots [show ID]`.
pub fn run_snapshots(ctx: &Ctx, command: Option<SnapshotsCommand>) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    records.load()?;
    if let Some(SnapshotsCommand::Show { id }) = command {
        let (id, snapshot) = store::load(&records, &id)?;
        let drift = drift::compare(&snapshot.expectation, &snapshot.observation);
        let human = serde_json::to_string_pretty(&snapshot).unwrap_or_default();
        return Ok(Report::new(
            format!("snapshot {id}\n{human}"),
            &json!({"id": id, "snapshot": snapshot, "drift": drift}),
        ));
    }
    let list = spans(&store::sightings(&records)?);
    let human = if list.is_empty() {
        format!("no snapshots of {env}; help: envpack observe --env {env}")
    } else {
        table(
            &["snapshot", "first seen", "last seen", "observations"],
            list.iter()
                .map(|s| {
                    vec![
                        s.id.short().to_string(),
                        s.first.clone(),
                        s.last.clone(),
                        s.count.to_string(),
                    ]
                })
                .collect(),
        )
    };
    Ok(Report::new(human, &list))
}
