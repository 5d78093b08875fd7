//! Dynamic shell completion (clap_complete's engine): environment names,
//! deployments, revision ids, slots and installed packs, read from the
//! home (`ENVPACK_HOME`, else the default) when the shell asks.
//!
//! Enable it with `source <(COMPLETE=bash envpack)` (or `zsh`, `fish`,
//! `elvish`, `powershell`); `envpack completions SHELL` still prints a
//! static script. Commands contributed by the packs of `--env` (or
//! `ENVPACK_ENV`, else `local`) complete too, with their arguments.

use std::ffi::OsStr;

use clap_complete::engine::CompletionCandidate;

use crate::deploy::DeploymentRecords;
use crate::env::{self, EnvRecords};
use crate::home::Home;
use crate::store::Store;

fn home() -> Option<Home> {
    match std::env::var_os("ENVPACK_HOME") {
        Some(dir) => Some(Home::at(dir.into())),
        None => Home::discover().ok(),
    }
}

/// Candidates starting with `current`, each with its help.
fn matching(current: &OsStr, all: Vec<(String, String)>) -> Vec<CompletionCandidate> {
    let current = current.to_string_lossy();
    all.into_iter()
        .filter(|(v, _)| v.starts_with(current.as_ref()))
        .map(|(v, help)| CompletionCandidate::new(v).help(Some(help.into())))
        .collect()
}

/// Every environment of the home.
pub fn environments(current: &OsStr) -> Vec<CompletionCandidate> {
    let all = home()
        .and_then(|h| env::list(&h).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|v| {
            let help = if v.meta.policy.production {
                "production"
            } else {
                "environment"
            };
            (v.name.to_string(), help.to_string())
        })
        .collect();
    matching(current, all)
}

/// Every deployment of every environment, or every revision.
fn deployments_and_revisions(revisions: bool) -> Vec<(String, String)> {
    let Some(home) = home() else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for v in env::list(&home).unwrap_or_default() {
        let records = EnvRecords::new(&home, &v.name);
        for d in DeploymentRecords::new(&records).all().unwrap_or_default() {
            if !revisions {
                out.push((d.name.clone(), format!("deployment in {}", v.name)));
                continue;
            }
            for r in &d.revisions {
                let traffic = crate::types::percent(d.weight_of(&r.id));
                out.push((
                    r.id.clone(),
                    format!(
                        "{} {} in {}: {}, {traffic}",
                        d.name, r.version, v.name, r.state
                    ),
                ));
            }
        }
    }
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

/// Every deployment name.
pub fn deployments(current: &OsStr) -> Vec<CompletionCandidate> {
    matching(current, deployments_and_revisions(false))
}

/// Every revision id.
pub fn revisions(current: &OsStr) -> Vec<CompletionCandidate> {
    matching(current, deployments_and_revisions(true))
}

/// The slots.
pub fn slots(current: &OsStr) -> Vec<CompletionCandidate> {
    let all = envpack_descriptor::Slot::ALL
        .iter()
        .map(|s| (s.to_string(), "slot".to_string()))
        .collect();
    matching(current, all)
}

/// Every installed pack, by descriptor.
pub fn descriptors(current: &OsStr) -> Vec<CompletionCandidate> {
    let all = home()
        .and_then(|h| Store::open(&h).list().ok())
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.descriptor.to_string(), "installed pack".to_string()))
        .collect();
    matching(current, all)
}

/// The command tree to complete: the built-in commands, plus those the
/// packs bound in the environment contribute (`memory stats` becomes
/// `memory` with a `stats` subcommand and its arguments).
pub fn command() -> clap::Command {
    let mut cmd = <crate::cli::args::Cli as clap::CommandFactory>::command();
    let Some(home) = home() else { return cmd };
    let Ok(env) = environment_named().parse::<crate::types::EnvName>() else {
        return cmd;
    };
    let ctx = crate::cli::Ctx::new(home, false, env.to_string());
    let mut groups: std::collections::BTreeMap<String, Vec<clap::Command>> = Default::default();
    for c in super::commands::external::commands(&ctx, &env) {
        let words: Vec<&str> = c.spec.name.split_whitespace().collect();
        let Some((first, rest)) = words.split_first() else {
            continue;
        };
        if cmd.get_subcommands().any(|b| b.get_name() == *first) {
            continue;
        }
        let mut leaf = super::commands::external::build_clap(&c.spec).no_binary_name(false);
        if !rest.is_empty() {
            leaf = leaf.name(rest.join(" "));
        }
        groups.entry(first.to_string()).or_default().push(leaf);
    }
    for (first, leaves) in groups {
        let single = leaves.len() == 1 && leaves[0].get_name() == first;
        cmd = cmd.subcommand(if single {
            leaves
                .into_iter()
                .next()
                .unwrap_or_else(|| clap::Command::new(first.clone()))
        } else {
            clap::Command::new(first)
                .about("commands from packs")
                .subcommands(leaves)
        });
    }
    cmd
}

/// The environment the words being completed name with `--env`, else
/// `ENVPACK_ENV`, else `local`.
fn environment_named() -> String {
    let args: Vec<String> = std::env::args().collect();
    let from_args = args
        .windows(2)
        .rev()
        .find(|w| w[0] == "--env")
        .map(|w| w[1].clone());
    from_args
        .or_else(|| {
            args.iter()
                .rev()
                .find_map(|a| a.strip_prefix("--env=").map(str::to_string))
        })
        .or_else(|| std::env::var("ENVPACK_ENV").ok())
        .unwrap_or_else(|| "local".into())
}
