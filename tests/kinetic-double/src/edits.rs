//! Out-of-band edits, as a Kinetic admin makes them in the UI between deployments (a layer
//! changed, a layer added in another company, a UD field added or altered, the data model
//! regenerated), and the control routes that reach them. The library handle calls the same
//! functions.

use serde_json::{Map, Value, json};

use crate::error::DoubleError;
use crate::state::{State, UdTable};
use crate::util::{field, now_iso, text};

fn company_key(state: &State, co: &str) -> Result<String, DoubleError> {
    state
        .company_id(co)
        .ok_or_else(|| DoubleError::UnknownCompany(co.to_string()))
}

/// Changes a layer of a company as the UI would: new content (or a marker edit when `None`),
/// a new `LastUpdated` and `SysRevID`, `LastUpdatedBy` the UI user. The company's own layer is
/// preferred over another owner's layer of the same name.
pub fn edit_layer(
    state: &mut State,
    company: &str,
    app: &str,
    layer: &str,
    content: Option<Value>,
) -> Result<Map<String, Value>, DoubleError> {
    let co = company_key(state, company)?;
    let n = state.next_id();
    let layers = &mut state
        .company_mut(&co)
        .ok_or_else(|| DoubleError::UnknownCompany(co.clone()))?
        .layers;
    let named = |l: &Map<String, Value>| {
        text(l, "ViewId").eq_ignore_ascii_case(app)
            && text(l, "LayerName").eq_ignore_ascii_case(layer)
    };
    let pos = layers
        .iter()
        .position(|l| named(l) && text(l, "Company").eq_ignore_ascii_case(&co))
        .or_else(|| layers.iter().position(named))
        .ok_or_else(|| {
            DoubleError::NotFound(format!(
                "no layer '{layer}' of app '{app}' in company '{co}'"
            ))
        })?;
    let row = &mut layers[pos];
    let content = content.unwrap_or_else(|| {
        let mut c = row.get("Content").cloned().unwrap_or_else(|| json!({}));
        if let Some(obj) = c.as_object_mut() {
            obj.insert("uiEdit".into(), json!(n));
        }
        c
    });
    row.insert("Content".into(), content);
    row.insert("LastUpdated".into(), json!(now_iso()));
    row.insert("LastUpdatedBy".into(), json!("ui-admin"));
    row.insert("SysRevID".into(), json!(n));
    Ok(row.clone())
}

/// Adds (or replaces) a layer in `company`'s view owned by `owner`: the company itself, or
/// another one (`T_EPIC07`, `""` for all companies) to set up an install-time layer conflict.
pub fn put_layer(
    state: &mut State,
    company: &str,
    owner: &str,
    app: &str,
    layer: &str,
    content: Value,
) -> Result<Map<String, Value>, DoubleError> {
    let co = company_key(state, company)?;
    let mut row = crate::fixtures::layer_row(state, app, layer, owner, content);
    row.insert("LastUpdatedBy".into(), json!("ui-admin"));
    if !state.apps.iter().any(|a| a.eq_ignore_ascii_case(app)) {
        state.apps.push(app.to_string());
    }
    let layers = &mut state
        .company_mut(&co)
        .ok_or_else(|| DoubleError::UnknownCompany(co.clone()))?
        .layers;
    layers.retain(|l| {
        !(text(l, "Company").eq_ignore_ascii_case(owner)
            && text(l, "ViewId").eq_ignore_ascii_case(app)
            && text(l, "LayerName").eq_ignore_ascii_case(layer))
    });
    layers.push(row.clone());
    Ok(row)
}

/// Adds a UD field, or alters the named one (the given fields over the current ones); the
/// table's data model goes out of sync until [`regenerate_data_model`]. A table that does not
/// exist is created (`SystemCode` from the field, `Erp` by default).
pub fn set_ud_field(
    state: &mut State,
    company: &str,
    table: &str,
    spec: &Value,
) -> Result<Map<String, Value>, DoubleError> {
    let co = company_key(state, company)?;
    let name = field(spec, "FieldName").to_string();
    if name.is_empty() || table.is_empty() {
        return Err(DoubleError::Invalid(
            "a UD field needs a table and a \"FieldName\" (e.g. \"Colour_c\")".into(),
        ));
    }
    let system = match field(spec, "SystemCode") {
        "" => "Erp".to_string(),
        s => s.to_string(),
    };
    let existing = state
        .companies
        .get(&co)
        .and_then(|c| c.ud_table(table))
        .and_then(|t| {
            t.fields
                .iter()
                .find(|f| text(f, "FieldName").eq_ignore_ascii_case(&name))
        })
        .cloned();
    let row = match existing {
        Some(mut row) => {
            for (k, v) in spec.as_object().into_iter().flatten() {
                row.insert(k.clone(), v.clone());
            }
            state.stamp(&mut row);
            row
        }
        None => crate::fixtures::ud_field(state, &system, table, spec.clone()),
    };
    let new_table = state.row(json!({
        "SystemCode": system, "DataTableID": table, "Description": table,
        "DBTableName": table, "DBSchemaName": system, "ParentTableID": "",
    }));
    let c = state
        .company_mut(&co)
        .ok_or_else(|| DoubleError::UnknownCompany(co.clone()))?;
    if c.ud_table(table).is_none() {
        c.ud_tables.push(UdTable {
            table: new_table,
            fields: Vec::new(),
            data_model_synced: true,
        });
    }
    let t = c
        .ud_table_mut(table)
        .ok_or_else(|| DoubleError::NotFound(format!("no UD table '{table}'")))?;
    t.fields
        .retain(|f| !text(f, "FieldName").eq_ignore_ascii_case(&name));
    t.fields.push(row.clone());
    t.data_model_synced = false;
    Ok(row)
}

/// Removes a UD field; the data model goes out of sync.
pub fn remove_ud_field(
    state: &mut State,
    company: &str,
    table: &str,
    name: &str,
) -> Result<(), DoubleError> {
    let co = company_key(state, company)?;
    let t = state
        .company_mut(&co)
        .and_then(|c| c.ud_table_mut(table))
        .ok_or_else(|| DoubleError::NotFound(format!("no UD table '{table}' in company '{co}'")))?;
    let before = t.fields.len();
    t.fields
        .retain(|f| !text(f, "FieldName").eq_ignore_ascii_case(name));
    if t.fields.len() == before {
        return Err(DoubleError::NotFound(format!(
            "no field '{name}' in UD table '{table}'"
        )));
    }
    t.data_model_synced = false;
    Ok(())
}

/// Regenerates the data model of every UD table in the company (what an admin does in the
/// administration console); returns the tables that were out of sync.
pub fn regenerate_data_model(state: &mut State, company: &str) -> Result<Vec<String>, DoubleError> {
    let co = company_key(state, company)?;
    let c = state
        .company_mut(&co)
        .ok_or_else(|| DoubleError::UnknownCompany(co.clone()))?;
    let mut regenerated = Vec::new();
    for t in &mut c.ud_tables {
        if !t.data_model_synced {
            regenerated.push(t.id().to_string());
            t.data_model_synced = true;
        }
    }
    Ok(regenerated)
}

/// Control routes for edits and reads of a company's data:
/// `POST /_double/companies/{co}/layers/edit`, `POST /_double/companies/{co}/layers`,
/// `GET /_double/companies/{co}/layers`,
/// `POST /_double/companies/{co}/ud-fields`, `DELETE /_double/companies/{co}/ud-fields/{table}/{field}`,
/// `POST /_double/companies/{co}/regenerate-data-model`, `GET /_double/companies/{co}/ud-tables`,
/// `GET /_double/companies/{co}/installed`, `POST /_double/install-outcomes`.
pub fn control_route(
    state: &mut State,
    method: &str,
    segments: &[&str],
    body: &Value,
) -> Result<Option<Value>, DoubleError> {
    let value = match (method, segments) {
        ("POST", ["companies", co, "layers", "edit"]) => {
            let content = body.get("Content").cloned();
            let row = edit_layer(
                state,
                co,
                field(body, "ViewId"),
                field(body, "LayerName"),
                content,
            )?;
            json!({"layer": row})
        }
        ("POST", ["companies", co, "layers"]) => {
            let content = body.get("Content").cloned().unwrap_or_else(|| json!({}));
            let (app, layer) = (field(body, "ViewId"), field(body, "LayerName"));
            if app.is_empty() || layer.is_empty() {
                return Err(DoubleError::Invalid(
                    "a layer needs \"ViewId\" and \"LayerName\"".into(),
                ));
            }
            let owner = match body.get("Company").and_then(Value::as_str) {
                Some(owner) => owner.to_string(),
                None => company_key(state, co)?,
            };
            json!({"layer": put_layer(state, co, &owner, app, layer, content)?})
        }
        ("GET", ["companies", co, "layers"]) => {
            let co = company_key(state, co)?;
            json!({"layers": state.companies[&co].layers})
        }
        ("POST", ["companies", co, "ud-fields"]) => {
            let table = field(body, "DataTableID").to_string();
            json!({"field": set_ud_field(state, co, &table, body)?})
        }
        ("DELETE", ["companies", co, "ud-fields", table, name]) => {
            remove_ud_field(state, co, table, name)?;
            json!({})
        }
        ("POST", ["companies", co, "regenerate-data-model"]) => {
            json!({"regenerated": regenerate_data_model(state, co)?})
        }
        ("GET", ["companies", co, "ud-tables"]) => {
            let co = company_key(state, co)?;
            let tables: Vec<Value> = state.companies[&co]
                .ud_tables
                .iter()
                .map(|t| json!({"table": t.table, "fields": t.fields, "dataModelSynced": t.data_model_synced}))
                .collect();
            json!({"tables": tables})
        }
        ("GET", ["companies", co, "installed"]) => {
            let co = company_key(state, co)?;
            json!({"installs": state.companies[&co].installs})
        }
        _ => return crate::install::control_route(state, method, segments, body),
    };
    Ok(Some(value))
}
