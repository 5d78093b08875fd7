//! Dynamic shell completion (clap_complete's engine): environment names,
//! deployments, revision ids, slots and installed packs, read from the
//! home (`ENVPACK_HOME`, else the default) when the shell asks.
//!
//! Enable it with `source <(COMPLETE=bash envpack)` (or `zsh`, `fish`,
//! `elvish`, `powershell`); `envpack completions SHELL` still prints a
//! static script.

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
