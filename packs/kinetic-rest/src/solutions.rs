//! Solution Workbench (`Ice.BO.ExportPackageSvc`): list, back up, recreate
//! and remove definitions. Building is in [`build`], installing in
//! [`install`].

pub mod build;
pub mod install;

use serde_json::{Map, Value, json};

use crate::digest;
use crate::json::{first_list, return_obj, rows, text};
use crate::rest::{Client, Io, KineticError};
use crate::wit::{Solution, SolutionBackup};

/// The service.
pub const SVC: &str = "Ice.BO.ExportPackageSvc";

/// The backup document's format marker.
pub const BACKUP_FORMAT: &str = "envpack.kinetic.solution-backup/1";

/// Tables of a solution's tableset that a backup keeps.
const TABLES: &[&str] = &[
    "ExportPackage",
    "EPSolutionHeader",
    "EPSolutionDetail",
    "EPSolutionPackage",
];

/// Every definition, sorted by id, each with the digest of its backup.
pub fn list<I: Io>(c: &Client<'_, I>) -> Result<Vec<Solution>, KineticError> {
    let answer = c.call(
        SVC,
        "GetList",
        &json!({"whereClause": "", "pageSize": 0, "absolutePage": 0}),
    )?;
    let mut ids: Vec<(String, String)> = first_list(return_obj(&answer))
        .into_iter()
        .map(|r| (text(r, "PackageID"), text(r, "Description")))
        .filter(|(id, _)| !id.is_empty())
        .collect();
    ids.sort();
    let mut out = Vec::new();
    for (id, description) in ids {
        let doc = backup_document(c, &id)?;
        out.push(summary(&id, description, &doc));
    }
    Ok(out)
}

fn summary(id: &str, description: String, doc: &Value) -> Solution {
    let header = rows(&doc["tableset"], "ExportPackage")
        .into_iter()
        .next()
        .cloned()
        .unwrap_or_default();
    let version = Some(text(&header, "Version")).filter(|v| !v.is_empty());
    Solution {
        id: id.to_string(),
        description,
        version,
        item_count: u32::try_from(rows(&doc["tableset"], "EPSolutionDetail").len())
            .unwrap_or(u32::MAX),
        digest: digest::of_json(
            &doc["tableset"],
            &["Company", "LastBuildDate", "CreatedOn", "BuildIteration"],
        ),
        attributes: vec![],
    }
}

/// The backup of one definition as JSON: header, details, packages and items.
pub fn backup_document<I: Io>(c: &Client<'_, I>, id: &str) -> Result<Value, KineticError> {
    let answer = c.call(SVC, "GetByID", &json!({"packageID": id}))?;
    let ds = return_obj(&answer);
    let mut tableset = Map::new();
    for table in TABLES {
        let mut kept: Vec<Value> = rows(ds, table)
            .into_iter()
            .map(|r| digest::canonical(&Value::Object(r.clone()), &[]))
            .collect();
        // The server's row order is not content: a recreated definition
        // lists its items in another order.
        kept.sort_by_key(|r| digest::canonical(r, &["Company"]).to_string());
        tableset.insert(table.to_string(), Value::Array(kept));
    }
    if rows(ds, "ExportPackage").is_empty() {
        return Err(KineticError::Server {
            status: 404,
            call: format!("{SVC}/GetByID"),
            reason: "Not Found".into(),
            message: format!("solution {id:?} does not exist in company {}", c.company()),
            error_type: String::new(),
            details: vec![],
            correlation_id: String::new(),
        });
    }
    let items = c.call(
        SVC,
        "GetSolutionItemsAsDynamicDataSet",
        &json!({"tableName": "", "solutionId": id}),
    )?;
    Ok(json!({
        "format": BACKUP_FORMAT,
        "solution": id,
        "company": c.company(),
        "tableset": tableset,
        "items": digest::canonical(return_obj(&items), &[]),
    }))
}

/// [`backup_document`] as the interface's record.
pub fn backup<I: Io>(c: &Client<'_, I>, id: &str) -> Result<SolutionBackup, KineticError> {
    let doc = backup_document(c, id)?;
    let document = serde_json::to_string_pretty(&doc).unwrap_or_default();
    Ok(SolutionBackup {
        solution: id.to_string(),
        digest: digest::of_bytes(document.as_bytes()),
        document,
    })
}

/// Whether a definition exists.
pub fn exists<I: Io>(c: &Client<'_, I>, id: &str) -> Result<bool, KineticError> {
    match c.call(SVC, "GetByID", &json!({"packageID": id})) {
        Ok(v) => Ok(!rows(return_obj(&v), "ExportPackage").is_empty()),
        Err(e) if matches!(e.status(), Some(400 | 404)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// A backup document, checked.
pub fn read_backup(document: &str) -> Result<Value, KineticError> {
    let doc: Value = serde_json::from_str(document)
        .map_err(|e| KineticError::Input(format!("the backup is not JSON: {e}")))?;
    if doc.get("format").and_then(Value::as_str) != Some(BACKUP_FORMAT) {
        return Err(KineticError::Input(format!(
            "the document is not a solution backup (expected \"format\": {BACKUP_FORMAT:?}); make one with `envpack --env <env> kinetic solutions backup <id>`"
        )));
    }
    if rows(&doc["tableset"], "ExportPackage").is_empty() {
        return Err(KineticError::Input(
            "the backup has no ExportPackage row".into(),
        ));
    }
    Ok(doc)
}

/// Recreates a definition from a backup in the client's company.
pub fn recreate<I: Io>(
    c: &Client<'_, I>,
    document: &str,
    replace: bool,
) -> Result<Solution, KineticError> {
    let doc = read_backup(document)?;
    let header = rows(&doc["tableset"], "ExportPackage")[0].clone();
    let id = text(&header, "PackageID");
    if exists(c, &id)? {
        if !replace {
            return Err(KineticError::Server {
                status: 409,
                call: format!("{SVC}/GetByID"),
                reason: "Conflict".into(),
                message: format!(
                    "solution {id:?} already exists in company {}; pass --replace to delete and recreate it",
                    c.company()
                ),
                error_type: String::new(),
                details: vec![],
                correlation_id: String::new(),
            });
        }
        c.call(SVC, "DeleteByID", &json!({"solutionID": id}))?;
    }
    let fresh = c.call(
        SVC,
        "GetNewExportPackage",
        &json!({"ds": {"ExportPackage": []}}),
    )?;
    let mut ds = fresh
        .get("parameters")
        .and_then(|p| p.get("ds"))
        .cloned()
        .unwrap_or_else(|| json!({}));
    let new_row = ds
        .get_mut("ExportPackage")
        .and_then(Value::as_array_mut)
        .and_then(|rows| rows.last_mut())
        .and_then(Value::as_object_mut)
        .ok_or_else(|| {
            KineticError::protocol(
                &format!("{SVC}/GetNewExportPackage"),
                "no new ExportPackage row in parameters.ds",
            )
        })?;
    for (k, v) in &header {
        if !digest::VOLATILE.contains(&k.as_str()) && k != "Company" {
            new_row.insert(k.clone(), v.clone());
        }
    }
    new_row.insert("RowMod".into(), json!("A"));
    c.call(SVC, "Update", &json!({"ds": ds}))?;
    let items = rows(&doc["tableset"], "EPSolutionDetail");
    if !items.is_empty() {
        let mut to_add: Map<String, Value> = Map::new();
        for item in items {
            let table = text(item, "TableName");
            let mut row = item.clone();
            row.retain(|k, _| {
                !digest::VOLATILE.contains(&k.as_str()) && k != "Company" && k != "SolutionID"
            });
            if let Value::Array(list) = to_add.entry(table).or_insert_with(|| json!([])) {
                list.push(Value::Object(row));
            }
        }
        c.call(
            SVC,
            "AddItemsToSolutionAndSave",
            &json!({"solutionId": id, "dsToAdd": to_add, "recordsToDelete": []}),
        )?;
    }
    let doc = backup_document(c, &id)?;
    Ok(summary(&id, text(&header, "Description"), &doc))
}

/// Removes a definition; `false` when there was none.
pub fn remove<I: Io>(c: &Client<'_, I>, id: &str) -> Result<bool, KineticError> {
    if !exists(c, id)? {
        return Ok(false);
    }
    c.call(SVC, "DeleteByID", &json!({"solutionID": id}))?;
    Ok(true)
}

#[cfg(test)]
#[path = "solutions_tests.rs"]
mod tests;
