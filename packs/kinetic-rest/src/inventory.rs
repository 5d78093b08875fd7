//! Everything observable on the target, each item with a digest, for
//! `envpack observe` / `drift` / `history`.
//!
//! A kind whose service the server does not have (404) is left out rather
//! than failing the whole inventory; the result says which were skipped.

use serde_json::{Map, Value, json};

use crate::digest;
use crate::json::{first_list, return_obj, text};
use crate::layers;
use crate::rest::{Client, Io, KineticError};
use crate::schema::{self, diff::read_table};
use crate::solutions::{self, install};
use crate::wit::{InventoryItem, ItemKind};

/// All kinds, in the order items are sorted.
pub const KINDS: &[ItemKind] = &[
    ItemKind::Solution,
    ItemKind::InstalledSolution,
    ItemKind::UdTable,
    ItemKind::UdField,
    ItemKind::Layer,
    ItemKind::Baq,
    ItemKind::Directive,
    ItemKind::EfxLibrary,
];

/// The kind's name on the command line and in JSON.
pub fn kind_name(k: ItemKind) -> &'static str {
    match k {
        ItemKind::Solution => "solution",
        ItemKind::InstalledSolution => "installed-solution",
        ItemKind::UdTable => "ud-table",
        ItemKind::UdField => "ud-field",
        ItemKind::Layer => "layer",
        ItemKind::Baq => "baq",
        ItemKind::Directive => "directive",
        ItemKind::EfxLibrary => "efx-library",
    }
}

/// A kind by name.
pub fn parse_kind(s: &str) -> Option<ItemKind> {
    KINDS.iter().copied().find(|k| kind_name(*k) == s)
}

fn rank(k: ItemKind) -> usize {
    KINDS
        .iter()
        .position(|x| kind_name(*x) == kind_name(k))
        .unwrap_or(usize::MAX)
}

fn item(
    kind: ItemKind,
    id: String,
    version: Option<String>,
    digest: String,
    summary: String,
) -> InventoryItem {
    InventoryItem {
        kind,
        id,
        version,
        digest,
        summary,
        attributes: vec![],
    }
}

/// The inventory: items of `kinds` (all when empty), sorted by kind then id,
/// and the kinds skipped because the server lacks their service.
pub fn inventory<I: Io>(
    c: &Client<'_, I>,
    kinds: &[ItemKind],
    ud_tables: &[(String, String)],
) -> Result<(Vec<InventoryItem>, Vec<String>), KineticError> {
    let wanted: Vec<ItemKind> = if kinds.is_empty() {
        KINDS.to_vec()
    } else {
        kinds.to_vec()
    };
    let mut out = Vec::new();
    let mut skipped = Vec::new();
    let has = |k: ItemKind| wanted.iter().any(|w| kind_name(*w) == kind_name(k));
    let mut run =
        |kind: &str, r: Result<Vec<InventoryItem>, KineticError>| -> Result<(), KineticError> {
            match r {
                Ok(items) => out.extend(items),
                Err(e) if e.status() == Some(404) && e.server_text().contains("not found") => {
                    skipped.push(kind.to_string())
                }
                Err(e) => return Err(e),
            }
            Ok(())
        };
    if has(ItemKind::Solution) {
        run("solution", solutions(c))?;
    }
    if has(ItemKind::InstalledSolution) {
        run("installed-solution", installed(c))?;
    }
    if has(ItemKind::UdTable) || has(ItemKind::UdField) {
        let r = ud(c, ud_tables).map(|items| items.into_iter().filter(|i| has(i.kind)).collect());
        run("ud-table", r)?;
    }
    if has(ItemKind::Layer) {
        run("layer", layer_items(c))?;
    }
    for (kind, svc, method, id_keys) in [
        (
            ItemKind::Baq,
            "Ice.BO.BAQDesignerSvc",
            "GetList",
            &["QueryID"][..],
        ),
        (
            ItemKind::Directive,
            "Ice.BO.BpMethodSvc",
            "GetList",
            &["BpMethodCode", "Name"][..],
        ),
        (
            ItemKind::EfxLibrary,
            "Ice.BO.EfxLibraryDesignerSvc",
            "GetLibraryList",
            &["LibraryID"][..],
        ),
    ] {
        if has(kind) {
            run(kind_name(kind), listed(c, kind, svc, method, id_keys))?;
        }
    }
    out.sort_by(|a, b| (rank(a.kind), &a.id).cmp(&(rank(b.kind), &b.id)));
    Ok((out, skipped))
}

fn solutions<I: Io>(c: &Client<'_, I>) -> Result<Vec<InventoryItem>, KineticError> {
    Ok(solutions::list(c)?
        .into_iter()
        .map(|s| {
            let summary = format!("{} ({} items)", s.description, s.item_count);
            item(ItemKind::Solution, s.id, s.version, s.digest, summary)
        })
        .collect())
}

fn installed<I: Io>(c: &Client<'_, I>) -> Result<Vec<InventoryItem>, KineticError> {
    Ok(install::installed(c)?
        .into_iter()
        .map(|(id, v)| {
            let d = digest::of_json(&json!({"solution": id, "version": v}), &[]);
            let summary = format!("installed at {v}");
            item(ItemKind::InstalledSolution, id, Some(v), d, summary)
        })
        .collect())
}

/// UD tables to look at: the configured `ud_tables`, or every table the
/// server lists whose id looks like a UD table (`*_UD`, `UDnn`).
fn ud_table_ids<I: Io>(
    c: &Client<'_, I>,
    configured: &[(String, String)],
) -> Result<Vec<(String, String)>, KineticError> {
    if !configured.is_empty() {
        return Ok(configured.to_vec());
    }
    let v = c.call(
        schema::SVC,
        "GetList",
        &json!({"whereClause": "", "pageSize": 0, "absolutePage": 0}),
    )?;
    let mut ids: Vec<(String, String)> = first_list(return_obj(&v))
        .into_iter()
        .map(|r| (text(r, "SystemCode"), text(r, "DataTableID")))
        .filter(|(_, t)| {
            let u = t.to_ascii_uppercase();
            u.ends_with("_UD")
                || (u.starts_with("UD") && u[2..].chars().all(|c| c.is_ascii_digit()))
        })
        .collect();
    ids.sort();
    ids.dedup();
    Ok(ids)
}

fn ud<I: Io>(
    c: &Client<'_, I>,
    configured: &[(String, String)],
) -> Result<Vec<InventoryItem>, KineticError> {
    let mut out = Vec::new();
    for (system_code, table) in ud_table_ids(c, configured)? {
        let Some(ds) = read_table(c, &system_code, &table)? else {
            continue;
        };
        let drop = &["Company", "SysRevID", "SysRowID"];
        let header: Vec<&Map<String, Value>> = crate::json::rows(&ds, "ZDataTable");
        let fields = crate::json::rows(&ds, "ZDataField");
        let table_digest = digest::of_json(&json!({"table": header, "fields": fields}), drop);
        out.push(item(
            ItemKind::UdTable,
            format!("{system_code}.{table}"),
            None,
            table_digest,
            format!("{} fields", fields.len()),
        ));
        for f in fields {
            let name = text(f, "FieldName");
            let summary = format!("{} {}", text(f, "DataType"), text(f, "Description"))
                .trim()
                .to_string();
            let d = digest::of_json(&Value::Object(f.clone()), drop);
            out.push(item(
                ItemKind::UdField,
                format!("{table}.{name}"),
                None,
                d,
                summary,
            ));
        }
    }
    Ok(out)
}

fn layer_items<I: Io>(c: &Client<'_, I>) -> Result<Vec<InventoryItem>, KineticError> {
    let request = json!({"Type": "view", "SubType": "", "SearchText": "", "IncludeAllLayers": true, "IncludePersLayers": false});
    let v = c.call(layers::SVC, "GetApplications", &json!({"request": request}))?;
    let mut apps: Vec<String> = match return_obj(&v) {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect::<Vec<_>>(),
        other => first_list(other),
    }
    .into_iter()
    .filter(|a| {
        a.get("Layers")
            .and_then(Value::as_array)
            .is_some_and(|l| !l.is_empty())
    })
    .map(|a| text(a, "Id"))
    .filter(|id| !id.is_empty())
    .collect();
    apps.sort();
    apps.dedup();
    let mut out = Vec::new();
    for app in apps {
        // GetApp carries each layer's content, so an edit changes the digest.
        let v = layers::read(c, "GetApp", &json!({"id": app}))?;
        let content = return_obj(&v).get("Layers").cloned().unwrap_or(Value::Null);
        let contents: Vec<&Map<String, Value>> = content
            .as_array()
            .map(|a| a.iter().filter_map(Value::as_object).collect())
            .unwrap_or_default();
        for l in layers::list(c, &app)? {
            let body = contents.iter().find(|r| {
                text(r, "LayerName") == l.layer.layer_name
                    && Some(text(r, "Company")) == l.layer.company
            });
            let d = match body {
                Some(r) => digest::of_json(
                    &Value::Object((*r).clone()),
                    &["LastUpdated", "LastUpdatedBy"],
                ),
                None => l.digest.clone(),
            };
            let summary = format!(
                "{}{}{}",
                if l.published {
                    "published"
                } else {
                    "unpublished"
                },
                if l.has_draft { ", draft" } else { "" },
                l.last_updated_by
                    .as_deref()
                    .map(|u| format!(", last by {u}"))
                    .unwrap_or_default()
            );
            out.push(item(
                ItemKind::Layer,
                layers::key(&l.layer),
                None,
                d,
                summary,
            ));
        }
    }
    Ok(out)
}

fn listed<I: Io>(
    c: &Client<'_, I>,
    kind: ItemKind,
    svc: &str,
    method: &str,
    id_keys: &[&str],
) -> Result<Vec<InventoryItem>, KineticError> {
    let v = c.call(
        svc,
        method,
        &json!({"whereClause": "", "pageSize": 0, "absolutePage": 0}),
    )?;
    Ok(first_list(return_obj(&v))
        .into_iter()
        .map(|r| {
            let id = id_keys
                .iter()
                .map(|k| text(r, k))
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join("/");
            let summary = text(r, "Description");
            item(
                kind,
                id,
                None,
                digest::of_json(&Value::Object(r.clone()), &["Company"]),
                summary,
            )
        })
        .filter(|i| !i.id.is_empty())
        .collect())
}
