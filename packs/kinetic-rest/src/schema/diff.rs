//! A declared table against the target: missing, extra and drifted fields
//! over the compared properties only (never `SysRevID`, `SysRowID`,
//! `BitFlag`, `RowMod` or `Company`).

use serde_json::{Value, json};

use super::SVC;
use super::spec::{Declared, PROPERTIES, normal};
use crate::json::{field, return_obj, rows, text};
use crate::rest::{Client, Io, KineticError};
use crate::wit::{FieldDrift, PropertyDrift, SchemaDiff, SyncState};

/// The target's tableset for a table (`ZDataTable`, `ZDataField`), or
/// `None` when the table does not exist.
pub fn read_table<I: Io>(
    c: &Client<'_, I>,
    system_code: &str,
    table: &str,
) -> Result<Option<Value>, KineticError> {
    let body = json!({"systemCode": system_code, "dataTableID": table});
    let answer = match c.call(SVC, "GetByIDUd", &body) {
        Ok(v) => v,
        // Older servers have only GetByID.
        Err(e) if e.status() == Some(404) && e.server_text().contains("Method") => {
            match c.call(SVC, "GetByID", &body) {
                Ok(v) => v,
                Err(e) if matches!(e.status(), Some(400 | 404)) => return Ok(None),
                Err(e) => return Err(e),
            }
        }
        Err(e) if matches!(e.status(), Some(400 | 404)) => return Ok(None),
        Err(e) => return Err(e),
    };
    let ds = return_obj(&answer).clone();
    Ok((!rows(&ds, "ZDataTable").is_empty()).then_some(ds))
}

/// The data-model sync state.
pub fn sync<I: Io>(
    c: &Client<'_, I>,
    system_code: &str,
    table: &str,
) -> Result<SyncState, KineticError> {
    let v = c.call(
        SVC,
        "GetExtendedTableSyncDetailsMessage",
        &json!({"schemaName": system_code, "tableName": table}),
    )?;
    let p = v.get("parameters").unwrap_or(&v);
    let flag = |k: &str| p.get(k).and_then(Value::as_bool).unwrap_or(false);
    Ok(SyncState {
        db_exists: flag("dbExists"),
        zdata_synced: flag("zDataSynced"),
        data_model_synced: flag("dataModelSynced"),
        message: field(p, "syncMessage"),
    })
}

/// Compares `declared` with the target's tableset `ds` (`None`: no table).
pub fn compare(declared: &Declared, ds: Option<&Value>, sync: SyncState) -> SchemaDiff {
    let empty = json!({});
    let target = ds.unwrap_or(&empty);
    let actual: std::collections::BTreeMap<String, &serde_json::Map<String, Value>> =
        rows(target, "ZDataField")
            .into_iter()
            .filter(|r| {
                text(r, "DataTableID").is_empty()
                    || text(r, "DataTableID").eq_ignore_ascii_case(&declared.table)
            })
            .map(|r| (text(r, "FieldName"), r))
            .filter(|(n, _)| !n.is_empty())
            .collect();
    let mut missing = Vec::new();
    let mut drifted = Vec::new();
    for (name, props) in &declared.fields {
        let Some(row) = actual.get(name) else {
            missing.push(name.clone());
            continue;
        };
        let mut properties = Vec::new();
        for (property, column) in PROPERTIES {
            let Some(want) = props.get(property) else {
                continue;
            };
            let have = Some(normal(&text(row, column))).filter(|v| !v.is_empty());
            if have.as_deref() != Some(want.as_str()) && !(want.is_empty() && have.is_none()) {
                properties.push(PropertyDrift {
                    property: property.to_string(),
                    declared: Some(want.clone()).filter(|v| !v.is_empty()),
                    actual: have,
                });
            }
        }
        if !properties.is_empty() {
            drifted.push(FieldDrift {
                field: name.clone(),
                properties,
            });
        }
    }
    let extra = actual
        .keys()
        .filter(|n| !declared.fields.contains_key(*n))
        .cloned()
        .collect();
    SchemaDiff {
        system_code: declared.system_code.clone(),
        table: declared.table.clone(),
        table_exists: ds.is_some(),
        missing,
        extra,
        drifted,
        sync,
    }
}

/// Reads the target and compares; returns the target's tableset too.
pub fn diff<I: Io>(
    c: &Client<'_, I>,
    declared: &Declared,
) -> Result<(SchemaDiff, Option<Value>), KineticError> {
    let ds = read_table(c, &declared.system_code, &declared.table)?;
    let state = sync(c, &declared.system_code, &declared.table)?;
    Ok((compare(declared, ds.as_ref(), state), ds))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn missing_extra_and_drifted_over_compared_fields_only() {
        let mut declared = Declared {
            system_code: "Erp".into(),
            table: "Part_UD".into(),
            fields: BTreeMap::new(),
        };
        declared.fields.insert(
            "Color_c".into(),
            [
                ("DataType", "nvarchar".to_string()),
                ("Required", "true".to_string()),
            ]
            .into(),
        );
        declared.fields.insert(
            "Weight_c".into(),
            [("DataType", "decimal".to_string())].into(),
        );
        declared.fields.insert(
            "Same_c".into(),
            [("Description", "same".to_string())].into(),
        );
        let ds = json!({
            "ZDataTable": [{"DataTableID": "Part_UD"}],
            "ZDataField": [
                {"DataTableID": "Part_UD", "FieldName": "Color_c", "DataType": "nvarchar", "Required": false, "SysRevID": 9},
                {"DataTableID": "Part_UD", "FieldName": "Same_c", "Description": "same", "SysRevID": 1, "Company": "X", "RowMod": "U"},
                {"DataTableID": "Part_UD", "FieldName": "Legacy_c", "DataType": "int"},
            ]
        });
        let sync = SyncState {
            db_exists: true,
            zdata_synced: true,
            data_model_synced: true,
            message: String::new(),
        };
        let d = compare(&declared, Some(&ds), sync);
        assert_eq!(d.missing, ["Weight_c"]);
        assert_eq!(d.extra, ["Legacy_c"]);
        assert_eq!(d.drifted.len(), 1);
        assert_eq!(d.drifted[0].field, "Color_c");
        assert_eq!(d.drifted[0].properties.len(), 1);
        assert_eq!(d.drifted[0].properties[0].property, "Required");
        assert_eq!(d.drifted[0].properties[0].actual.as_deref(), Some("false"));
        assert!(d.table_exists);
    }
}
