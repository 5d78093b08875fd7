//! `envpack env policy`: the flags as one edit, the plan of a change, and
//! the change.

use super::{after, name};
use crate::cli::Ctx;
use crate::cli::args::{GateArgs, LayerConflictsArg, PolicyArgs, SigningPolicyArgs};
use crate::cli::output::Report;
use crate::env::plan::Plan;
use crate::env::{self, EnvName};
use crate::error::{Error, Result};

/// Evidence globs of environment `n`, each checked to compile.
fn check_globs(n: &EnvName, list: &[String]) -> Result<()> {
    for g in list {
        globset::Glob::new(g.strip_prefix("evidence/").unwrap_or(g)).map_err(|e| {
            Error::invalid(format!("--require-evidence {g:?} is not a valid glob: {e}")).hint(
                format!("envpack env policy {n} --require-evidence 'evidence/*.xml'"),
            )
        })?;
    }
    Ok(())
}

/// What the `env policy` flags change.
pub(super) fn policy_edit(
    policy: &PolicyArgs,
    no_production: bool,
    no_after: bool,
    gate: GateArgs,
) -> Result<env::PolicyEdit> {
    Ok(env::PolicyEdit {
        production: (policy.production || no_production).then_some(policy.production),
        set_sources: policy.allow_source.clone(),
        after: if no_after {
            Some(None)
        } else {
            after(policy)?.map(Some)
        },
        add_evidence: gate.require_evidence,
        remove_evidence: gate.drop_evidence,
        soak: if gate.no_soak {
            Some(None)
        } else {
            gate.soak.map(Some)
        },
        no_drift: if gate.allow_drift {
            Some(false)
        } else {
            gate.require_no_drift.then_some(true)
        },
        allow_dev_secrets: policy.allow_dev_secrets.then_some(true),
        ..Default::default()
    })
}

/// What the signature and tag flags of `env policy` change.
pub(super) fn signing_edit(edit: &mut env::PolicyEdit, signing: SigningPolicyArgs) -> Result<()> {
    let flag = |on: bool, off: bool| match (on, off) {
        (true, _) => Some(true),
        (_, true) => Some(false),
        _ => None,
    };
    for file in &signing.trust_key {
        let k = crate::deploy::bundle::signature::read_public(file)?;
        edit.trust_keys.push((k.key_id, k.public_key));
    }
    for p in &signing.tag_pattern {
        crate::deploy::check_tag_pattern(p)?;
    }
    edit.require_provenance = flag(signing.require_provenance, signing.no_require_provenance);
    edit.require_signature = flag(signing.require_signature, signing.no_require_signature);
    edit.untrust_keys = signing.untrust_key;
    edit.layer_conflicts = signing.layer_conflicts.map(|c| match c {
        LayerConflictsArg::Fail => env::LayerConflicts::Fail,
        LayerConflictsArg::ExportClearAndRetryOnce => env::LayerConflicts::ExportClearAndRetryOnce,
    });
    edit.tag_patterns = if signing.any_tag {
        Some(Vec::new())
    } else if signing.tag_pattern.is_empty() {
        None
    } else {
        Some(signing.tag_pattern)
    };
    Ok(())
}

pub(super) fn set_policy(ctx: &Ctx, n: String, edit: &env::PolicyEdit) -> Result<Report> {
    let n = name(&n)?;
    check_globs(&n, &edit.add_evidence)?;
    if edit.require_signature == Some(true) {
        let current = env::show(&ctx.home, &n)?.meta.policy.trusted_keys;
        if current.is_empty() && edit.trust_keys.is_empty() {
            return Err(Error::invalid(format!(
                "--require-signature on {n} with no trusted key would refuse every bundle"
            ))
            .hint(format!(
                "envpack env policy {n} --trust-key release.key.pub --require-signature"
            )));
        }
    }
    let planned = |dry_run| env::policy(&ctx.home, &n, edit, dry_run);
    let plan = || planned(true).map(|c| policy_plan(&n, &c));
    if let Some(report) = ctx.plan_first(&n, plan)? {
        return Ok(report);
    }
    let change = planned(false)?;
    let human = if change.before == change.after {
        format!("policy of {n} unchanged")
    } else {
        let lines = policy_plan(&n, &change).human();
        let detail = lines.split_once('\n').map_or("", |(_, rest)| rest);
        format!("updated the policy of {n}:\n{detail}")
    };
    Ok(Report::new(human, &change))
}

/// A policy change as a plan: each part that changes, before -> after.
fn policy_plan(n: &EnvName, c: &env::PolicyChange) -> Plan {
    let mut plan = Plan::new("env.policy", n, n.to_string());
    for ((what, before), (_, now)) in policy_fields(&c.before)
        .into_iter()
        .zip(policy_fields(&c.after))
    {
        if before != now {
            plan = plan.change(what, before, now);
        }
    }
    plan
}

/// Every part of a policy, as a plan shows it.
fn policy_fields(p: &env::Policy) -> Vec<(&'static str, String)> {
    let list = |v: Vec<&str>, none: &str| {
        if v.is_empty() {
            none.to_string()
        } else {
            v.join(", ")
        }
    };
    vec![
        ("production", p.production.to_string()),
        (
            "allowed sources",
            list(
                p.allowed_sources.iter().map(|s| s.as_str()).collect(),
                "none",
            ),
        ),
        (
            "after",
            p.after
                .as_ref()
                .map_or("-".to_string(), ToString::to_string),
        ),
        (
            "gate: evidence",
            list(p.gate.evidence.iter().map(String::as_str).collect(), "none"),
        ),
        (
            "gate: soak",
            p.gate.soak.map_or("none".to_string(), |s| s.to_string()),
        ),
        ("gate: no drift", p.gate.no_drift.to_string()),
        ("require provenance", p.require_provenance.to_string()),
        ("require signature", p.require_signature.to_string()),
        (
            "trusted keys",
            list(p.trusted_keys.keys().map(String::as_str).collect(), "none"),
        ),
        (
            "tag patterns",
            list(p.tag_patterns.iter().map(String::as_str).collect(), "any"),
        ),
        ("layer conflicts", p.layer_conflicts.as_str().to_string()),
    ]
}
