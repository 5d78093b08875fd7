//! `envpack audit` and `envpack history`: the environment's journals.

use crate::cli::Ctx;
use crate::cli::args::JournalArgs;
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
pub fn history(ctx: &Ctx, a: JournalArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    records.load()?;
    let entries = tail(journal::read_history(&records)?, a.last);
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
