//! `envpack audit` and `envpack history`: the environment's journals.

use crate::cli::Ctx;
use crate::cli::args::{AuditArgs, HistoryArgs};
use crate::cli::output::{Report, table};
use crate::deploy::journal;
use crate::env::EnvRecords;
use crate::env::audit::AuditEvent;
use crate::env::audit_query::{self, AuditQuery};
use crate::error::{Error, Result};

fn tail<T>(mut v: Vec<T>, last: Option<usize>) -> Vec<T> {
    if let Some(n) = last {
        let cut = v.len().saturating_sub(n);
        v.drain(..cut);
    }
    v
}

/// `envpack audit`.
pub fn audit(ctx: &Ctx, a: AuditArgs) -> Result<Report> {
    let backend = crate::backend::open(&ctx.home);
    let environments = if a.all {
        None
    } else {
        let env = ctx.env_name()?;
        EnvRecords::new(&ctx.home, &env).load()?;
        Some(vec![env])
    };
    let q = AuditQuery {
        environments,
        actor: a.actor.clone(),
        verb: a.verb.clone(),
        since: a
            .since
            .as_deref()
            .map(|t| instant("--since", t))
            .transpose()?,
        until: a
            .until
            .as_deref()
            .map(|t| instant("--until", t))
            .transpose()?,
        last: a.journal.last,
    };
    let events = audit_query::query(&backend, &q)?;
    let rows = events.iter().map(|(env, e)| row(env, e)).collect();
    Ok(Report::new(
        table(
            &["at", "env", "actor", "verb", "target", "change", "result"],
            rows,
        ),
        &audit_query::to_json(&events),
    ))
}

fn row(env: &str, e: &AuditEvent) -> Vec<String> {
    let change = match (e.before_generation, e.after_generation) {
        (Some(b), Some(a)) => format!("generation {b}->{a}"),
        _ => match (&e.before, &e.after) {
            (Some(b), Some(a)) => {
                crate::text::one_line(&format!("{} -> {}", short(b), short(a))).into_owned()
            }
            _ => "-".into(),
        },
    };
    vec![
        e.at.clone(),
        env.to_string(),
        e.actor.clone(),
        e.verb.clone(),
        crate::text::one_line(&e.target).into_owned(),
        change,
        crate::text::one_line(&e.result).into_owned(),
    ]
}

/// A JSON value in at most 60 characters.
fn short(v: &serde_json::Value) -> String {
    let s = if v.is_null() {
        "none".to_string()
    } else {
        v.to_string()
    };
    if s.chars().count() > 60 {
        format!("{}...", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

/// A time for a filter, as the RFC 3339 text events carry (UTC, so text
/// order is time order): given as RFC 3339, or as an age (`2h`).
fn instant(flag: &str, t: &str) -> Result<std::time::SystemTime> {
    if let Ok(ts) = humantime::parse_rfc3339_weak(t) {
        return Ok(ts);
    }
    let age = humantime::parse_duration(t).map_err(|_| {
        Error::invalid(format!(
            "{flag} {t:?} is neither an RFC 3339 time nor an age"
        ))
        .hint(format!(
            "envpack audit --all {flag} 2h (or an RFC 3339 time: {flag} 2026-12-01T00:00:00Z)"
        ))
    })?;
    Ok(std::time::SystemTime::now()
        .checked_sub(age)
        .unwrap_or(std::time::UNIX_EPOCH))
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
