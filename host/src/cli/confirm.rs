//! Plan, then confirm: a mutating verb on a production environment shows
//! its plan and asks on a terminal, or requires `--yes` when there is no
//! terminal to ask on. Every confirmation and refusal is audited.

use std::io::{BufRead, IsTerminal, Write};

use crate::cli::Ctx;
use crate::cli::output::Report;
use crate::env::EnvRecords;
use crate::env::audit::{AuditEvent, AuditLog, audit, refused};
use crate::env::plan::Plan;
use crate::error::{Error, Result};
use crate::types::EnvName;

impl Ctx {
    /// Plan, then confirm, for a mutating verb on `env`: with `--dry-run`,
    /// the plan as the command's report (nothing changes); on a production
    /// environment, the plan shown and confirmed ([`Ctx::confirm`]);
    /// otherwise nothing. `plan` is computed only when needed.
    pub fn plan_first(
        &self,
        env: &EnvName,
        plan: impl FnOnce() -> Result<Plan>,
    ) -> Result<Option<Report>> {
        if self.dry_run {
            return self.dry_run_report(plan);
        }
        if self.is_production(env) {
            let p = plan()?;
            self.confirm_production(env, &p.verb, &p.target, || Ok(p.human()))?;
        }
        Ok(None)
    }

    /// With `--dry-run`, the plan as the command's report.
    pub fn dry_run_report(&self, plan: impl FnOnce() -> Result<Plan>) -> Result<Option<Report>> {
        if !self.dry_run {
            return Ok(None);
        }
        let p = plan()?;
        let human = format!("{}\ndry run: nothing was changed", p.human());
        Ok(Some(Report::new(human, &p)))
    }

    /// Whether `env` is a production environment (an environment that does
    /// not exist is not: the verb itself reports it).
    pub fn is_production(&self, env: &EnvName) -> bool {
        EnvRecords::new(&self.home, env)
            .load()
            .is_ok_and(|(meta, _)| meta.policy.production)
    }

    /// Before `verb` changes `env`: nothing to do outside production;
    /// in production, `--yes` confirms, a terminal is asked (showing
    /// `plan`), and anything else is refused (exit 4), audited either way.
    /// `plan` is computed only when a terminal is asked.
    pub fn confirm(
        &self,
        env: &EnvName,
        verb: &str,
        target: &str,
        plan: impl FnOnce() -> Result<String>,
    ) -> Result<()> {
        if !self.is_production(env) {
            return Ok(());
        }
        self.confirm_production(env, verb, target, plan)
    }

    /// [`Ctx::confirm`] for an environment known to be production.
    fn confirm_production(
        &self,
        env: &EnvName,
        verb: &str,
        target: &str,
        plan: impl FnOnce() -> Result<String>,
    ) -> Result<()> {
        let records = EnvRecords::new(&self.home, env);
        let how = if self.yes {
            "confirmed with --yes"
        } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            if !ask(env, &plan()?)? {
                refused(
                    AuditLog::Env(&records),
                    verb,
                    target,
                    "declined at the terminal",
                )?;
                return Err(Error::denied(format!(
                    "{verb} on production environment {env} was not confirmed; nothing changed"
                )));
            }
            "confirmed at the terminal"
        } else {
            refused(
                AuditLog::Env(&records),
                verb,
                target,
                "production change not confirmed (no --yes, no terminal)",
            )?;
            return Err(Error::denied(format!(
                "{verb} changes production environment {env} and needs confirmation, but there is no terminal to ask on; nothing changed"
            ))
            .hint(format!(
                "review the plan with `{} --dry-run`, then run it again with --yes",
                self.command_without_flags(&["--yes", "-y", "--dry-run"])
            )));
        };
        audit(&records, &AuditEvent::new(verb, target, how))
    }

    /// The command line as run, without the given flags.
    fn command_without_flags(&self, flags: &[&str]) -> String {
        let mut out = vec!["envpack".to_string()];
        out.extend(
            self.args
                .iter()
                .skip(1)
                .filter(|a| !flags.contains(&a.as_str()))
                .cloned(),
        );
        out.join(" ")
    }
}

/// Shows the plan and asks for the environment's name, as Terraform asks
/// for `yes`.
fn ask(env: &EnvName, plan: &str) -> Result<bool> {
    let mut err = std::io::stderr();
    let _ = writeln!(err, "{plan}\n");
    let _ = write!(
        err,
        "{env} is a production environment. Type its name to go ahead: "
    );
    let _ = err.flush();
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| Error::invalid(format!("cannot read the confirmation: {e}")))?;
    Ok(line.trim() == env.as_str())
}
