//! Kinetic installs under the environment's layer-conflict policy.
//!
//! The pack reports conflicts; it never clears a layer. With `fail` the
//! host stops and names them. With `export-clear-and-retry-once` it exports
//! each conflicting layer and keeps the bytes as a content-addressed
//! artifact in the environment's records *before* clearing anything, clears
//! it, and retries the install once with the same plan. Every step is an
//! audit event (started, then its outcome), so the log shows what was
//! exported where, what was cleared, and how the retry ended.

use serde_json::json;

use crate::deploy::journal::{AuditEvent, audit};
use crate::deploy::records::DeploymentRecords;
use crate::env::{EnvName, LayerConflicts};
use crate::error::{Error, Result};
use crate::runtime::slots::deployer::StepResult;
use crate::runtime::slots::kinetic::{
    InstallPlan, InstallReport, KineticClient, LayerConflict, LayerRef, RecordKind,
};

/// Installs `plan`; `what` names the revision for the audit log.
pub(super) fn install(
    client: &mut KineticClient<'_>,
    records: &DeploymentRecords,
    env: &EnvName,
    policy: LayerConflicts,
    plan: &InstallPlan,
    content: &[u8],
    what: &str,
) -> Result<Vec<StepResult>> {
    let target = format!("{} {} ({what})", plan.solution, plan.package_version);
    let first = audited_install(client, records, "kinetic.install", &target, plan, content)?;
    let mut steps = vec![install_step("install", &first)];
    if !first.has_errors {
        return Ok(steps);
    }
    let conflicts = distinct(&first.conflicts);
    if conflicts.is_empty() {
        return Err(failed(plan, &first));
    }
    if policy == LayerConflicts::Fail {
        return Err(Error::conflict(format!(
            "installing {} hit {} layer conflict(s): {}; nothing was cleared (layer-conflict policy `fail`)",
            plan.solution,
            conflicts.len(),
            names(&conflicts)
        ))
        .hint(format!(
            "export and clear them by hand with the kinetic pack's layer commands, or let envpack do it (each layer kept first): envpack env policy {env} --layer-conflicts export-clear-and-retry-once"
        )));
    }
    for c in &conflicts {
        steps.push(export_and_clear(client, records, c)?);
    }
    let again = audited_install(
        client,
        records,
        "kinetic.install.retry",
        &target,
        plan,
        content,
    )?;
    steps.push(install_step("install-retry", &again));
    if !again.has_errors {
        // The first attempt's failure was resolved: it no longer fails the
        // revision, and its step says how.
        steps[0].ok = true;
        steps[0].message = format!(
            "hit layer conflicts ({}), resolved by the layer-conflict policy export-clear-and-retry-once",
            names(&conflicts)
        );
    }
    if again.has_errors {
        let mut e = failed(plan, &again);
        if !again.conflicts.is_empty() {
            e = e.and(format!(
                "; after clearing {} it still conflicts with {} (the install is retried once only)",
                names(&conflicts),
                names(again.conflicts.iter().map(|c| &c.layer))
            ));
        }
        return Err(e);
    }
    Ok(steps)
}

/// Each layer once, in the order reported.
fn distinct(found: &[LayerConflict]) -> Vec<LayerRef> {
    let mut out: Vec<LayerRef> = Vec::new();
    for c in found {
        if !out.contains(&c.layer) {
            out.push(c.layer.clone());
        }
    }
    out
}

fn names<'a>(layers: impl IntoIterator<Item = &'a LayerRef>) -> String {
    layers
        .into_iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

fn install_step(id: &str, r: &InstallReport) -> StepResult {
    StepResult {
        id: id.into(),
        ok: !r.has_errors,
        message: if r.has_errors {
            first_error(r)
        } else {
            format!(
                "installed {}{}",
                r.installed_version
                    .as_deref()
                    .unwrap_or("(version not reported)"),
                if r.regenerate_data_model {
                    "; the data model must be regenerated"
                } else {
                    ""
                }
            )
        },
    }
}

fn first_error(r: &InstallReport) -> String {
    r.records
        .iter()
        .find(|x| x.kind == RecordKind::Error)
        .map_or_else(
            || "the server reported errors".to_string(),
            |x| x.message.clone(),
        )
}

fn failed(plan: &InstallPlan, r: &InstallReport) -> Error {
    Error::unavailable(format!(
        "installing {} {} failed: {}",
        plan.solution,
        plan.package_version,
        first_error(r)
    ))
}

/// Runs one pack call as an audited step: `started` first (no audit, no
/// call), then its outcome with what it produced.
fn step<T>(
    records: &DeploymentRecords,
    verb: &str,
    target: &str,
    call: impl FnOnce() -> Result<(T, String, serde_json::Value)>,
) -> Result<T> {
    let started = AuditEvent::new(verb, target, "started");
    audit(records.env(), &started)?;
    match call() {
        Ok((value, result, after)) => {
            let mut done = started.outcome(result);
            done.after = Some(after);
            audit(records.env(), &done)?;
            Ok(value)
        }
        Err(e) => {
            // Best effort: the error the operator sees is the call's own.
            let _ = audit(
                records.env(),
                &started.outcome(format!("failed: {}", e.message())),
            );
            Err(e)
        }
    }
}

fn audited_install(
    client: &mut KineticClient<'_>,
    records: &DeploymentRecords,
    verb: &str,
    target: &str,
    plan: &InstallPlan,
    content: &[u8],
) -> Result<InstallReport> {
    step(records, verb, target, || {
        let r = client.install(plan, content)?;
        let result = match (r.has_errors, r.conflicts.is_empty()) {
            (false, _) => "ok".to_string(),
            (true, true) => format!("failed: {}", first_error(&r)),
            (true, false) => format!(
                "failed: layer conflicts: {}",
                names(r.conflicts.iter().map(|c| &c.layer))
            ),
        };
        let after = json!({
            "has_errors": r.has_errors,
            "conflicts": r.conflicts,
            "regenerate_data_model": r.regenerate_data_model,
            "installed_version": r.installed_version,
        });
        Ok((r, result, after))
    })
}

/// Exports a layer, keeps the export as an artifact, then clears it.
fn export_and_clear(
    client: &mut KineticClient<'_>,
    records: &DeploymentRecords,
    layer: &LayerRef,
) -> Result<StepResult> {
    let target = layer.to_string();
    let artifact = step(records, "kinetic.layer.export", &target, || {
        let export = client.export_layer(layer)?;
        let kept = records.store_artifact(&export.content)?;
        if !export.digest.is_empty() && export.digest != kept.to_string() {
            return Err(Error::integrity(format!(
                "the export of layer {target} says it is {}, but its bytes are {kept}; the layer was not cleared",
                export.digest
            )));
        }
        let after = json!({
            "artifact": kept.to_string(),
            "file_name": export.file_name,
            "bytes": export.content.len(),
        });
        Ok((kept, format!("ok: kept as artifact {kept}"), after))
    })?;
    let existed = step(records, "kinetic.layer.clear", &target, || {
        let existed = client.clear_layer(layer)?;
        let after = json!({ "existed": existed, "restore_from": artifact.to_string() });
        Ok((existed, "ok".to_string(), after))
    })?;
    Ok(StepResult {
        id: format!("layer:{target}"),
        ok: true,
        message: format!(
            "exported as artifact {artifact}, then {}",
            if existed {
                "cleared"
            } else {
                "found already gone"
            }
        ),
    })
}
