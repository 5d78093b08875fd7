//! `kinetic schema diff|apply --spec TEXT [--format F]`.
//!
//! Packs read no operator files, so the spec travels as an argument:
//! `--spec "$(cat Part_UD.xml)"`. `--format auto` (the default) takes text
//! starting with `<` as a ZDataTable XML export, `{` as JSON, else TOML.

use envpack_sdk::{Args, Output, log};
use serde_json::json;

use super::{output, required};
use crate::pack::host::client;
use crate::pack::render;
use crate::rest::KineticError;
use crate::schema::{apply::apply as apply_schema, diff::diff as diff_schema, spec};
use crate::wit::{SpecFormat, TableSpec};

fn table_spec(args: &Args) -> Result<TableSpec, KineticError> {
    let text = required(args, "spec")?.to_string();
    let t = text.trim_start();
    let format = match args.get("format").unwrap_or("auto") {
        "zdatatable-xml" | "xml" => SpecFormat::ZdatatableXml,
        "toml" => SpecFormat::Toml,
        "json" => SpecFormat::Json,
        _ if t.starts_with('<') => SpecFormat::ZdatatableXml,
        _ if t.starts_with('{') => SpecFormat::Json,
        _ => SpecFormat::Toml,
    };
    Ok(TableSpec { format, text })
}

pub fn diff(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let declared = spec::parse(&table_spec(args)?)?;
    let (d, _) = diff_schema(&c, &declared)?;
    Ok(output(
        render::schema_diff_text(&d),
        render::schema_diff(&d),
    ))
}

pub fn apply(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let declared = spec::parse(&table_spec(args)?)?;
    let (plan, _) = diff_schema(&c, &declared)?;
    let mut text = format!(
        "plan: create {} and update {} fields of {}.{} in company {}\n{}",
        plan.missing.len(),
        plan.drifted.len(),
        plan.system_code,
        plan.table,
        c.company(),
        render::schema_diff_text(&plan)
    );
    if args.flag("dry-run") {
        text.push_str("\ndry run: nothing changed");
        return Ok(output(
            text,
            json!({"dry_run": true, "plan": render::schema_diff(&plan)}),
        ));
    }
    let report = apply_schema(&c, &declared, &plan)?;
    log::info(
        "applied a UD schema",
        &[
            ("table", &report.table),
            ("created", &report.created.join(",")),
            ("updated", &report.updated.join(",")),
        ],
    );
    text.push_str(&format!(
        "\ncreated {}; updated {}\nsync: {}",
        if report.created.is_empty() {
            "none".into()
        } else {
            report.created.join(", ")
        },
        if report.updated.is_empty() {
            "none".into()
        } else {
            report.updated.join(", ")
        },
        render::sync_text(&report.sync)
    ));
    Ok(output(
        text,
        json!({"plan": render::schema_diff(&plan), "report": render::schema_report(&report)}),
    ))
}
