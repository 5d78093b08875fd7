//! Commands contributed by packs: `envpack [--env NAME] <words> [args]`.
//!
//! Commands are declared as data in pack manifests, so listing them (for
//! `--help`) reads manifests only; running one parses its arguments against
//! the declaration here, before the pack runs, then calls the pack in its
//! sandbox with the environment's grants.

use envpack_manifest::{ArgKind, CommandEffect, CommandSpec, DRY_RUN_ARG, read_manifest};
use serde_json::Value;

use crate::backend::RecordKey;
use crate::cli::Ctx;
use crate::cli::output::Report;
use crate::env::{EnvName, EnvRecords, Seat, Session, audit};
use crate::error::{Error, Kind, Result};
use crate::store::Store;

/// A command some bound pack declares.
pub struct PackCommand {
    /// Where the pack that declares it is bound: a slot, or its own id for
    /// a command-only pack.
    pub seat: Seat,
    /// The pack.
    pub pack: envpack_descriptor::Descriptor,
    /// The declaration.
    pub spec: CommandSpec,
}

/// Every command the packs bound in `env` declare, read from their
/// manifests without running them. An environment that does not exist
/// contributes none.
pub fn commands(ctx: &Ctx, env: &EnvName) -> Vec<PackCommand> {
    let records = EnvRecords::new(&ctx.home, env);
    let Ok(Some(stored)) = records.backend().read(env, &RecordKey::Lock) else {
        return Vec::new();
    };
    let Ok(lock) = serde_json::from_slice::<crate::env::Lock>(&stored.bytes) else {
        return Vec::new();
    };
    let store = Store::open(&ctx.home);
    let mut out = Vec::new();
    for (seat, b) in lock.bindings() {
        let Ok(manifest) = store
            .blob(&b.digest)
            .and_then(|bytes| read_manifest(&bytes).map_err(Error::from))
        else {
            continue;
        };
        for spec in manifest.commands {
            out.push(PackCommand {
                seat: seat.clone(),
                pack: b.descriptor.clone(),
                spec,
            });
        }
    }
    out
}

/// Help text listing pack commands, appended to `envpack --help`.
pub fn help_section(ctx: &Ctx, env: &EnvName) -> Option<String> {
    let cmds = commands(ctx, env);
    if cmds.is_empty() {
        return None;
    }
    let width = cmds.iter().map(|c| c.spec.name.len()).max().unwrap_or(0);
    let mut out = format!(
        "Commands from packs in environment {env} (envpack [--env NAME] <COMMAND> --help for details):\n"
    );
    for c in cmds {
        out.push_str(&format!(
            "  {:<width$}  {} [{}]\n",
            c.spec.name, c.spec.about, c.pack
        ));
    }
    Some(out)
}

pub(crate) fn build_clap(spec: &CommandSpec) -> clap::Command {
    let mut cmd = clap::Command::new(spec.name.clone())
        .bin_name(format!("envpack {}", spec.name))
        .about(spec.about.clone())
        .no_binary_name(true);
    if !spec.long_about.is_empty() {
        cmd = cmd.after_help(spec.long_about.clone());
    }
    for a in &spec.args {
        let mut arg = clap::Arg::new(a.name.clone()).help(a.help.clone());
        arg = match a.kind {
            ArgKind::Positional => arg.required(a.required).num_args(if a.multiple {
                clap::builder::ValueRange::new(1..)
            } else {
                clap::builder::ValueRange::new(1..=1)
            }),
            ArgKind::Option => arg
                .long(a.name.clone())
                .required(a.required)
                .num_args(1)
                .action(if a.multiple {
                    clap::ArgAction::Append
                } else {
                    clap::ArgAction::Set
                }),
            ArgKind::Flag => arg.long(a.name.clone()).action(clap::ArgAction::SetTrue),
        };
        if let Some(d) = &a.default {
            arg = arg.default_value(d.clone());
        }
        if !a.values.is_empty() {
            arg = arg.value_parser(clap::builder::PossibleValuesParser::new(a.values.clone()));
        }
        cmd = cmd.arg(arg);
    }
    if spec.effect == CommandEffect::Mutate {
        cmd = cmd.arg(
            clap::Arg::new(DRY_RUN_ARG)
                .long(DRY_RUN_ARG)
                .help("Plan only: the pack is told to change nothing")
                .action(clap::ArgAction::SetTrue),
        );
    }
    cmd
}

/// Runs `words` as a pack command in environment `env`.
pub fn run(ctx: &Ctx, env: &EnvName, words: &[String]) -> Result<Report> {
    let cmds = commands(ctx, env);
    // The longest declared name that prefixes the words wins, so
    // `kinetic solutions list` beats a `kinetic` command.
    let best = cmds
        .iter()
        .filter(|c| {
            let n: Vec<&str> = c.spec.words().collect();
            words.len() >= n.len() && words.iter().zip(&n).all(|(a, b)| a == b)
        })
        .max_by_key(|c| c.spec.words().count());
    let Some(cmd) = best else {
        return Err(unknown(ctx, env, words, &cmds));
    };
    let n = cmd.spec.words().count();
    let matches = match build_clap(&cmd.spec).try_get_matches_from(&words[n..]) {
        Ok(m) => m,
        Err(e)
            if matches!(
                e.kind(),
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion
            ) =>
        {
            return Ok(Report::new(
                e.render().to_string(),
                &serde_json::json!({"help": e.render().to_string()}),
            ));
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string();
            return Err(
                Error::invalid(format!("envpack {}: {first}", cmd.spec.name))
                    .hint(format!("envpack --env {env} {} --help", cmd.spec.name)),
            );
        }
    };
    let mut args = collected(&cmd.spec, &matches);
    let out = match cmd.spec.effect {
        CommandEffect::Read => Session::scoped(&ctx.home, ctx.runtime()?, env, |session| {
            session.run_command(&cmd.seat, &cmd.spec.name, &args)
        })?,
        CommandEffect::Mutate => {
            let dry_run = ctx.dry_run || matches.get_flag(DRY_RUN_ARG);
            args.retain(|(n, _)| n != DRY_RUN_ARG);
            if dry_run {
                args.push((DRY_RUN_ARG.into(), vec!["true".into()]));
            }
            run_mutating(ctx, env, cmd, &args, dry_run)?
        }
    };
    let json = match &out.json {
        Some(j) => serde_json::from_str::<Value>(j).map_err(|e| {
            Error::new(
                Kind::PackFault,
                format!(
                    "{} returned invalid JSON for {}: {e}",
                    cmd.pack, cmd.spec.name
                ),
            )
        })?,
        None => Value::String(out.text.clone()),
    };
    Ok(Report::raw(out.text, json, 0))
}

/// A mutating pack command: on a production environment confirmed (or
/// refused, audited) before the pack runs; audited as started and as it
/// ended. A dry run is neither confirmed nor audited: the pack was given
/// `--dry-run` and must only plan.
fn run_mutating(
    ctx: &Ctx,
    env: &EnvName,
    cmd: &PackCommand,
    args: &[(String, Vec<String>)],
    dry_run: bool,
) -> Result<crate::runtime::slots::command::CommandOutput> {
    let target = format!("{} ({})", cmd.spec.name, cmd.pack);
    let shown = || {
        args.iter()
            .map(|(n, v)| format!("--{n} {}", v.join(" ")))
            .collect::<Vec<_>>()
            .join(" ")
    };
    if !dry_run {
        ctx.confirm(env, "pack.command", &target, || {
            Ok(format!(
                "run `envpack {} {}`, which changes {env} (declared `effect = \"mutate\"` by {})",
                cmd.spec.name,
                shown(),
                cmd.pack
            ))
        })?;
    }
    Session::scoped(&ctx.home, ctx.runtime()?, env, |session| {
        let run = || session.run_command(&cmd.seat, &cmd.spec.name, args);
        if dry_run {
            return run();
        }
        let change = audit::Change {
            verb: "pack.command",
            target: target.clone(),
            before: Value::Null,
            after: serde_json::json!({
                "command": cmd.spec.name,
                "pack": cmd.pack.to_string(),
                "args": args,
            }),
        };
        audit::audited(audit::AuditLog::Env(session.records()), change, run)
    })
}

fn unknown(ctx: &Ctx, env: &EnvName, words: &[String], cmds: &[PackCommand]) -> Error {
    // The command's words, not the flags after them (`envpack help X` is
    // `envpack X --help`).
    let typed = words
        .iter()
        .take_while(|w| !w.starts_with('-'))
        .take(3)
        .cloned()
        .collect::<Vec<_>>()
        .join(" ");
    let builtins = <crate::cli::args::Cli as clap::CommandFactory>::command();
    let mut candidates: Vec<String> = builtins
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .collect();
    candidates.extend(cmds.iter().map(|c| c.spec.name.clone()));
    let mut scored: Vec<(f64, String)> = candidates
        .into_iter()
        .map(|c| {
            let probe: String = words
                .iter()
                .take(c.split(' ').count())
                .cloned()
                .collect::<Vec<_>>()
                .join(" ");
            (strsim::jaro_winkler(&probe, &c), c)
        })
        .filter(|(s, _)| *s > 0.8)
        .collect();
    scored.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut err = Error::invalid(format!("unknown command {typed:?}"));
    if let Some((_, best)) = scored.first() {
        err = Error::invalid(format!(
            "unknown command {typed:?}; did you mean `envpack {best}`?"
        ));
    }
    let exists = EnvRecords::new(&ctx.home, env).exists();
    err.hint(if exists {
        format!("envpack --env {env} --help lists every command, including those from packs")
    } else {
        format!("environment {env} does not exist, so no pack commands are available; envpack env init {env}")
    })
}

/// The parsed arguments as (name, values) pairs, the shape the `command`
/// interface takes; flags are `["true"]` when given.
pub(crate) fn collected(
    spec: &CommandSpec,
    matches: &clap::ArgMatches,
) -> Vec<(String, Vec<String>)> {
    let mut args = Vec::new();
    for a in &spec.args {
        let values: Vec<String> = match a.kind {
            ArgKind::Flag => {
                if matches.get_flag(&a.name) {
                    vec!["true".into()]
                } else {
                    vec![]
                }
            }
            _ => matches
                .get_many::<String>(&a.name)
                .map(|v| v.cloned().collect())
                .unwrap_or_default(),
        };
        if !values.is_empty() {
            args.push((a.name.clone(), values));
        }
    }
    args
}
