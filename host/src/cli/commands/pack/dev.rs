//! `envpack pack dev DIR [--env E] [--watch]`: the dev loop. One round
//! builds, installs and rebinds (`devloop::dev_round`); `--watch` polls the
//! crate's files and runs a round after every change, printing each.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use envpack_manifest::Capability;

use crate::cli::Ctx;
use crate::cli::args::DevArgs;
use crate::cli::output::Report;
use crate::devloop::{self, DevOptions, DevOutcome};
use crate::env::{EnvName, format_diff};
use crate::error::{Error, Result};

/// How often `--watch` looks at the files.
const POLL: Duration = Duration::from_millis(400);

/// Runs one round, or rounds forever with `--watch`.
pub fn run(ctx: &Ctx, a: DevArgs) -> Result<Report> {
    let env = if ctx.env_given {
        Some(EnvName::try_from(ctx.env.clone())?)
    } else {
        None
    };
    let grants = a
        .grants
        .iter()
        .map(|g| g.parse::<Capability>().map_err(Error::from))
        .collect::<Result<Vec<_>>>()?;
    let opts = DevOptions {
        dir: a.dir.clone(),
        env,
        grants,
        grant_requested: a.grant_requested,
        target_dir: a.target_dir,
        quiet: ctx.json,
    };
    let round = || {
        devloop::dev_round(
            &ctx.home,
            ctx.runtime()?,
            &opts,
            &crate::cli::progress::Terminal,
        )
    };
    if !a.watch {
        let out = round()?;
        return Ok(Report::new(human(&out), &out));
    }
    let mut seen = files(&a.dir);
    loop {
        match round() {
            Ok(out) if ctx.json => println!(
                "{}",
                serde_json::json!({"api": "envpack/v1", "ok": true, "result": out})
            ),
            Ok(out) => println!("{}", human(&out)),
            Err(e) => crate::cli::output::print_err(&e, ctx.json),
        }
        eprintln!("watching {} for changes (Ctrl-C stops)", a.dir.display());
        loop {
            std::thread::sleep(POLL);
            let now = files(&a.dir);
            if now != seen {
                seen = now;
                break;
            }
        }
    }
}

fn human(out: &DevOutcome) -> String {
    let i = &out.installed;
    let mut s = format!("{} {} ({}) [dev build]", i.outcome, i.descriptor, i.digest);
    if let Some(b) = &out.bound {
        let from = b
            .previous
            .as_ref()
            .map_or("nothing".to_string(), ToString::to_string);
        s.push_str(&format!(
            "\nbound {}: {from} -> {}",
            b.slot, b.binding.descriptor
        ));
        if !b.added.is_empty() || !b.removed.is_empty() {
            s.push_str(&format!(
                "\ncapability diff:\n{}",
                format_diff(&b.added, &b.removed).trim_end()
            ));
        }
    }
    for d in &out.collected {
        s.push_str(&format!("\nremoved older dev build {d}"));
    }
    s
}

/// The crate's files (not `target/`, not hidden ones) with their size and
/// modification time: a change in any is a change of the crate.
fn files(dir: &Path) -> BTreeMap<PathBuf, (u64, Option<SystemTime>)> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') || name == "target" {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            if meta.is_dir() {
                stack.push(e.path());
            } else {
                out.insert(e.path(), (meta.len(), meta.modified().ok()));
            }
        }
    }
    out
}
