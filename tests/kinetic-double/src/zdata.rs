//! `Ice.BO.ZDataTableSvc`: UD tables and fields, and the data-model sync state.
//!
//! `GetByID` answers 400 for a missing table; `GetByIDUd` answers an empty tableset (the two
//! behaviours clients must handle). Adding, changing or deleting a field puts the table's
//! data model out of sync until it is regenerated (control API or library handle).

use serde_json::{Map, Value, json};

use crate::error::EpicorError;
use crate::export_package::company;
use crate::services::Call;
use crate::state::State;
use crate::util::{field, rows, text};

/// Answers one ZDataTableSvc method.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let (co, body) = (call.company.as_str(), &call.body);
    match call.method.as_str() {
        "GetByID" | "GetByIDUd" => {
            let ds = tableset(
                state,
                co,
                field(body, "systemCode"),
                field(body, "dataTableID"),
            );
            match ds {
                Some(ds) => Ok(json!({"returnObj": ds})),
                None if call.method == "GetByIDUd" => {
                    Ok(json!({"returnObj": {"ZDataTable": [], "ZDataField": []}}))
                }
                None => Err(missing_table(field(body, "dataTableID"))),
            }
        }
        "GetList" => {
            let tables = state.companies[co]
                .ud_tables
                .iter()
                .map(|t| t.table.clone())
                .collect();
            let (where_clause, size, page) = crate::query::list_args(body, "whereClause");
            let (rows, more) = crate::query::select(tables, &where_clause, size, page)?;
            Ok(json!({"returnObj": {"ZDataTableList": rows}, "parameters": {"morePages": more}}))
        }
        "GetNewZDataField" => get_new_field(state, co, body),
        "Update" => update(state, co, body),
        "GetExtendedTableSyncDetailsMessage" => Ok(sync_details(
            state,
            co,
            field(body, "schemaName"),
            field(body, "tableName"),
        )),
        _ => Err(call.unknown_method()),
    }
}

fn missing_table(id: &str) -> EpicorError {
    EpicorError::record_not_found(format!("Record not found: ZDataTable '{id}'."))
        .with_detail("ZDataTable", "DataTableID")
}

fn tableset(state: &State, co: &str, system: &str, id: &str) -> Option<Value> {
    let t = state.companies.get(co)?.ud_table(id)?;
    if !system.is_empty() && !t.system_code().eq_ignore_ascii_case(system) {
        return None;
    }
    Some(json!({"ZDataTable": [t.table], "ZDataField": t.fields}))
}

fn get_new_field(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let (system, id) = (field(body, "systemCode"), field(body, "dataTableID"));
    let table = state
        .companies
        .get(co)
        .and_then(|c| c.ud_table(id))
        .ok_or_else(|| missing_table(id))?;
    let (system, id) = (
        if system.is_empty() {
            table.system_code().to_string()
        } else {
            system.to_string()
        },
        table.id().to_string(),
    );
    let mut row = crate::fixtures::ud_field(
        state,
        &system,
        &id,
        json!({"FieldName": "", "Description": "", "DefaultLabel": "", "DBFieldName": ""}),
    );
    row.insert("RowMod".into(), json!("A"));
    let mut ds = match body.get("ds") {
        Some(Value::Object(ds)) => ds.clone(),
        _ => Map::new(),
    };
    match ds.get_mut("ZDataField") {
        Some(Value::Array(fields)) => fields.push(Value::Object(row)),
        _ => {
            ds.insert("ZDataField".into(), json!([row]));
        }
    }
    ds.entry("ZDataTable").or_insert_with(|| json!([]));
    Ok(json!({"parameters": {"ds": ds}}))
}

fn update(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let ds = body.get("ds").cloned().unwrap_or(Value::Null);
    let mut touched: Vec<(String, String)> = Vec::new();
    for row in rows(&ds, "ZDataTable")
        .into_iter()
        .filter(|r| text(r, "RowMod") == "A")
    {
        let id = text(row, "DataTableID");
        if state.companies[co].ud_table(id).is_some() {
            return Err(
                EpicorError::conflict(format!("ZDataTable '{id}' already exists."))
                    .with_detail("ZDataTable", "DataTableID"),
            );
        }
        let table = state.row(Value::Object(row.clone()));
        company(state, co).ud_tables.push(crate::state::UdTable {
            table,
            fields: Vec::new(),
            data_model_synced: false,
        });
    }
    for row in rows(&ds, "ZDataField") {
        if let Some(key) = update_field(state, co, row)? {
            touched.push(key);
        }
    }
    let mut out_fields = Vec::new();
    let mut out_tables = Vec::new();
    touched.dedup();
    for (table, name) in &touched {
        if let Some(t) = state.companies[co].ud_table(table) {
            out_fields.extend(
                t.fields
                    .iter()
                    .filter(|f| text(f, "FieldName").eq_ignore_ascii_case(name))
                    .cloned(),
            );
            if !out_tables
                .iter()
                .any(|r: &Map<String, Value>| text(r, "DataTableID") == t.id())
            {
                out_tables.push(t.table.clone());
            }
        }
    }
    Ok(json!({"parameters": {"ds": {"ZDataTable": out_tables, "ZDataField": out_fields}}}))
}

fn update_field(
    state: &mut State,
    co: &str,
    row: &Map<String, Value>,
) -> Result<Option<(String, String)>, EpicorError> {
    let (table_id, name) = (
        text(row, "DataTableID").to_string(),
        text(row, "FieldName").to_string(),
    );
    let mode = text(row, "RowMod");
    if !matches!(mode, "A" | "U" | "D") {
        return Ok(None);
    }
    if name.trim().is_empty() {
        return Err(EpicorError::bad_request("Field name is required.")
            .with_detail("ZDataField", "FieldName"));
    }
    if mode == "A" && !name.ends_with("_c") && table_id.ends_with("_UD") {
        return Err(
            EpicorError::bad_request(format!("UD field '{name}' must end with _c."))
                .with_detail("ZDataField", "FieldName"),
        );
    }
    let mut stored = row.clone();
    if mode == "A" {
        stored.remove("SysRowID");
    }
    state.stamp(&mut stored);
    let t = company(state, co)
        .ud_table_mut(&table_id)
        .ok_or_else(|| missing_table(&table_id))?;
    let pos = t
        .fields
        .iter()
        .position(|f| text(f, "FieldName").eq_ignore_ascii_case(&name));
    match (mode, pos) {
        ("A", Some(_)) => {
            return Err(EpicorError::conflict(format!(
                "Field '{name}' already exists in {table_id}."
            ))
            .with_detail("ZDataField", "FieldName"));
        }
        ("A", None) => t.fields.push(stored),
        ("U", Some(i)) => {
            for (k, v) in stored {
                t.fields[i].insert(k, v);
            }
        }
        ("D", Some(i)) => {
            t.fields.remove(i);
        }
        _ => {
            return Err(EpicorError::record_not_found(format!(
                "Record not found: field '{name}' in {table_id}."
            ))
            .with_detail("ZDataField", "FieldName"));
        }
    }
    t.data_model_synced = false;
    Ok(Some((table_id, name)))
}

fn sync_details(state: &State, co: &str, schema: &str, table: &str) -> Value {
    let t = state
        .companies
        .get(co)
        .and_then(|c| c.ud_table(table))
        .filter(|t| {
            schema.is_empty()
                || t.system_code().eq_ignore_ascii_case(schema)
                || text(&t.table, "DBSchemaName").eq_ignore_ascii_case(schema)
        });
    let Some(t) = t else {
        let message = format!("Table {schema}.{table} does not exist in the database.");
        return json!({"returnObj": false, "parameters": {"dbExists": false, "zDataSynced": false, "dataModelSynced": false, "syncMessage": message}});
    };
    let synced = t.data_model_synced;
    let message = if synced {
        String::new()
    } else {
        format!(
            "The data model is not in sync with table {schema}.{table}: regenerate the data model."
        )
    };
    json!({"returnObj": synced, "parameters": {"dbExists": true, "zDataSynced": true, "dataModelSynced": synced, "syncMessage": message}})
}
