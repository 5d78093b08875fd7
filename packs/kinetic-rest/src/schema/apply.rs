//! Applying a schema plan: every missing field through `GetNewZDataField`,
//! every drifted one updated in place (`RowMod: "U"`), one `Update` for
//! all, then the sync state again. Extra fields are left alone.

use serde_json::{Value, json};

use super::SVC;
use super::diff::{diff, sync};
use super::spec::{Declared, PROPERTIES};
use crate::json::text;
use crate::rest::{Client, Io, KineticError};
use crate::wit::{SchemaDiff, SchemaReport};

fn names(d: &SchemaDiff) -> (Vec<String>, Vec<String>, Vec<String>) {
    (
        d.missing.clone(),
        d.extra.clone(),
        d.drifted.iter().map(|f| f.field.clone()).collect(),
    )
}

/// Applies `plan` (a diff of `declared`) to the target.
pub fn apply<I: Io>(
    c: &Client<'_, I>,
    declared: &Declared,
    plan: &SchemaDiff,
) -> Result<SchemaReport, KineticError> {
    let (now, ds) = diff(c, declared)?;
    if names(&now) != names(plan) || now.table != plan.table {
        return Err(KineticError::Server {
            status: 409,
            call: format!("{SVC}/GetByIDUd"),
            reason: "Conflict".into(),
            message: format!(
                "table {} changed since the plan was made; diff again",
                declared.table
            ),
            error_type: String::new(),
            details: vec![],
            correlation_id: String::new(),
        });
    }
    let Some(mut ds) = ds else {
        return Err(KineticError::Input(format!(
            "UD table {}.{} does not exist on the target; create the table in Kinetic's Extended UD Table Maintenance first",
            declared.system_code, declared.table
        )));
    };
    for name in &plan.missing {
        let v = c.call(
            SVC,
            "GetNewZDataField",
            &json!({"ds": ds, "systemCode": declared.system_code, "dataTableID": declared.table}),
        )?;
        ds = v
            .get("parameters")
            .and_then(|p| p.get("ds"))
            .cloned()
            .ok_or_else(|| {
                KineticError::protocol(
                    &format!("{SVC}/GetNewZDataField"),
                    "no parameters.ds in the answer",
                )
            })?;
        let row = ds["ZDataField"]
            .as_array_mut()
            .and_then(|rows| rows.iter_mut().rev().find(|r| r["RowMod"] == "A"))
            .and_then(Value::as_object_mut)
            .ok_or_else(|| {
                KineticError::protocol(
                    &format!("{SVC}/GetNewZDataField"),
                    "no new ZDataField row (RowMod \"A\")",
                )
            })?;
        row.insert("FieldName".into(), json!(name));
        set(row, &declared.fields[name]);
    }
    for drift in &plan.drifted {
        if let Some(row) = ds["ZDataField"].as_array_mut().and_then(|rows| {
            rows.iter_mut()
                .filter_map(Value::as_object_mut)
                .find(|r| text(r, "FieldName") == drift.field)
        }) {
            set(row, &declared.fields[&drift.field]);
            row.insert("RowMod".into(), json!("U"));
        }
    }
    // Only the rows that change travel back.
    if let Some(rows) = ds["ZDataField"].as_array_mut() {
        rows.retain(|r| r["RowMod"] == "A" || r["RowMod"] == "U");
    }
    if let Some(rows) = ds["ZDataTable"].as_array_mut() {
        for r in rows.iter_mut().filter_map(Value::as_object_mut) {
            r.insert("RowMod".into(), json!(""));
        }
    }
    if !plan.missing.is_empty() || !plan.drifted.is_empty() {
        c.call(SVC, "Update", &json!({"ds": ds}))?;
    }
    Ok(SchemaReport {
        system_code: declared.system_code.clone(),
        table: declared.table.clone(),
        created: plan.missing.clone(),
        updated: plan.drifted.iter().map(|f| f.field.clone()).collect(),
        sync: sync(c, &declared.system_code, &declared.table)?,
    })
}

fn set(
    row: &mut serde_json::Map<String, Value>,
    props: &std::collections::BTreeMap<&'static str, String>,
) {
    for (property, column) in PROPERTIES {
        if let Some(v) = props.get(property) {
            let value = match v.as_str() {
                "true" => json!(true),
                "false" => json!(false),
                s => match row.get(*column) {
                    Some(Value::Number(_)) => s
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or_else(|_| json!(s)),
                    _ => json!(s),
                },
            };
            row.insert(column.to_string(), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use serde_json::json;

    use super::*;
    use crate::fake::{self, Fake, method, ok, status};
    use crate::schema::spec::parse;
    use crate::wit::{SpecFormat, TableSpec};

    const SPEC: &str = "system-code = \"Erp\"\ntable = \"Part_UD\"\n[[field]]\nname = \"A_c\"\ndata-type = \"nvarchar\"\nrequired = true\n[[field]]\nname = \"B_c\"\ndescription = \"new\"\n";

    /// A table with A_c (drifted) and X_c (extra); B_c is missing.
    fn server(
        updates: Rc<RefCell<Vec<Value>>>,
    ) -> impl Fn(&crate::rest::HttpRequest) -> crate::rest::HttpResponse {
        move |r| {
            if let Some(t) = fake::token(r) {
                return t;
            }
            let body: Value = serde_json::from_slice(&r.body).unwrap_or_default();
            match method(r) {
                "GetByIDUd" => ok(json!({"returnObj": {
                "ZDataTable": [{"SystemCode": "Erp", "DataTableID": "Part_UD", "SysRevID": 3}],
                "ZDataField": [
                    {"DataTableID": "Part_UD", "FieldName": "A_c", "DataType": "nvarchar", "Required": false, "RowMod": ""},
                    {"DataTableID": "Part_UD", "FieldName": "X_c", "DataType": "int", "RowMod": ""},
                ]}})),
                "GetNewZDataField" => {
                    let mut ds = body["ds"].clone();
                    if let Some(a) = ds["ZDataField"].as_array_mut() {
                        a.push(json!({"DataTableID": "Part_UD", "FieldName": "", "RowMod": "A"}));
                    }
                    ok(json!({"parameters": {"ds": ds}}))
                }
                "Update" => {
                    updates.borrow_mut().push(body["ds"].clone());
                    ok(json!({"parameters": {"ds": body["ds"]}}))
                }
                "GetExtendedTableSyncDetailsMessage" => {
                    ok(json!({"returnObj": false, "parameters": {
                    "dbExists": true, "zDataSynced": true, "dataModelSynced": updates.borrow().is_empty(), "syncMessage": "regenerate"}}))
                }
                _ => status(404, json!({})),
            }
        }
    }

    #[test]
    fn creates_missing_updates_drifted_leaves_extra() {
        let updates = Rc::new(RefCell::new(Vec::new()));
        let io = Fake::new(server(updates.clone()));
        let c = Client::new(&io, fake::settings());
        let declared = parse(&TableSpec {
            format: SpecFormat::Toml,
            text: SPEC.into(),
        })
        .expect("spec");
        let (plan, _) = diff(&c, &declared).expect("diff");
        assert_eq!(
            (plan.missing.clone(), plan.extra.clone()),
            (vec!["B_c".to_string()], vec!["X_c".to_string()])
        );
        let report = apply(&c, &declared, &plan).expect("apply");
        assert_eq!(report.created, ["B_c"]);
        assert_eq!(report.updated, ["A_c"]);
        assert!(!report.sync.data_model_synced);
        let sent = updates.borrow()[0]["ZDataField"].clone();
        let rows = sent.as_array().expect("rows");
        assert_eq!(rows.len(), 2, "only the changed rows travel: {sent}");
        assert!(
            rows.iter().any(|r| r["FieldName"] == "B_c"
                && r["RowMod"] == "A"
                && r["Description"] == "new")
        );
        assert!(
            rows.iter()
                .any(|r| r["FieldName"] == "A_c" && r["RowMod"] == "U" && r["Required"] == true)
        );

        // A plan that no longer matches the target is refused.
        let mut stale = plan.clone();
        stale.missing.clear();
        assert_eq!(
            apply(&c, &declared, &stale).expect_err("stale").kind(),
            crate::rest::error::HostKind::Conflict
        );
    }
}
