//! `envpack secrets recipients ...`: whom sealed secrets are encrypted for.

use crate::cli::Ctx;
use crate::cli::args::RecipientsCommand;
use crate::cli::output::{Report, table};
use crate::env::EnvName;
use crate::env::plan::Plan;
use crate::env::recipients::{self, RecipientView, RecipientsChange};
use crate::error::Result;

/// Dispatches `envpack secrets recipients`.
pub fn run(ctx: &Ctx, name: &EnvName, cmd: RecipientsCommand) -> Result<Report> {
    match cmd {
        RecipientsCommand::List => {
            let list = recipients::list(&ctx.home, name)?;
            Ok(Report::new(render(name, &list), &list))
        }
        RecipientsCommand::Add { recipient, mine } => {
            let shown = match (&recipient, mine) {
                (Some(r), _) => r.clone(),
                _ => "this home's key".to_string(),
            };
            if let Some(report) = ctx.plan_first(name, || {
                Ok(plan("secrets.recipients.add", name, &shown, "-", "added"))
            })? {
                return Ok(report);
            }
            let change = recipients::add(&ctx.home, ctx.runtime()?, name, recipient.as_deref())?;
            Ok(changed(name, &change))
        }
        RecipientsCommand::Rm { recipient } => {
            if let Some(report) = ctx.plan_first(name, || {
                Ok(plan(
                    "secrets.recipients.rm",
                    name,
                    &recipient,
                    "recipient",
                    "-",
                ))
            })? {
                return Ok(report);
            }
            let change = recipients::rm(&ctx.home, ctx.runtime()?, name, &recipient)?;
            Ok(changed(name, &change))
        }
    }
}

fn plan(verb: &str, name: &EnvName, key: &str, before: &str, after: &str) -> Plan {
    Plan::new(verb, name, key)
        .change(format!("recipient {key}"), before, after)
        .change("every secret", "sealed", "re-sealed for the new recipients")
}

fn render(name: &EnvName, list: &[RecipientView]) -> String {
    if list.is_empty() {
        return format!(
            "environment {name} has no recipients; help: envpack secrets recipients add --env {name} --mine"
        );
    }
    let rows = list
        .iter()
        .map(|r| {
            vec![
                r.recipient.clone(),
                if r.this_home { "this home" } else { "" }.to_string(),
            ]
        })
        .collect();
    table(&["RECIPIENT", ""], rows)
}

fn changed(name: &EnvName, change: &RecipientsChange) -> Report {
    let mut human = String::new();
    if let Some(path) = &change.identity_created {
        human.push_str(&format!("created this home's identity: {path}\n"));
    }
    human.push_str(&format!(
        "re-sealed {} secret(s) for {} recipient(s)\n",
        change.resealed.len(),
        change.recipients.len()
    ));
    human.push_str(&render(name, &change.recipients));
    Report::new(human, change)
}
