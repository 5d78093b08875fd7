//! What a mutating verb is about to change, before it changes it: printed
//! by `--dry-run`, shown before a production confirmation, and kept in the
//! JSON envelope (`"dry_run": true`).

use serde::Serialize;

use crate::types::EnvName;

/// One thing a verb changes, from what to what.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PlanLine {
    /// What changes, e.g. `split`, `revision r3`, `secret API_KEY`.
    pub what: String,
    /// Before (`-` for nothing).
    pub before: String,
    /// After (`-` for nothing).
    pub after: String,
}

/// A verb's plan.
#[derive(Clone, Debug, Serialize)]
pub struct Plan {
    /// The verb, as the audit log names it (`traffic.set`).
    pub verb: String,
    /// The environment it changes (none: the home itself, e.g. the pack
    /// store).
    pub environment: Option<EnvName>,
    /// What it acts on.
    pub target: String,
    /// The changes, in the order they are made.
    pub changes: Vec<PlanLine>,
    /// Always true in a dry run's output: nothing was changed.
    pub dry_run: bool,
}

impl Plan {
    /// A plan with no changes yet.
    pub fn new(verb: &str, environment: &EnvName, target: impl Into<String>) -> Self {
        Self {
            verb: verb.into(),
            environment: Some(environment.clone()),
            target: target.into(),
            changes: Vec::new(),
            dry_run: true,
        }
    }

    /// A plan for a change of the home (the pack store), no environment.
    pub fn home(verb: &str, target: impl Into<String>) -> Self {
        Self {
            verb: verb.into(),
            environment: None,
            target: target.into(),
            changes: Vec::new(),
            dry_run: true,
        }
    }

    /// Adds a change.
    pub fn change(
        mut self,
        what: impl Into<String>,
        before: impl Into<String>,
        after: impl Into<String>,
    ) -> Self {
        self.changes.push(PlanLine {
            what: what.into(),
            before: before.into(),
            after: after.into(),
        });
        self
    }

    /// The plan for people: a header, then `what  before -> after` lines.
    pub fn human(&self) -> String {
        let place = self
            .environment
            .as_ref()
            .map_or("the home".to_string(), ToString::to_string);
        let mut out = format!("plan: {} {} in {place}", self.verb, self.target);
        if self.changes.is_empty() {
            out.push_str("\n  no changes");
        }
        let width = self.changes.iter().map(|c| c.what.len()).max().unwrap_or(0);
        for c in &self.changes {
            out.push_str(&format!(
                "\n  {:<width$}  {} -> {}",
                crate::text::one_line(&c.what),
                crate::text::one_line(&c.before),
                crate::text::one_line(&c.after),
            ));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_before_and_after() {
        let env: EnvName = "prod".parse().expect("name");
        let p = Plan::new("traffic.set", &env, "web")
            .change("split", "r1=100%", "r1=50% r2=50%")
            .change("generation", "3", "4");
        let h = p.human();
        assert!(h.starts_with("plan: traffic.set web in prod"), "{h}");
        assert!(h.contains("split       r1=100% -> r1=50% r2=50%"), "{h}");
        assert!(
            Plan::new("env.down", &env, "prod")
                .human()
                .contains("no changes")
        );
    }
}
