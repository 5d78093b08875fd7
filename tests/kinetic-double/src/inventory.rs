//! Inventory reads used for snapshots and the login probe: `Erp.BO.UserFileSvc/GetRows`,
//! `Ice.BO.BAQDesignerSvc/GetList`, `Ice.BO.EfxLibraryDesignerSvc/GetLibraryList`,
//! `Ice.BO.BpMethodSvc/GetList` (method directives) and `BaqSvc/{BAQID}/Data`.

use serde_json::{Map, Value, json};

use crate::error::EpicorError;
use crate::query;
use crate::services::Call;
use crate::state::State;

fn objects(rows: &[Value], drop: &[&str]) -> Vec<Map<String, Value>> {
    rows.iter()
        .filter_map(Value::as_object)
        .map(|r| {
            let mut r = r.clone();
            for key in drop {
                r.remove(*key);
            }
            r
        })
        .collect()
}

fn list(
    rows: Vec<Map<String, Value>>,
    body: &Value,
    where_key: &str,
    table: &str,
) -> Result<Value, EpicorError> {
    let (where_clause, size, page) = query::list_args(body, where_key);
    let (rows, more) = query::select(rows, &where_clause, size, page)?;
    Ok(json!({"returnObj": {table: rows}, "parameters": {"morePages": more}}))
}

/// Answers the inventory services.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let c = &state.companies[&call.company];
    let body = &call.body;
    let service = call.service.to_ascii_lowercase();
    match (service.as_str(), call.method.as_str()) {
        ("erp.bo.userfilesvc", "GetRows") => list(
            objects(&c.user_files, &[]),
            body,
            "whereClauseUserFile",
            "UserFile",
        ),
        ("ice.bo.baqdesignersvc", "GetList") => list(
            objects(&c.baqs, &["Rows"]),
            body,
            "whereClause",
            "QueryHdrList",
        ),
        ("ice.bo.bpmethodsvc", "GetList") => list(
            objects(&c.directives, &[]),
            body,
            "whereClause",
            "BpMethodList",
        ),
        ("ice.bo.efxlibrarydesignersvc", "GetLibraryList") => Ok(json!({"returnObj": c.libraries})),
        ("baqsvc", method) if method.ends_with("/Data") => {
            let id = method.trim_end_matches("/Data");
            let baq = c
                .baqs
                .iter()
                .find(|b| {
                    b.get("QueryID")
                        .and_then(Value::as_str)
                        .is_some_and(|q| q.eq_ignore_ascii_case(id))
                })
                .ok_or_else(|| EpicorError::not_found(format!("BAQ '{id}' was not found.")))?;
            let rows = baq.get("Rows").cloned().unwrap_or_else(|| json!([]));
            Ok(
                json!({"@odata.context": format!("{}/$metadata#Epicor.DynamicQuery.QueryResults", call.company), "value": rows}),
            )
        }
        _ => Err(call.unknown_method()),
    }
}
