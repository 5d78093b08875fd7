//! Environments as code: `envpack.toml` declares environments (ladder,
//! policy, release gate, slot bindings with requirements and grants,
//! per-pack configuration, secrets by name) and [`diff`] compares it with
//! what the home records, as plans of `+ ~ -` changes. The lock stays the
//! lock: the file names requirements, the lock the resolved packs.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use envpack_descriptor::{Requirement, Slot};
use envpack_manifest::Capability;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::model::{EnvName, Policy, SourceKind};
use super::ops::EnvView;
use super::plan::Plan;
use crate::error::{Error, Result};

/// The file's name, looked for upward from the working directory.
pub const FILE_NAME: &str = "envpack.toml";

/// `envpack.toml`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnvFile {
    /// Environments by name.
    #[serde(default)]
    pub env: BTreeMap<String, DeclaredEnv>,
}

/// One declared environment.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredEnv {
    /// Where its revisions run: `local` (processes on this machine, the
    /// default) or `kubernetes` (a cluster, through
    /// `greentic.deployer.k8s`), or another mode a deployer pack serves.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<String>")]
    pub mode: Option<super::Mode>,
    /// A production environment.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub production: bool,
    /// The previous rung of the ladder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<String>,
    /// Allowed bundle sources (default: all, or `release-tag` in
    /// production).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(with = "Option<Vec<String>>")]
    pub sources: Option<BTreeSet<SourceKind>>,
    /// The release gate of promotions into it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<DeclaredGate>,
    /// Slot bindings: slot -> requirement and grants. Slots not named keep
    /// what they have.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub slots: BTreeMap<String, DeclaredSlot>,
    /// Per-pack configuration: pack id -> key -> value. The keys of a pack
    /// named here are exactly these.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, BTreeMap<String, String>>,
    /// Secrets that must exist, by name only (values never live here).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// A production environment may keep its secrets in the development
    /// store, unencrypted (the operator's explicit say-so).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_dev_secrets: bool,
}

/// A slot binding.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredSlot {
    /// The requirement, e.g. `greentic.state.fs@^0.1`.
    pub pack: String,
    /// Capabilities granted, e.g. `["log", "http:api.example.com"]`.
    #[serde(default)]
    pub grants: Vec<String>,
}

impl DeclaredSlot {
    /// Whether `binding` is this declaration: the same requirement and
    /// exactly these grants.
    pub fn bound_as(&self, binding: Option<&super::model::Binding>) -> Result<bool> {
        let want: Requirement = self.pack.parse()?;
        let grants: BTreeSet<String> = self.grants.iter().cloned().collect();
        Ok(binding.is_some_and(|b| {
            b.requirement == want
                && b.grants
                    .iter()
                    .map(ToString::to_string)
                    .collect::<BTreeSet<_>>()
                    == grants
        }))
    }
}

/// A release gate.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DeclaredGate {
    /// Evidence files, by path or glob.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<String>,
    /// `PERCENT:DURATION`, e.g. `10%:30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<String>,
    /// The previous rung observed without drift.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub no_drift: bool,
}

/// `envpack.toml` above `dir` (the nearest), if any.
pub fn find(dir: &Path) -> Option<PathBuf> {
    dir.ancestors()
        .map(|d| d.join(FILE_NAME))
        .find(|p| p.is_file())
}

/// Reads and checks the file; errors point at `file:line:column`.
pub fn load(path: &Path) -> Result<EnvFile> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io("read", path, e))?;
    let file: EnvFile = toml::from_str(&text).map_err(|e| {
        let at = e.span().map_or(String::new(), |s| {
            let before = &text[..s.start.min(text.len())];
            let line = before.matches('\n').count() + 1;
            let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
            format!(":{line}:{column}")
        });
        Error::invalid(format!("{}{at}: {}", path.display(), e.message()))
            .hint("envpack plan --schema prints the file's schema")
    })?;
    for (name, e) in &file.env {
        check(path, name, e)?;
    }
    Ok(file)
}

fn check(path: &Path, name: &str, e: &DeclaredEnv) -> Result<()> {
    let bad = |what: String| Error::invalid(format!("{}: [env.{name}] {what}", path.display()));
    name.parse::<EnvName>()?;
    if let Some(a) = &e.after {
        a.parse::<EnvName>()
            .map_err(|x| bad(format!("after: {}", x.message())))?;
    }
    for (slot, s) in &e.slots {
        slot.parse::<Slot>()
            .map_err(|x| bad(format!("slots.{slot}: {x}")))?;
        s.pack
            .parse::<Requirement>()
            .map_err(|x| bad(format!("slots.{slot}.pack: {x}")))?;
        for g in &s.grants {
            g.parse::<Capability>()
                .map_err(|x| bad(format!("slots.{slot}.grants: {x}")))?;
        }
    }
    if let Some(soak) = e.gate.as_ref().and_then(|g| g.soak.as_deref()) {
        soak.parse::<super::model::Soak>()
            .map_err(|x| bad(format!("gate.soak: {x}")))?;
    }
    Ok(())
}

impl DeclaredEnv {
    /// The policy this declares.
    pub fn policy(&self) -> Result<Policy> {
        let mut p = Policy::default_for(self.production);
        if let Some(s) = &self.sources {
            p.allowed_sources = s.clone();
        }
        p.after = self.after.as_deref().map(str::parse).transpose()?;
        p.allow_dev_secrets = self.production && self.allow_dev_secrets;
        if let Some(g) = &self.gate {
            p.gate.evidence = g.evidence.iter().cloned().collect();
            p.gate.soak = g
                .soak
                .as_deref()
                .map(str::parse)
                .transpose()
                .map_err(Error::invalid)?;
            p.gate.no_drift = g.no_drift;
        }
        Ok(p)
    }

    /// The declaration of an existing environment: what `env export`
    /// writes.
    pub fn of(v: &EnvView) -> Self {
        let p = &v.meta.policy;
        let gate = (!p.gate.is_empty()).then(|| DeclaredGate {
            evidence: p.gate.evidence.iter().cloned().collect(),
            soak: p.gate.soak.map(|s| soak_text(&s)),
            no_drift: p.gate.no_drift,
        });
        DeclaredEnv {
            mode: Some(v.meta.mode.clone()),
            production: p.production,
            after: p.after.as_ref().map(ToString::to_string),
            sources: Some(p.allowed_sources.clone()),
            gate,
            slots: v
                .lock
                .slots
                .iter()
                .map(|(slot, b)| {
                    let grants = b.grants.iter().map(ToString::to_string).collect();
                    (
                        slot.to_string(),
                        DeclaredSlot {
                            pack: b.requirement.to_string(),
                            grants,
                        },
                    )
                })
                .collect(),
            config: v.meta.config.clone(),
            allow_dev_secrets: p.allow_dev_secrets,
            secrets: Vec::new(),
        }
    }
}

/// A soak as the file writes it: `10%:1800s`.
fn soak_text(s: &super::model::Soak) -> String {
    format!(
        "{}:{}s",
        crate::types::percent(s.min_basis_points),
        s.min_seconds
    )
}

/// What `plan` shows for one environment: its changes, in apply order.
pub fn diff(name: &EnvName, want: &DeclaredEnv, have: Option<&EnvView>) -> Result<Plan> {
    let policy = want.policy()?;
    let Some(have) = have else {
        let mut plan =
            Plan::new("apply", name, name.to_string()).change("environment", "-", "created");
        plan = plan.change(
            "mode",
            "-",
            want.mode.clone().unwrap_or_default().to_string(),
        );
        plan = policy_lines(plan, &Policy::default_for(false), &policy, true);
        for (slot, s) in &want.slots {
            plan = plan.change(format!("slot {slot}"), "-", slot_text(&s.pack, &s.grants));
        }
        return Ok(config_lines(plan, &BTreeMap::new(), &want.config));
    };
    let mut plan = Plan::new("apply", name, name.to_string());
    if let Some(mode) = want.mode.as_ref().filter(|m| **m != have.meta.mode) {
        plan = plan.change("mode", have.meta.mode.to_string(), mode.to_string());
    }
    plan = policy_lines(plan, &have.meta.policy, &policy, false);
    for (slot, s) in &want.slots {
        let slot_id: Slot = slot
            .parse()
            .map_err(|e| Error::invalid(format!("slot {slot}: {e}")))?;
        let current = have.lock.slots.get(&slot_id);
        if !s.bound_as(current)? {
            let before = current.map_or("-".to_string(), |b| {
                slot_text(
                    &b.requirement.to_string(),
                    &b.grants.iter().map(ToString::to_string).collect::<Vec<_>>(),
                )
            });
            plan = plan.change(
                format!("slot {slot}"),
                before,
                slot_text(&s.pack, &s.grants),
            );
        }
    }
    Ok(config_lines(plan, &have.meta.config, &want.config))
}

fn slot_text(pack: &str, grants: &[String]) -> String {
    if grants.is_empty() {
        pack.to_string()
    } else {
        format!("{pack} granting {}", grants.join(" "))
    }
}

fn policy_lines(mut plan: Plan, have: &Policy, want: &Policy, new: bool) -> Plan {
    let sources = |p: &Policy| {
        p.allowed_sources
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let after = |p: &Policy| {
        p.after
            .as_ref()
            .map_or("-".to_string(), ToString::to_string)
    };
    let gate = |p: &Policy| serde_json::to_string(&p.gate).unwrap_or_default();
    for (what, b, a) in [
        (
            "production",
            have.production.to_string(),
            want.production.to_string(),
        ),
        ("allowed sources", sources(have), sources(want)),
        ("after", after(have), after(want)),
        ("gate", gate(have), gate(want)),
    ] {
        if b != a || (new && what == "production" && want.production) {
            plan = plan.change(what, if new { "-".to_string() } else { b }, a);
        }
    }
    plan
}

fn config_lines(
    mut plan: Plan,
    have: &BTreeMap<String, BTreeMap<String, String>>,
    want: &BTreeMap<String, BTreeMap<String, String>>,
) -> Plan {
    for (pack, keys) in want {
        let current = have.get(pack).cloned().unwrap_or_default();
        for (k, v) in keys {
            if current.get(k) != Some(v) {
                let before = current.get(k).map_or("-".to_string(), |c| format!("{c:?}"));
                plan = plan.change(format!("config {pack} {k}"), before, format!("{v:?}"));
            }
        }
        for (k, v) in &current {
            if !keys.contains_key(k) {
                plan = plan.change(format!("config {pack} {k}"), format!("{v:?}"), "-");
            }
        }
    }
    plan
}

/// Orders environments so each comes after its previous rung.
pub fn ladder_order(file: &EnvFile) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let mut left: Vec<&String> = file.env.keys().collect();
    while !left.is_empty() {
        let before = left.len();
        left.retain(|name| {
            let after = file.env[*name].after.as_ref();
            let ready = after.is_none_or(|a| out.contains(a) || !file.env.contains_key(a));
            if ready {
                out.push((*name).clone());
            }
            !ready
        });
        if left.len() == before {
            // A loop: `env policy` refuses it when applied; keep going.
            out.extend(left.drain(..).cloned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_point_at_line_and_column() {
        let dir = tempfile::tempdir().expect("dir");
        let path = dir.path().join(FILE_NAME);
        std::fs::write(
            &path,
            "[env.dev]\nproduction = true\nsources = [\"nightly\"]\n",
        )
        .expect("write");
        let e = load(&path).expect_err("a bad source");
        assert!(e.message().contains("envpack.toml:3:"), "{}", e.message());
        std::fs::write(&path, "[env.prod]\nafter = \"dev\"\n[env.dev]\n").expect("write");
        let file = load(&path).expect("ok");
        assert_eq!(ladder_order(&file), ["dev", "prod"]);
        assert_eq!(find(dir.path()).as_deref(), Some(path.as_path()));
    }

    #[test]
    fn soaks_print_back() {
        let s: super::super::model::Soak = "12.5%:30m".parse().expect("soak");
        assert_eq!(soak_text(&s), "12.5%:1800s");
        assert_eq!(
            soak_text(&soak_text(&s).parse().expect("again")),
            "12.5%:1800s"
        );
    }
}
