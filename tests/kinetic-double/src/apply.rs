//! Applying an installed package's items to the target company: layers (owned by the target
//! company), UD tables and fields, BAQs, directives (kept unless `OverrideDirectives`) and EFx
//! libraries; `DeletePreviousInstall` removes what the previous install of the same solution
//! brought and this one no longer does (UD fields are never dropped, as in Kinetic).

use serde_json::{Value, json};

use crate::export_package::company;
use crate::package::{Package, log};
use crate::state::{State, UdTable};
use crate::util::{field, flag, now_iso, text};

/// Fields compared to decide whether a UD field changed.
pub const COMPARED: [&str; 13] = [
    "DataType",
    "Required",
    "ReadOnly",
    "Description",
    "FieldFormat",
    "FieldScale",
    "LikeDataFieldSystemCode",
    "LikeDataFieldTableID",
    "LikeDataFieldName",
    "InitialValue",
    "DefaultFormat",
    "DefaultLabel",
    "DBTableName",
];

/// Applies every item; returns whether a UD field was added or changed, and log records.
pub fn apply(state: &mut State, co: &str, pkg: &Package, settings: &Value) -> (bool, Vec<Value>) {
    let mut records = Vec::new();
    let mut ud_changed = false;
    if flag(settings, "DeletePreviousInstall", false) {
        remove_previous(state, co, pkg, &mut records);
    }
    for item in &pkg.items {
        let object = item.get("Object").cloned().unwrap_or(Value::Null);
        match field(item, "ItemType") {
            "Layer" => put_layer(state, co, object, &mut records),
            "UDColumn" => ud_changed |= put_ud_field(state, co, &object, &mut records),
            "BAQ" => upsert(state, co, "baqs", &["QueryID"], object, &mut records),
            "EfxLibrary" => upsert(state, co, "libraries", &["LibraryID"], object, &mut records),
            "Directive" => {
                let method = field(&object, "BpMethodCode").to_string();
                let name = field(&object, "Name").to_string();
                let existing = company(state, co)
                    .directives
                    .iter()
                    .find(|d| field(d, "BpMethodCode") == method && field(d, "Name") == name)
                    .cloned();
                let differs = existing
                    .as_ref()
                    .is_some_and(|d| d.get("Body") != object.get("Body"));
                if differs && !flag(settings, "OverrideDirectives", false) {
                    records.push(log("Warning", format!("Directive {method} {name} exists in company {co} and was kept: OverrideDirectives is off.")));
                } else {
                    upsert(
                        state,
                        co,
                        "directives",
                        &["BpMethodCode", "Name"],
                        object,
                        &mut records,
                    );
                }
            }
            other => records.push(log(
                "Warning",
                format!("Item type '{other}' is not installed by this server."),
            )),
        }
    }
    (ud_changed, records)
}

fn put_layer(state: &mut State, co: &str, object: Value, records: &mut Vec<Value>) {
    let Value::Object(mut row) = object else {
        return;
    };
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let (app, name, kind) = (
        text(&row, "ViewId").to_string(),
        text(&row, "LayerName").to_string(),
        text(&row, "TypeCode").to_string(),
    );
    let user = state.config.user.clone();
    row.insert("Company".into(), json!(co));
    row.insert("LastUpdated".into(), json!(now_iso()));
    row.insert("LastUpdatedBy".into(), json!(user));
    row.remove("SysRowID");
    state.stamp(&mut row);
    if !state.apps.iter().any(|a| eq(a, &app)) {
        state.apps.push(app.clone());
    }
    let layers = &mut company(state, co).layers;
    layers.retain(|l| {
        !(eq(text(l, "Company"), co)
            && eq(text(l, "ViewId"), &app)
            && eq(text(l, "LayerName"), &name)
            && eq(text(l, "TypeCode"), &kind))
    });
    layers.push(row);
    records.push(log(
        "Information",
        format!("Installed layer {app}~{name}~{kind}."),
    ));
}

fn put_ud_field(state: &mut State, co: &str, object: &Value, records: &mut Vec<Value>) -> bool {
    let (Some(Value::Object(table)), Some(Value::Object(incoming))) =
        (object.get("ZDataTable"), object.get("ZDataField"))
    else {
        return false;
    };
    let table_id = text(table, "DataTableID").to_string();
    let name = text(incoming, "FieldName").to_string();
    let mut new_table = table.clone();
    new_table.remove("SysRowID");
    state.stamp(&mut new_table);
    let mut row = incoming.clone();
    row.remove("SysRowID");
    state.stamp(&mut row);
    let c = company(state, co);
    if c.ud_table(&table_id).is_none() {
        c.ud_tables.push(UdTable {
            table: new_table,
            fields: Vec::new(),
            data_model_synced: true,
        });
        records.push(log("Information", format!("Created UD table {table_id}.")));
    }
    let Some(t) = c.ud_table_mut(&table_id) else {
        return false;
    };
    let existing = t
        .fields
        .iter()
        .position(|f| text(f, "FieldName").eq_ignore_ascii_case(&name));
    let same = existing.is_some_and(|i| {
        COMPARED
            .iter()
            .all(|k| t.fields[i].get(*k) == incoming.get(*k))
    });
    if same {
        records.push(log(
            "Information",
            format!("UD field {table_id}.{name} is already up to date."),
        ));
        return false;
    }
    let verb = if existing.is_some() {
        "Updated"
    } else {
        "Added"
    };
    if let Some(i) = existing {
        t.fields.remove(i);
    }
    t.fields.push(row);
    t.data_model_synced = false;
    records.push(log(
        "Information",
        format!("{verb} UD field {table_id}.{name}."),
    ));
    true
}

fn list<'a>(c: &'a mut crate::state::Company, which: &str) -> &'a mut Vec<Value> {
    match which {
        "baqs" => &mut c.baqs,
        "libraries" => &mut c.libraries,
        _ => &mut c.directives,
    }
}

fn upsert(
    state: &mut State,
    co: &str,
    which: &str,
    keys: &[&str],
    object: Value,
    records: &mut Vec<Value>,
) {
    let Value::Object(mut row) = object else {
        return;
    };
    if row.contains_key("Company") {
        row.insert("Company".into(), json!(co));
    }
    state.stamp(&mut row);
    let label = keys
        .iter()
        .map(|k| text(&row, k))
        .collect::<Vec<_>>()
        .join(" ");
    let matches = |r: &Value| {
        keys.iter()
            .all(|k| field(r, k).eq_ignore_ascii_case(text(&row, k)))
    };
    let rows = list(company(state, co), which);
    rows.retain(|r| !matches(r));
    rows.push(Value::Object(row.clone()));
    records.push(log(
        "Information",
        format!("Installed {which} entry {label}."),
    ));
}

fn remove_previous(state: &mut State, co: &str, pkg: &Package, records: &mut Vec<Value>) {
    let id = pkg.get("SolutionID");
    let Some(previous) = company(state, co)
        .installs
        .iter()
        .rev()
        .find(|r| text(r, "SolutionID").eq_ignore_ascii_case(id))
        .cloned()
    else {
        return;
    };
    let key =
        |v: &Value| ["ItemType", "Key1", "Key2", "Key3"].map(|k| field(v, k).to_ascii_lowercase());
    let now: Vec<_> = pkg.items.iter().map(key).collect();
    let gone: Vec<Value> = previous
        .get("Items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|i| !now.contains(&key(i)))
        .cloned()
        .collect();
    for item in gone {
        let [kind, k1, k2, _] = key(&item);
        let c = company(state, co);
        match kind.as_str() {
            "layer" => c.layers.retain(|l| {
                !(text(l, "Company").eq_ignore_ascii_case(co)
                    && text(l, "ViewId").eq_ignore_ascii_case(&k1)
                    && text(l, "LayerName").eq_ignore_ascii_case(&k2))
            }),
            "baq" => c
                .baqs
                .retain(|b| !field(b, "QueryID").eq_ignore_ascii_case(&k1)),
            "efxlibrary" => c
                .libraries
                .retain(|b| !field(b, "LibraryID").eq_ignore_ascii_case(&k1)),
            "directive" => c.directives.retain(|d| {
                !(field(d, "BpMethodCode").eq_ignore_ascii_case(&k1)
                    && field(d, "Name").eq_ignore_ascii_case(&k2))
            }),
            _ => continue,
        }
        records.push(log(
            "Information",
            format!("Removed {kind} {k1} {k2} of the previous install.").replace("  ", " "),
        ));
    }
}
