//! `envpack logs REV [--tail N] [-f]`.

use crate::text::for_terminal;
use std::io::Write;
use std::time::Duration;

use envpack_descriptor::Slot;
use serde_json::json;

use crate::cli::Ctx;
use crate::cli::output::Report;
use crate::deploy::DeploymentRecords;
use crate::env::EnvRecords;
use crate::error::{Error, Result};
use crate::local;

/// Prints a revision's output; with `follow`, keeps printing until
/// interrupted.
pub fn run(ctx: &Ctx, revision: &str, tail: Option<usize>, follow: bool) -> Result<Report> {
    let env = ctx.env_name()?;
    let records = EnvRecords::new(&ctx.home, &env);
    let (_meta, lock) = records.load()?;
    let (deployment, rev) = DeploymentRecords::new(&records).find_revision(revision)?;
    let binding = lock.slots.get(&Slot::Deployer).ok_or_else(|| {
        Error::not_found(format!("the deployer slot of {env} is not bound"))
            .hint(format!("envpack env init {env}"))
    })?;
    if !local::runs_locally(&binding.grants) {
        return Err(Error::unavailable(format!(
            "{} runs the revisions of {env} elsewhere; envpack keeps no output of revision {}",
            binding.descriptor, rev.id
        ))
        .hint(format!(
            "read the target's own logs; `envpack status --env {env}` shows where {} answers",
            rev.id
        )));
    }
    if follow && ctx.json {
        return Err(
            Error::invalid("--follow streams text and cannot be used with --json").hint(format!(
                "envpack logs {} --env {env} --json --tail 100",
                rev.id
            )),
        );
    }
    let dir = records.local_dir();
    let (text, mut offset) = local::read_output(&dir, &rev.id)?;
    let shown = match tail {
        Some(n) => local::tail_lines(&text, n).to_string(),
        None => text,
    };
    if !follow {
        return Ok(Report::new(
            shown.clone(),
            &json!({"environment": env, "deployment": deployment.name, "revision": rev.id, "output": shown}),
        ));
    }
    let mut out = std::io::stdout().lock();
    // Payload text: escaped like every human report (--json keeps it raw).
    let _ = out.write_all(for_terminal(&shown).as_bytes());
    let _ = out.flush();
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let (more, next) = local::read_output_from(&dir, &rev.id, offset)?;
        offset = next;
        if !more.is_empty() {
            let _ = out.write_all(for_terminal(&more).as_bytes());
            let _ = out.flush();
        }
    }
}
