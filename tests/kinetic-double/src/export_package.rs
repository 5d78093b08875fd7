//! `Ice.BO.ExportPackageSvc`, the Solution Workbench: solution definitions and their items.
//! Building is in `solution_build`, installing in `install`; this module routes to them.
//!
//! A solution is an `ExportPackage` row plus `EPSolutionDetail` item rows; an item names what
//! it packs with `ItemType` / `TableName` and `Key1..Key3`:
//! `Layer` (`XXXDef`: ViewId, LayerName, TypeCode), `UDColumn` (`ZDataField`: DataTableID,
//! FieldName), `BAQ` (`QueryHdr`: QueryID), `Directive` (`BpDirective`: BpMethodCode, Name),
//! `EfxLibrary` (`EfxLibrary`: LibraryID).

use serde_json::{Map, Value, json};

use crate::error::EpicorError;
use crate::query;
use crate::services::Call;
use crate::state::{Solution, State};
use crate::util::{field, now_iso, rows, text};

/// Answers one ExportPackageSvc method.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let (co, body) = (call.company.as_str(), &call.body);
    match call.method.as_str() {
        "GetList" => get_list(state, co, body),
        "GetByID" => {
            let id = first_str(body, &["packageID", "solutionID", "id"]);
            Ok(json!({ "returnObj": tableset_of(state, co, &[id])? }))
        }
        "GetNewExportPackage" => get_new(state, co, body),
        "Update" => update(state, co, body),
        "DeleteByID" => delete(state, co, first_str(body, &["solutionID", "packageID"])),
        "GetSolutionItemsAsDynamicDataSet" => items_dataset(state, co, body, false),
        "GetTrackedItemsAsDynamicDataSet" => items_dataset(state, co, body, true),
        "AddItemsToSolutionAndSave" => add_items(state, co, body),
        "GetBuildSettings" | "ValidateBuildSettings" | "Build" | "BuildSolution" => {
            crate::solution_build::call(state, call)
        }
        "GetInstallSettings"
        | "ValidateInstallSettings"
        | "Install"
        | "GetInstalledSolutions"
        | "GetSolutionHistory" => crate::install::call(state, call),
        _ => Err(call.unknown_method()),
    }
}

/// The first non-empty string among these body keys.
pub fn first_str<'a>(body: &'a Value, keys: &[&str]) -> &'a str {
    keys.iter()
        .map(|k| field(body, k))
        .find(|s| !s.is_empty())
        .unwrap_or("")
}

/// The solution with this id (case-insensitive) in a company, or the 400 Kinetic answers.
pub fn solution<'a>(state: &'a State, co: &str, id: &str) -> Result<&'a Solution, EpicorError> {
    state
        .companies
        .get(co)
        .and_then(|c| {
            c.solutions
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(id))
                .map(|(_, s)| s)
        })
        .ok_or_else(|| not_found(id))
}

fn not_found(id: &str) -> EpicorError {
    EpicorError::record_not_found(format!("Record not found: solution '{id}'."))
        .with_detail("ExportPackage", "PackageID")
}

fn get_list(state: &State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let (where_clause, size, page) = query::list_args(body, "whereClause");
    let headers = state
        .companies
        .get(co)
        .map(|c| c.solutions.values().map(|s| s.header.clone()).collect())
        .unwrap_or_default();
    let (rows, more) = query::select(headers, &where_clause, size, page)?;
    Ok(json!({
        "returnObj": { "ExportPackageList": rows },
        "parameters": { "morePages": more },
    }))
}

/// The full tableset of these solutions, as GetByID and Update answer.
fn tableset_of(state: &State, co: &str, ids: &[&str]) -> Result<Value, EpicorError> {
    let mut ds = empty_tableset();
    for id in ids {
        let s = solution(state, co, id)?;
        append_solution(&mut ds, s);
    }
    Ok(Value::Object(ds))
}

fn empty_tableset() -> Map<String, Value> {
    let tables = [
        "ExportPackage",
        "EPSolutionHeader",
        "EPSolutionDetail",
        "EPSolutionPackage",
        "EPSolutionTracker",
        "EPSolutionTrackerItem",
        "EPHistory",
    ];
    tables.iter().map(|t| (t.to_string(), json!([]))).collect()
}

fn push(ds: &mut Map<String, Value>, table: &str, row: Value) {
    if let Some(Value::Array(rows)) = ds.get_mut(table) {
        rows.push(row);
    }
}

fn append_solution(ds: &mut Map<String, Value>, s: &Solution) {
    let h = &s.header;
    push(ds, "ExportPackage", Value::Object(h.clone()));
    push(
        ds,
        "EPSolutionHeader",
        json!({
            "Company": h.get("Company"), "SolutionID": h.get("PackageID"),
            "Description": h.get("Description"), "Version": h.get("Version"),
            "BuildIteration": h.get("BuildIteration"), "SolutionTypeID": h.get("SolutionTypeID"),
            "MinAppVersion": h.get("MinAppVersion"), "SysRowID": h.get("SysRowID"),
            "SysRevID": h.get("SysRevID"), "BitFlag": 0, "RowMod": "",
        }),
    );
    for item in &s.items {
        push(ds, "EPSolutionDetail", Value::Object(item.clone()));
    }
    push(
        ds,
        "EPSolutionPackage",
        json!({
            "Company": h.get("Company"), "SolutionID": h.get("PackageID"),
            "PackageID": h.get("PackageID"), "Version": h.get("Version"),
            "BitFlag": 0, "RowMod": "",
        }),
    );
    for row in &s.tracked {
        push(ds, "EPSolutionTracker", Value::Object(row.clone()));
    }
    for row in &s.history {
        push(ds, "EPHistory", Value::Object(row.clone()));
    }
}

/// A new `ExportPackage` row with the defaults Kinetic fills in.
pub fn new_header(state: &mut State, co: &str, id: &str, description: &str) -> Map<String, Value> {
    let user = state.config.user.clone();
    state.row(json!({
        "Company": co, "PackageID": id, "Description": description, "Version": "1.0.0.0",
        "SolutionTypeID": "", "BuildIteration": 0, "MinAppVersion": "2024.2",
        "CreatedBy": user, "CreatedOn": now_iso(), "LastBuildDate": null, "Installed": false,
    }))
}

fn get_new(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let mut ds = match body.get("ds") {
        Some(Value::Object(ds)) => ds.clone(),
        _ => empty_tableset(),
    };
    let mut row = new_header(state, co, "", "");
    row.insert("RowMod".into(), json!("A"));
    match ds.get_mut("ExportPackage") {
        Some(Value::Array(rows)) => rows.push(Value::Object(row)),
        _ => {
            ds.insert("ExportPackage".into(), json!([row]));
        }
    }
    Ok(json!({ "parameters": { "ds": ds } }))
}

const BOOKKEEPING: [&str; 5] = ["SysRowID", "SysRevID", "BitFlag", "RowMod", "Company"];

fn update(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let ds = body.get("ds").cloned().unwrap_or(Value::Null);
    let mut touched: Vec<String> = Vec::new();
    for row in rows(&ds, "ExportPackage") {
        if let Some(id) = update_header(state, co, row)? {
            touched.push(id);
        }
    }
    for table in ["EPSolutionDetail", "EPSolutionTracker"] {
        for row in rows(&ds, table) {
            if matches!(text(row, "RowMod"), "A" | "U" | "D") {
                update_item(state, co, table, row)?;
                touched.push(text(row, "SolutionID").to_string());
            }
        }
    }
    touched.sort();
    touched.dedup();
    let live: Vec<&str> = touched
        .iter()
        .map(String::as_str)
        .filter(|id| solution(state, co, id).is_ok())
        .collect();
    Ok(json!({ "parameters": { "ds": tableset_of(state, co, &live)? } }))
}

/// Applies one `ExportPackage` row by its `RowMod`; returns the solution id it touched.
fn update_header(
    state: &mut State,
    co: &str,
    row: &Map<String, Value>,
) -> Result<Option<String>, EpicorError> {
    let id = text(row, "PackageID").to_string();
    match text(row, "RowMod") {
        "A" => {
            if id.trim().is_empty() {
                return Err(EpicorError::bad_request("Solution ID is required.")
                    .with_detail("ExportPackage", "PackageID"));
            }
            if solution(state, co, &id).is_ok() {
                return Err(
                    EpicorError::conflict(format!("Solution '{id}' already exists."))
                        .with_detail("ExportPackage", "PackageID"),
                );
            }
            let mut header = new_header(state, co, &id, text(row, "Description"));
            merge(&mut header, row);
            let solution = Solution {
                header,
                ..Solution::default()
            };
            company(state, co).solutions.insert(id.clone(), solution);
        }
        "U" => {
            let key = canonical_id(state, co, &id)?;
            let mut header = company(state, co).solutions[&key].header.clone();
            merge(&mut header, row);
            state.stamp(&mut header);
            if let Some(s) = company(state, co).solutions.get_mut(&key) {
                s.header = header;
            }
        }
        "D" => {
            let key = canonical_id(state, co, &id)?;
            company(state, co).solutions.remove(&key);
        }
        _ => return Ok(None),
    }
    Ok(Some(id))
}

/// Applies an `EPSolutionDetail` row (or, with `table` `EPSolutionTracker`, a tracked-item row).
fn update_item(
    state: &mut State,
    co: &str,
    table: &str,
    row: &Map<String, Value>,
) -> Result<(), EpicorError> {
    let key = canonical_id(state, co, text(row, "SolutionID"))?;
    let sys_row_id = text(row, "SysRowID").to_string();
    match text(row, "RowMod") {
        "A" => {
            let mut item = state.row(Value::Object(row.clone()));
            item.insert("Company".into(), json!(co));
            item.insert("SolutionID".into(), json!(key));
            if let Some(s) = company(state, co).solutions.get_mut(&key) {
                rows_of(s, table).push(item);
            }
        }
        "U" | "D" => {
            let delete = text(row, "RowMod") == "D";
            let n = state.next_id();
            let s = company(state, co)
                .solutions
                .get_mut(&key)
                .ok_or_else(|| not_found(&key))?;
            let list = rows_of(s, table);
            let pos = list
                .iter()
                .position(|i| text(i, "SysRowID") == sys_row_id)
                .ok_or_else(|| {
                    EpicorError::record_not_found(format!(
                        "Record not found: solution item '{sys_row_id}'."
                    ))
                    .with_detail(table, "SysRowID")
                })?;
            if delete {
                list.remove(pos);
            } else {
                merge(&mut list[pos], row);
                list[pos].insert("SysRevID".into(), json!(n));
            }
        }
        _ => {}
    }
    Ok(())
}

fn rows_of<'a>(s: &'a mut Solution, table: &str) -> &'a mut Vec<Map<String, Value>> {
    if table == "EPSolutionTracker" {
        &mut s.tracked
    } else {
        &mut s.items
    }
}

fn merge(target: &mut Map<String, Value>, row: &Map<String, Value>) {
    for (k, v) in row {
        if !BOOKKEEPING.contains(&k.as_str()) && k != "PackageID" && k != "SolutionID" {
            target.insert(k.clone(), v.clone());
        }
    }
    target.insert("RowMod".into(), json!(""));
}

/// The stored key of a solution id (ids match case-insensitively).
pub fn canonical_id(state: &State, co: &str, id: &str) -> Result<String, EpicorError> {
    solution(state, co, id).map(|s| text(&s.header, "PackageID").to_string())
}

/// The company's data; `co` is canonical, checked by the router.
pub fn company<'a>(state: &'a mut State, co: &str) -> &'a mut crate::state::Company {
    state.companies.entry(co.to_string()).or_default()
}

fn delete(state: &mut State, co: &str, id: &str) -> Result<Value, EpicorError> {
    let key = canonical_id(state, co, id)?;
    company(state, co).solutions.remove(&key);
    Ok(json!({}))
}

fn items_dataset(
    state: &State,
    co: &str,
    body: &Value,
    tracked: bool,
) -> Result<Value, EpicorError> {
    let table = field(body, "tableName");
    let s = solution(state, co, first_str(body, &["solutionId", "solutionID"]))?;
    let source = if tracked { &s.tracked } else { &s.items };
    let matching: Vec<&Map<String, Value>> = source
        .iter()
        .filter(|i| {
            table.is_empty()
                || text(i, "TableName").eq_ignore_ascii_case(table)
                || text(i, "ItemType").eq_ignore_ascii_case(table)
        })
        .collect();
    let name = if table.is_empty() {
        if tracked {
            "EPSolutionTracker"
        } else {
            "EPSolutionDetail"
        }
    } else {
        table
    };
    Ok(json!({ "returnObj": { name: matching } }))
}

/// `ItemType` and key fields for a row of a dynamic dataset table.
fn item_keys(table: &str, row: &Map<String, Value>) -> (String, [String; 3]) {
    let pick = |names: &[&str]| {
        names
            .iter()
            .map(|n| text(row, n))
            .find(|v| !v.is_empty())
            .unwrap_or("")
            .to_string()
    };
    let (item_type, keys): (&str, [&[&str]; 3]) = match table {
        "XXXDef" => (
            "Layer",
            [
                &["Key1", "ViewId"],
                &["Key2", "LayerName"],
                &["Key3", "TypeCode"],
            ],
        ),
        "ZDataField" => (
            "UDColumn",
            [&["Key1", "DataTableID"], &["Key2", "FieldName"], &["Key3"]],
        ),
        "QueryHdr" => ("BAQ", [&["Key1", "QueryID"], &["Key2"], &["Key3"]]),
        "BpDirective" => (
            "Directive",
            [&["Key1", "BpMethodCode"], &["Key2", "Name"], &["Key3"]],
        ),
        "EfxLibrary" => ("EfxLibrary", [&["Key1", "LibraryID"], &["Key2"], &["Key3"]]),
        other => (other, [&["Key1"], &["Key2"], &["Key3"]]),
    };
    let item_type = match text(row, "ItemType") {
        "" => item_type.to_string(),
        given => given.to_string(),
    };
    (item_type, [pick(keys[0]), pick(keys[1]), pick(keys[2])])
}

fn add_items(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let key = canonical_id(state, co, first_str(body, &["solutionId", "solutionID"]))?;
    let mut new_items = Vec::new();
    if let Some(Value::Object(ds)) = body.get("dsToAdd") {
        for (table, table_rows) in ds {
            for row in table_rows
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_object)
            {
                let (item_type, [k1, k2, k3]) = item_keys(table, row);
                let item = state.row(json!({
                    "Company": co, "SolutionID": key, "ItemType": item_type, "TableName": table,
                    "Key1": k1, "Key2": k2, "Key3": k3, "Description": text(row, "Description"),
                }));
                new_items.push(item);
            }
        }
    }
    let doomed = deleted_ids(body.get("recordsToDelete"));
    let s = company(state, co)
        .solutions
        .get_mut(&key)
        .ok_or_else(|| not_found(&key))?;
    s.items
        .retain(|i| !doomed.iter().any(|d| d == text(i, "SysRowID")));
    s.items.extend(new_items);
    Ok(json!({}))
}

/// `recordsToDelete` as SysRowIDs: a list of ids, of rows, or a tableset of rows.
fn deleted_ids(v: Option<&Value>) -> Vec<String> {
    let row_id = |r: &Value| match r {
        Value::String(s) => Some(s.clone()),
        other => other
            .get("SysRowID")
            .and_then(Value::as_str)
            .map(str::to_string),
    };
    match v {
        Some(Value::Array(list)) => list.iter().filter_map(row_id).collect(),
        Some(Value::Object(ds)) => ds
            .values()
            .filter_map(Value::as_array)
            .flatten()
            .filter_map(row_id)
            .collect(),
        _ => Vec::new(),
    }
}
