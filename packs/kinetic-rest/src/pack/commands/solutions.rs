//! `kinetic solutions list|backup|recreate|build|install|remove`.

use envpack_sdk::{Args, Output, log};
use serde_json::{Value, json};

use super::{output, required};
use crate::conflicts;
use crate::digest;
use crate::layers;
use crate::pack::host::{HostIo, build_method, client};
use crate::pack::{artifacts, render};
use crate::preflight::preflight;
use crate::rest::{Client, KineticError};
use crate::solutions::build::{BuildMethod, build as build_solution};
use crate::solutions::{self, install as inst};
use crate::wit::{BuiltPackage, InstallOptions, InstallReport, LayerConflict};

pub fn list(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let all = solutions::list(&c)?;
    let mut text = format!("{} solutions in company {}\n", all.len(), c.company());
    for s in &all {
        text.push_str(&format!(
            "  {:<24} {:<12} {:>3} items  {}\n",
            s.id,
            s.version.as_deref().unwrap_or("-"),
            s.item_count,
            s.description
        ));
    }
    let json = json!({"company": c.company(), "solutions": all.iter().map(render::solution).collect::<Vec<_>>()});
    Ok(output(text.trim_end().to_string(), json))
}

pub fn backup(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let id = required(args, "solution")?;
    let b = solutions::backup(&c, id)?;
    let path = artifacts::save(
        "backups",
        c.company(),
        &format!("{id}.json"),
        b.document.as_bytes(),
    )?;
    let text = format!(
        "backed up {id} from company {} ({})\n  kept as {}",
        c.company(),
        b.digest,
        path.display()
    );
    let doc: Value = serde_json::from_str(&b.document).unwrap_or(Value::Null);
    Ok(output(
        text,
        json!({"solution": id, "company": c.company(), "digest": b.digest, "path": path.display().to_string(), "document": doc}),
    ))
}

pub fn recreate(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let id = required(args, "solution")?;
    let from = args.get("from-company").unwrap_or(c.company()).to_string();
    let doc = artifacts::load("backups", &from, &format!("{id}.json"))?.ok_or_else(|| {
        KineticError::Input(format!(
            "no backup of {id} from company {from}; help: envpack --env <env> kinetic solutions backup {id} --company {from}"
        ))
    })?;
    let exists = solutions::exists(&c, id)?;
    let replace = args.flag("replace");
    let plan = format!(
        "plan: recreate {id} in company {} from the backup of company {from}{}",
        c.company(),
        if exists {
            if replace {
                " (delete the existing definition first)"
            } else {
                " (refused: it exists; pass --replace)"
            }
        } else {
            ""
        }
    );
    let plan_json = json!({"action": "recreate", "solution": id, "company": c.company(), "from_company": from, "exists": exists, "replace": replace});
    if args.flag("dry-run") {
        return Ok(output(
            format!("{plan}\ndry run: nothing changed"),
            json!({"dry_run": true, "plan": plan_json}),
        ));
    }
    let s = solutions::recreate(&c, &String::from_utf8_lossy(&doc), replace)?;
    log::info(
        "recreated a solution",
        &[("solution", id), ("company", c.company())],
    );
    Ok(output(
        format!(
            "{plan}\nrecreated {id} ({} items, {})",
            s.item_count, s.digest
        ),
        json!({"plan": plan_json, "solution": render::solution(&s)}),
    ))
}

/// Builds and keeps the package; returns it with its digest.
fn build_and_keep(
    c: &Client<'_, HostIo>,
    id: &str,
    method: BuildMethod,
) -> Result<(BuiltPackage, String), KineticError> {
    let b = build_solution(c, id, method)?;
    let d = digest::of_bytes(&b.content);
    artifacts::save("packages", c.company(), &format!("{id}.cab"), &b.content)?;
    artifacts::save(
        "packages",
        c.company(),
        &format!("{id}.log"),
        b.build_log.as_bytes(),
    )?;
    Ok((b, d))
}

pub fn build(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let id = required(args, "solution")?;
    let method = build_method()?;
    if args.flag("dry-run") {
        // A build changes the server (a new build iteration, files left
        // in its folders), so a dry run only checks the definition exists.
        let exists = solutions::exists(&c, id)?;
        let plan = format!(
            "plan: build {id} in company {} ({method:?} method), then pre-flight it; the package is kept for `solutions install`{}",
            c.company(),
            if exists {
                ""
            } else {
                " (refused: no such solution definition)"
            }
        );
        return Ok(output(
            format!("{plan}\ndry run: nothing changed"),
            json!({"dry_run": true, "plan": {"action": "build", "solution": id, "company": c.company(), "exists": exists}}),
        ));
    }
    let (b, d) = build_and_keep(&c, id, method)?;
    let verdict = preflight(&b);
    let mut text = format!(
        "built {id} in company {}: {} ({} bytes, {d})\n  hash {}\n  pre-flight: {} ({})",
        c.company(),
        b.file_name,
        b.content.len(),
        if b.hash.is_empty() { "-" } else { &b.hash },
        if verdict.ok { "ok" } else { "FAILED" },
        verdict.summary
    );
    if !verdict.problems.is_empty() {
        text.push('\n');
        text.push_str(&render::records_text(&verdict.problems));
    }
    Ok(output(
        text,
        json!({"company": c.company(), "build": render::build(&b, &d), "preflight": render::preflight(&verdict)}),
    ))
}

fn options(args: &Args) -> InstallOptions {
    InstallOptions {
        overwrite_duplicate_files: args.flag("overwrite-duplicate-files"),
        overwrite_duplicate_data: args.flag("overwrite-duplicate-data"),
        delete_previous_install: args.flag("delete-previous-install"),
        override_directives: args.flag("override-directives"),
        only_current_company: !args.flag("all-companies"),
    }
}

pub fn install(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let id = required(args, "solution")?;
    let from = args.get("from-company").unwrap_or(c.company()).to_string();
    let policy = args.get("on-conflict").unwrap_or("fail");
    let package = artifacts::load("packages", &from, &format!("{id}.cab"))?.ok_or_else(|| {
        KineticError::Input(format!(
            "no package of {id} built in company {from}; help: envpack --env <env> kinetic solutions build {id} --company {from}"
        ))
    })?;
    let plan = inst::plan(&c, &format!("{id}.cab"), &package, options(args))?;
    let mut text = format!(
        "plan: {}\n  package {} {} from company {from}\n  on conflict: {policy}",
        plan.summary, plan.file_name, plan.package_digest
    );
    text.push_str(&predicted_text(&plan.predicted_conflicts, policy));
    let mut out = json!({"plan": render::plan(&plan), "on_conflict": policy});
    if args.flag("dry-run") {
        text.push_str("\ndry run: nothing changed");
        out["dry_run"] = json!(true);
        return Ok(output(text, out));
    }
    let mut steps = Vec::new();
    let mut report = inst::install(&c, &plan, &package)?;
    steps.push(json!({"step": "install", "report": render::install(&report)}));
    if report.has_errors && !report.conflicts.is_empty() && policy == "export-clear-and-retry-once"
    {
        retry_after_clearing(&c, &mut report, &mut steps, &mut text, &plan, &package)?;
    }
    out["steps"] = json!(steps);
    out["report"] = render::install(&report);
    if report.has_errors {
        let names: Vec<String> = report
            .conflicts
            .iter()
            .map(|l| render::layer_text(&l.layer))
            .collect();
        let why = if names.is_empty() {
            render::records_text(&report.records)
        } else {
            format!(
                "conflicting layers: {}; help: envpack --env <env> kinetic solutions install {id} --from-company {from} --on-conflict export-clear-and-retry-once",
                names.join(", ")
            )
        };
        return Err(KineticError::Host(
            crate::rest::error::HostKind::Conflict,
            format!("installing {id} into company {} failed: {why}", c.company()),
        ));
    }
    text.push_str(&format!(
        "\ninstalled {id} {} into company {}",
        report.installed_version.as_deref().unwrap_or("?"),
        c.company()
    ));
    if report.regenerate_data_model {
        text.push_str("\n  the server asks for the data model to be regenerated");
    }
    Ok(output(text, out))
}

/// The predicted conflicts of a plan, and what the policy will do.
fn predicted_text(predicted: &[LayerConflict], policy: &str) -> String {
    if predicted.is_empty() {
        return "\n  predicted layer conflicts: none".to_string();
    }
    let then = if policy == "fail" {
        "the install stops on it (--on-conflict fail)"
    } else {
        "exported, cleared, then the install is retried once"
    };
    predicted
        .iter()
        .map(|c| {
            format!(
                "\n  predicted layer conflict: {}; {then}",
                render::layer_text(&c.layer)
            )
        })
        .collect()
}

/// Exports every conflicting layer (kept in scratch), clears it, then
/// installs once more.
fn retry_after_clearing(
    c: &Client<'_, HostIo>,
    report: &mut InstallReport,
    steps: &mut Vec<Value>,
    text: &mut String,
    plan: &crate::wit::InstallPlan,
    package: &[u8],
) -> Result<(), KineticError> {
    for conflict in conflicts::parse(
        &report
            .records
            .iter()
            .map(|r| r.message.clone())
            .collect::<Vec<_>>(),
    ) {
        let export = layers::export(c, &conflict.layer)?;
        let company = export.layer.company.clone().unwrap_or_default();
        let path = artifacts::save(
            "layers",
            if company.is_empty() { "all" } else { &company },
            &export.file_name,
            &export.content,
        )?;
        let what = render::layer_text(&export.layer);
        log::info(
            "exported a conflicting layer",
            &[("layer", &what), ("digest", &export.digest)],
        );
        steps.push(json!({"step": "export-layer", "layer": render::layer_ref(&export.layer), "digest": export.digest, "path": path.display().to_string()}));
        text.push_str(&format!(
            "\n  exported {what} -> {} ({})",
            path.display(),
            export.digest
        ));
        let cleared = layers::clear(c, &export.layer)?;
        log::info("cleared a conflicting layer", &[("layer", &what)]);
        steps.push(json!({"step": "clear-layer", "layer": render::layer_ref(&export.layer), "cleared": cleared}));
        text.push_str(&format!("\n  cleared {what}"));
    }
    *report = inst::install(c, plan, package)?;
    steps.push(json!({"step": "retry-install", "report": render::install(report)}));
    text.push_str("\n  retried the install once");
    Ok(())
}

pub fn remove(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let id = required(args, "solution")?;
    let exists = solutions::exists(&c, id)?;
    let plan = format!(
        "plan: remove the definition {id} from company {} ({})",
        c.company(),
        if exists {
            "exists"
        } else {
            "does not exist: nothing to do"
        }
    );
    if args.flag("dry-run") || !exists {
        return Ok(output(
            format!("{plan}\nnothing changed"),
            json!({"dry_run": args.flag("dry-run"), "exists": exists, "removed": false}),
        ));
    }
    let removed = solutions::remove(&c, id)?;
    log::info(
        "removed a solution definition",
        &[("solution", id), ("company", c.company())],
    );
    Ok(output(
        format!("{plan}\nremoved {id}"),
        json!({"exists": exists, "removed": removed}),
    ))
}
