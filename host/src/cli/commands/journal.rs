//! `envpack audit` and `envpack history`: the environment's journals.

use crate::cli::Ctx;
use crate::cli::args::{HistoryArgs, JournalArgs};
use crate::cli::output::{Report, table};
use crate::deploy::journal;
use crate::env::EnvRecords;
use crate::error::Result;

fn tail<T>(mut v: Vec<T>, last: Option<usize>) -> Vec<T> {
    if let Some(n) = last {
        let cut = v.len().saturating_sub(n);
        v.drain(..cut);
    }
    v
}

/// `envpack audit`.
pub fn audit(ctx: &Ctx, a: JournalArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    records.load()?;
    let events = tail(journal::read_audit(&records)?, a.last);
    let rows = events
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.actor.clone(),
                e.verb.clone(),
                e.target.clone(),
                match (e.before_generation, e.after_generation) {
                    (Some(b), Some(a)) => format!("{b}->{a}"),
                    _ => "-".into(),
                },
                e.result.clone(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(
            &["at", "actor", "verb", "target", "generation", "result"],
            rows,
        ),
        &events,
    ))
}

/// `envpack history`.
pub fn history(ctx: &Ctx, a: HistoryArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    records.load()?;
    if let Some(artifact) = &a.artifact {
        return artifact_history(&records, artifact);
    }
    let entries = tail(journal::read_history(&records)?, a.journal.last);
    let rows = entries
        .iter()
        .map(|e| {
            vec![
                e.at.clone(),
                e.kind.clone(),
                e.deployment.clone(),
                e.generation.map_or("-".into(), |g| g.to_string()),
                e.summary.clone(),
            ]
        })
        .collect();
    Ok(Report::new(
        table(&["at", "kind", "deployment", "generation", "summary"], rows),
        &entries,
    ))
}

/// `envpack history ARTIFACT`.
fn artifact_history(records: &EnvRecords, artifact: &str) -> Result<Report> {
    let h = crate::truth::forensics::artifact(records, artifact)?;
    let env = records.name();
    let mut human = if h.seen.is_empty() {
        format!(
            "{} was never observed in {env} (help: envpack observe --env {env})",
            h.path
        )
    } else {
        format!("{} in {env}:\n", h.path)
    };
    for s in &h.seen {
        human.push_str(&format!(
            "\n  sha256 {}\n    first seen  {}\n    last seen   {}\n    revisions   {}\n    snapshots   {}\n    reviewed    {}\n",
            s.sha256,
            s.first_seen,
            s.last_seen,
            s.revisions.join(", "),
            s.snapshots.iter().map(|d| d.short().to_string()).collect::<Vec<_>>().join(", "),
            if s.bundles.is_empty() {
                "no: no bundle of this environment carried this content".to_string()
            } else {
                format!(
                    "yes: in {}",
                    s.bundles.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ")
                )
            },
        ));
        if let (Some(before), Some(at)) = (s.before_last_promotion, &h.last_promotion) {
            human.push_str(&format!(
                "    before the last promotion ({at}): {}\n",
                if before { "yes" } else { "no" }
            ));
        }
    }
    Ok(Report::new(human, &h))
}
