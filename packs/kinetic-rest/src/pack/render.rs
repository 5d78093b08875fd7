//! Results as JSON (for `--json` and the host) and as text for people.

use serde_json::{Value, json};

use crate::inventory::kind_name;
use crate::wit::*;

fn record_kind(k: RecordKind) -> &'static str {
    match k {
        RecordKind::Info => "info",
        RecordKind::Warning => "warning",
        RecordKind::Error => "error",
    }
}

/// One log record.
pub fn record(r: &LogRecord) -> Value {
    json!({"kind": record_kind(r.kind), "at": r.at, "message": r.message})
}

/// A solution.
pub fn solution(s: &Solution) -> Value {
    json!({"id": s.id, "description": s.description, "version": s.version, "item_count": s.item_count, "digest": s.digest})
}

/// A build, without its bytes.
pub fn build(b: &BuiltPackage, digest: &str) -> Value {
    json!({
        "solution": b.solution, "file_name": b.file_name, "size": b.content.len(), "digest": digest,
        "hash": b.hash, "has_errors": b.has_errors, "build_log": b.build_log,
        "records": b.records.iter().map(record).collect::<Vec<_>>(),
        "source": match b.source { BuildSource::Inline => "inline", BuildSource::ServerFiles => "server-files" },
    })
}

/// A pre-flight verdict.
pub fn preflight(p: &PreflightReport) -> Value {
    json!({
        "ok": p.ok,
        "basis": match p.basis { VerdictBasis::Structured => "structured", VerdictBasis::TextHeuristics => "text-heuristics" },
        "problems": p.problems.iter().map(record).collect::<Vec<_>>(),
        "summary": p.summary,
    })
}

/// A layer address.
pub fn layer_ref(l: &LayerRef) -> Value {
    json!({"app_id": l.app_id, "layer_name": l.layer_name, "type_code": l.type_code, "company": l.company, "device_type": l.device_type, "cgc_code": l.cgc_code})
}

/// A layer conflict.
pub fn conflict(c: &LayerConflict) -> Value {
    let form = match c.form {
        ConflictForm::Identifier => "identifier",
        ConflictForm::AllCompanies => "all-companies",
        ConflictForm::AppLayers => "app-layers",
    };
    json!({"layer": layer_ref(&c.layer), "form": form, "message": c.message})
}

/// An install plan.
pub fn plan(p: &InstallPlan) -> Value {
    let o = &p.options;
    json!({
        "solution": p.solution, "file_name": p.file_name, "package_digest": p.package_digest,
        "package_version": p.package_version, "destination_version": p.destination_version,
        "installed_version": p.installed_version, "min_app_version": p.min_app_version,
        "source_company": p.source_company,
        "options": {
            "overwrite_duplicate_files": o.overwrite_duplicate_files, "overwrite_duplicate_data": o.overwrite_duplicate_data,
            "delete_previous_install": o.delete_previous_install, "override_directives": o.override_directives,
            "only_current_company": o.only_current_company,
        },
        "settings": serde_json::from_str::<Value>(&p.settings).unwrap_or(Value::Null),
        "predicted_conflicts": p.predicted_conflicts.iter().map(conflict).collect::<Vec<_>>(),
        "summary": p.summary,
    })
}

/// An install report.
pub fn install(r: &InstallReport) -> Value {
    json!({
        "has_errors": r.has_errors, "records": r.records.iter().map(record).collect::<Vec<_>>(),
        "conflicts": r.conflicts.iter().map(conflict).collect::<Vec<_>>(),
        "regenerate_data_model": r.regenerate_data_model, "installed_version": r.installed_version,
    })
}

/// A layer.
pub fn layer(l: &Layer) -> Value {
    json!({"layer": layer_ref(&l.layer), "published": l.published, "has_draft": l.has_draft, "system": l.system,
           "last_updated": l.last_updated, "last_updated_by": l.last_updated_by, "digest": l.digest})
}

/// The sync state.
pub fn sync(s: &SyncState) -> Value {
    json!({"db_exists": s.db_exists, "zdata_synced": s.zdata_synced, "data_model_synced": s.data_model_synced, "message": s.message})
}

/// A schema diff.
pub fn schema_diff(d: &SchemaDiff) -> Value {
    json!({
        "system_code": d.system_code, "table": d.table, "table_exists": d.table_exists,
        "missing": d.missing, "extra": d.extra,
        "drifted": d.drifted.iter().map(|f| json!({
            "field": f.field,
            "properties": f.properties.iter().map(|p| json!({"property": p.property, "declared": p.declared, "actual": p.actual})).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "sync": sync(&d.sync),
    })
}

/// A schema report.
pub fn schema_report(r: &SchemaReport) -> Value {
    json!({"system_code": r.system_code, "table": r.table, "created": r.created, "updated": r.updated, "sync": sync(&r.sync)})
}

/// An inventory item.
pub fn item(i: &InventoryItem) -> Value {
    json!({"kind": kind_name(i.kind), "id": i.id, "version": i.version, "digest": i.digest, "summary": i.summary})
}

/// The sync state in one line.
pub fn sync_text(s: &SyncState) -> String {
    let model = if s.data_model_synced {
        "data model in sync"
    } else {
        "data model out of sync: regenerate the data model"
    };
    let msg = if s.message.is_empty() {
        String::new()
    } else {
        format!(" ({})", s.message)
    };
    format!(
        "db {}, zdata {}, {model}{msg}",
        yes(s.db_exists),
        yes(s.zdata_synced)
    )
}

fn yes(b: bool) -> &'static str {
    if b { "exists" } else { "missing" }
}

/// A schema diff for people.
pub fn schema_diff_text(d: &SchemaDiff) -> String {
    let mut out = format!(
        "UD table {}.{}{}\n",
        d.system_code,
        d.table,
        if d.table_exists {
            ""
        } else {
            " (does not exist)"
        }
    );
    for f in &d.missing {
        out.push_str(&format!("  missing  {f}\n"));
    }
    for f in &d.drifted {
        for p in &f.properties {
            out.push_str(&format!(
                "  drifted  {}.{}: declared {} actual {}\n",
                f.field,
                p.property,
                p.declared.as_deref().unwrap_or("(unset)"),
                p.actual.as_deref().unwrap_or("(unset)")
            ));
        }
    }
    for f in &d.extra {
        out.push_str(&format!("  extra    {f} (left alone)\n"));
    }
    if d.missing.is_empty() && d.drifted.is_empty() && d.extra.is_empty() {
        out.push_str("  no differences\n");
    }
    out.push_str(&format!("  sync: {}", sync_text(&d.sync)));
    out
}

/// Records for people, one per line.
pub fn records_text(records: &[LogRecord]) -> String {
    records
        .iter()
        .map(|r| format!("  [{}] {}", record_kind(r.kind), r.message))
        .collect::<Vec<_>>()
        .join("\n")
}

/// A layer reference for people.
pub fn layer_text(l: &LayerRef) -> String {
    format!(
        "{}~{}~{} (company {})",
        l.app_id,
        l.layer_name,
        l.type_code,
        match l.company.as_deref() {
            None => "unknown",
            Some("") => "all",
            Some(c) => c,
        }
    )
}
