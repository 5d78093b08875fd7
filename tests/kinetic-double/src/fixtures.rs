//! Seeded fixtures: a dev company (`EPIC06`) with two solutions and everything they pack, a
//! prod company (`EPIC07`) where an older solution is installed and the UD schema has drifted,
//! and base tables in any other company.
//!
//! | company | solutions | UD tables | layers | BAQs | directives | EFx |
//! |---|---|---|---|---|---|---|
//! | EPIC06 | `CustTracking` 1.2.0.0, `OrderFixes` 1.0.0.0 | `Customer_UD` (TrackCode_c, TrackSince_c), `UD01` (Key1..Key5, Character01) | CustomerEntry/CustTracking, SalesOrderEntry/OrderFixes | zCustTracking, zOpenOrders | 2 | OrderTools |
//! | EPIC07 | none defined; `OrderFixes` 1.0.0.0 installed | `Customer_UD` (TrackCode_c drifted, LegacyRef_c extra), `UD01` | SalesOrderEntry/OrderFixes | zOpenOrders | 1 | OrderTools |
//! | other | none | `Customer_UD`, `UD01` with no UD fields | none | none | none | none |

use serde_json::{Map, Value, json};

use crate::state::{Solution, State, UdTable};
use crate::util::now_iso;

/// Seeds every configured company.
pub fn seed(state: &mut State) {
    state.apps = [
        "Erp.UI.CustomerEntry",
        "Erp.UI.SalesOrderEntry",
        "Erp.UI.PartEntry",
    ]
    .map(String::from)
    .to_vec();
    let ids: Vec<String> = state.companies.keys().cloned().collect();
    for co in ids {
        base_tables(state, &co);
        let user = json!({
            "DcdUserID": state.config.user, "Name": "Kinetic Manager",
            "EMailAddress": "manager@example.invalid", "CurComp": co,
            "CompList": state.config.companies.join("~"),
        });
        let row = state.row(user);
        if let Some(c) = state.company_mut(&co) {
            c.user_files.push(Value::Object(row));
        }
        match co.as_str() {
            "EPIC06" => seed_dev(state, &co),
            "EPIC07" => seed_prod(state, &co),
            _ => {}
        }
    }
}

fn base_tables(state: &mut State, co: &str) {
    let customer = state.row(json!({
        "SystemCode": "Erp", "DataTableID": "Customer_UD", "Description": "Customer UD extension",
        "DBTableName": "Customer_UD", "DBSchemaName": "Erp", "ParentTableID": "Customer",
    }));
    let ud01 = state.row(json!({
        "SystemCode": "Ice", "DataTableID": "UD01", "Description": "User defined table 01",
        "DBTableName": "UD01", "DBSchemaName": "Ice", "ParentTableID": "",
    }));
    let mut ud01_fields = Vec::new();
    for (i, name) in ["Key1", "Key2", "Key3", "Key4", "Key5"].iter().enumerate() {
        let spec = json!({"FieldName": name, "Description": format!("Key {}", i + 1),
            "FieldFormat": "x(50)", "Required": i == 0, "Seq": i + 1});
        ud01_fields.push(ud_field(state, "Ice", "UD01", spec));
    }
    if let Some(c) = state.company_mut(co) {
        c.ud_tables.push(UdTable {
            table: customer,
            fields: Vec::new(),
            data_model_synced: true,
        });
        c.ud_tables.push(UdTable {
            table: ud01,
            fields: ud01_fields,
            data_model_synced: true,
        });
    }
}

/// A `ZDataField` row: the spec's fields over Kinetic's defaults for an `nvarchar` column.
pub fn ud_field(state: &mut State, system: &str, table: &str, spec: Value) -> Map<String, Value> {
    let name = spec
        .get("FieldName")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut row = json!({
        "SystemCode": system, "DataTableID": table, "FieldName": name, "DataType": "nvarchar",
        "Required": false, "ReadOnly": false, "Description": name, "FieldFormat": "x(50)",
        "FieldScale": 0, "LikeDataFieldSystemCode": "", "LikeDataFieldTableID": "",
        "LikeDataFieldName": "", "InitialValue": "", "DefaultFormat": "x(50)",
        "DefaultLabel": name, "DBTableName": table, "DBFieldName": name, "Seq": 0,
    });
    if let (Some(base), Value::Object(spec)) = (row.as_object_mut(), spec) {
        for (k, v) in spec {
            base.insert(k, v);
        }
    }
    state.row(row)
}

/// A layer row as `GetLayers` lists it, plus its `Content` (the `.jsonc` body).
pub fn layer_row(
    state: &mut State,
    app: &str,
    name: &str,
    company: &str,
    content: Value,
) -> Map<String, Value> {
    let user = state.config.user.clone();
    state.row(json!({
        "Id": format!("{app}~{name}~KNTCCustLayer"), "ViewId": app, "SubType": "",
        "LastUpdated": now_iso(), "IsPublished": true, "TypeCode": "KNTCCustLayer",
        "Company": company, "LayerName": name, "DeviceType": "Desktop", "CGCCode": "",
        "SystemFlag": false, "HasDraftContent": false, "LastUpdatedBy": user,
        "Content": content,
    }))
}

fn item(
    state: &mut State,
    co: &str,
    solution: &str,
    spec: (&str, &str, &str, &str, &str),
) -> Map<String, Value> {
    let (item_type, table, k1, k2, k3) = spec;
    state.row(json!({
        "Company": co, "SolutionID": solution, "ItemType": item_type, "TableName": table,
        "Key1": k1, "Key2": k2, "Key3": k3, "Description": format!("{item_type} {k1} {k2}").trim(),
    }))
}

fn add_solution(
    state: &mut State,
    co: &str,
    id: &str,
    version: &str,
    items: &[(&str, &str, &str, &str, &str)],
) {
    let description = match id {
        "CustTracking" => "Customer tracking code: UD fields, layer, BAQ and directive",
        _ => "Sales order fixes: layer, EFx library and directive",
    };
    let mut header = crate::export_package::new_header(state, co, id, description);
    header.insert("Version".into(), json!(version));
    let rows = items
        .iter()
        .map(|spec| item(state, co, id, *spec))
        .collect();
    let solution = Solution {
        header,
        items: rows,
        ..Solution::default()
    };
    if let Some(c) = state.company_mut(co) {
        c.solutions.insert(id.to_string(), solution);
    }
}

fn dev_solutions(state: &mut State, co: &str) {
    add_solution(
        state,
        co,
        "CustTracking",
        "1.2.0.0",
        &[
            ("UDColumn", "ZDataField", "Customer_UD", "TrackCode_c", ""),
            ("UDColumn", "ZDataField", "Customer_UD", "TrackSince_c", ""),
            (
                "Layer",
                "XXXDef",
                "Erp.UI.CustomerEntry",
                "CustTracking",
                "KNTCCustLayer",
            ),
            ("BAQ", "QueryHdr", "zCustTracking", "", ""),
            (
                "Directive",
                "BpDirective",
                "Erp.BO.Customer.Update",
                "ValidateTrackCode",
                "",
            ),
        ],
    );
    add_solution(
        state,
        co,
        "OrderFixes",
        "1.0.0.0",
        &[
            (
                "Layer",
                "XXXDef",
                "Erp.UI.SalesOrderEntry",
                "OrderFixes",
                "KNTCCustLayer",
            ),
            ("EfxLibrary", "EfxLibrary", "OrderTools", "", ""),
            (
                "Directive",
                "BpDirective",
                "Erp.BO.SalesOrder.Update",
                "CheckCreditHold",
                "",
            ),
        ],
    );
}

fn seed_dev(state: &mut State, co: &str) {
    dev_solutions(state, co);
    let track_code = json!({"FieldName": "TrackCode_c", "Description": "Tracking code",
        "FieldFormat": "x(20)", "DefaultFormat": "x(20)", "DefaultLabel": "Track Code", "Seq": 1});
    let track_since = json!({"FieldName": "TrackSince_c", "DataType": "date", "Description": "Tracked since",
        "FieldFormat": "99/99/9999", "DefaultFormat": "99/99/9999", "DefaultLabel": "Since", "Seq": 2});
    let fields = vec![
        ud_field(state, "Erp", "Customer_UD", track_code),
        ud_field(state, "Erp", "Customer_UD", track_since),
    ];
    let character01 = ud_field(
        state,
        "Ice",
        "UD01",
        json!({"FieldName": "Character01", "Seq": 6}),
    );
    let cust_layer = layer_row(
        state,
        "Erp.UI.CustomerEntry",
        "CustTracking",
        co,
        json!({"components": [{"id": "trackCode", "type": "ep-textbox", "model": "Customer.TrackCode_c"}]}),
    );
    let order_layer = layer_row(
        state,
        "Erp.UI.SalesOrderEntry",
        "OrderFixes",
        co,
        json!({"components": [{"id": "creditHold", "type": "ep-checkbox", "model": "OrderHed.CreditOverride"}]}),
    );
    let layers = vec![cust_layer, order_layer];
    let baqs = [
        baq(state, co, "zCustTracking", "Customers with a tracking code"),
        baq(state, co, "zOpenOrders", "Open sales orders"),
    ];
    let directives = [
        directive(state, "Erp.BO.Customer.Update", "ValidateTrackCode"),
        directive(state, "Erp.BO.SalesOrder.Update", "CheckCreditHold"),
    ];
    let library = library(state, "OrderTools");
    if let Some(c) = state.company_mut(co) {
        if let Some(t) = c.ud_table_mut("Customer_UD") {
            t.fields = fields;
        }
        if let Some(t) = c.ud_table_mut("UD01") {
            t.fields.push(character01);
        }
        c.layers = layers;
        c.baqs.extend(baqs);
        c.directives.extend(directives);
        c.libraries.push(library);
    }
}

fn seed_prod(state: &mut State, co: &str) {
    let drifted = json!({"FieldName": "TrackCode_c", "Description": "Tracking code (old)",
        "FieldFormat": "x(10)", "DefaultFormat": "x(10)", "DefaultLabel": "Track Code", "Seq": 1});
    let extra = json!({"FieldName": "LegacyRef_c", "Description": "Legacy reference", "Seq": 3});
    let fields = vec![
        ud_field(state, "Erp", "Customer_UD", drifted),
        ud_field(state, "Erp", "Customer_UD", extra),
    ];
    let order_layer = layer_row(
        state,
        "Erp.UI.SalesOrderEntry",
        "OrderFixes",
        co,
        json!({"components": [{"id": "creditHold", "type": "ep-checkbox", "model": "OrderHed.CreditOverride"}]}),
    );
    let baq = baq(state, co, "zOpenOrders", "Open sales orders");
    let directive = directive(state, "Erp.BO.SalesOrder.Update", "CheckCreditHold");
    let library = library(state, "OrderTools");
    let user = state.config.user.clone();
    let install = state.row(json!({
        "Company": co, "SolutionID": "OrderFixes", "Version": "1.0.0.0", "BuildIteration": 1,
        "SourceCompany": "EPIC06", "InstalledOn": "2026-11-02T09:30:00.000Z", "InstalledBy": user,
        "Action": "Install", "ValidationHash": "seeded",
    }));
    if let Some(c) = state.company_mut(co) {
        if let Some(t) = c.ud_table_mut("Customer_UD") {
            t.fields = fields;
        }
        c.layers.push(order_layer);
        c.baqs.push(baq);
        c.directives.push(directive);
        c.libraries.push(library);
        c.installs.push(install);
    }
}

fn baq(state: &mut State, co: &str, id: &str, description: &str) -> Value {
    let user = state.config.user.clone();
    Value::Object(state.row(json!({
        "Company": co, "QueryID": id, "Description": description, "AuthorID": user,
        "IsShared": true, "IsGlobal": false, "Updatable": false, "ChangedOn": "2026-11-01T08:00:00.000Z",
        "Definition": {"tables": ["Erp.Customer"], "where": ""},
        "Rows": [{"Customer_CustID": "ADDISON", "Customer_Name": "Addison Industries"},
                 {"Customer_CustID": "DALTON", "Customer_Name": "Dalton Manufacturing"}],
    })))
}

fn directive(state: &mut State, method: &str, name: &str) -> Value {
    let n = state.next_id();
    Value::Object(state.row(json!({
        "BpMethodCode": method, "DirectiveID": crate::util::guid(n), "Name": name,
        "DirectiveType": 1, "IsEnabled": true, "Order": 1, "Source": "BO",
        "Body": format!("// {name}: validates before {method}"),
    })))
}

fn library(state: &mut State, id: &str) -> Value {
    Value::Object(state.row(json!({
        "LibraryID": id, "Description": "Sales order helper functions", "Revision": 3,
        "Published": true, "Mode": "Production",
        "Functions": [{"FunctionID": "CreditCheck", "Description": "Checks credit before release"}],
    })))
}
