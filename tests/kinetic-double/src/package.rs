//! The solution package the double builds and installs: a ZIP (named `.cab`, as Kinetic's
//! are) holding `Solution.json` (header and every item with the object it packs) and
//! `Validation.txt` (the validation hash). Not Kinetic's internal layout, which clients never
//! read: they pass the bytes from `Build` back to `GetInstallSettings` and `Install`.

use base64::Engine;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

use crate::error::EpicorError;
use crate::state::{Solution, State};
use crate::util::{now_iso, text};

/// A built solution.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// `SolutionID`, `Version`, `BuildIteration`, `SourceCompany`, `MinAppVersion`,
    /// `Description`, `ValidationHash`.
    pub header: Map<String, Value>,
    /// `{ItemType, TableName, Key1, Key2, Key3, Object}` per item.
    pub items: Vec<Value>,
}

impl Package {
    /// A header field as text.
    pub fn get(&self, key: &str) -> &str {
        text(&self.header, key)
    }

    /// The ZIP bytes.
    pub fn to_zip(&self) -> Vec<u8> {
        let mut doc = self.header.clone();
        doc.insert("Items".into(), Value::Array(self.items.clone()));
        let solution = serde_json::to_vec_pretty(&doc).unwrap_or_default();
        let validation = format!("ValidationHash={}\r\n", self.get("ValidationHash"));
        crate::zip::write(&[
            ("Solution.json".to_string(), solution),
            ("Validation.txt".to_string(), validation.into_bytes()),
        ])
    }

    /// Reads a package from base64 ZIP bytes (`cabData`); 400 when it is not one.
    pub fn from_base64(cab: &str) -> Result<Self, EpicorError> {
        let invalid = |why: String| {
            EpicorError::bad_request(format!(
                "The solution file is not a valid solution package: {why}."
            ))
        };
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(cab.trim())
            .map_err(|e| invalid(format!("cabData is not base64 ({e})")))?;
        let entries = crate::zip::read(&bytes).map_err(invalid)?;
        let (_, solution) = entries
            .iter()
            .find(|(name, _)| name == "Solution.json")
            .ok_or_else(|| invalid("it has no Solution.json".into()))?;
        let mut doc: Map<String, Value> =
            serde_json::from_slice(solution).map_err(|e| invalid(format!("Solution.json: {e}")))?;
        let items = match doc.remove("Items") {
            Some(Value::Array(items)) => items,
            _ => Vec::new(),
        };
        Ok(Self { header: doc, items })
    }
}

/// The hash over the packed items that install settings carry and `Install` checks.
pub fn validation_hash(items: &[Value]) -> String {
    let bytes = serde_json::to_vec(items).unwrap_or_default();
    hex::encode(Sha256::digest(&bytes))
}

/// One build log record.
pub fn log(kind: &str, message: impl Into<String>) -> Value {
    json!({"UtcDate": now_iso(), "Type": kind, "Message": message.into()})
}

/// Builds a solution: resolves every item to the object it packs in the company. Returns the
/// package (`None` when an item could not be resolved) and the log records.
pub fn build(
    state: &State,
    co: &str,
    s: &Solution,
    iteration: u64,
) -> (Option<Package>, Vec<Value>) {
    let h = &s.header;
    let id = text(h, "PackageID");
    let mut records = vec![log(
        "Information",
        format!(
            "Building solution {id} version {} iteration {iteration}.",
            text(h, "Version")
        ),
    )];
    let mut items = Vec::new();
    let mut failed = 0;
    for item in &s.items {
        let keys = [text(item, "Key1"), text(item, "Key2"), text(item, "Key3")];
        let label = keys
            .iter()
            .filter(|k| !k.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join("~");
        let kind = text(item, "ItemType");
        match resolve(state, co, kind, keys) {
            Some(object) => {
                records.push(log("Information", format!("Packed {kind} {label}.")));
                items.push(json!({
                    "ItemType": kind, "TableName": text(item, "TableName"),
                    "Key1": keys[0], "Key2": keys[1], "Key3": keys[2], "Object": object,
                }));
            }
            None => {
                failed += 1;
                records.push(log(
                    "Error",
                    format!("{kind} '{label}' was not found in company {co}; it cannot be packed."),
                ));
            }
        }
    }
    records.push(log(
        if failed == 0 { "Information" } else { "Error" },
        format!(
            "Build finished: {} items packed, {failed} failed.",
            items.len()
        ),
    ));
    if failed > 0 {
        return (None, records);
    }
    let hash = validation_hash(&items);
    let header = json!({
        "SolutionID": id, "Description": text(h, "Description"), "Version": text(h, "Version"),
        "BuildIteration": iteration, "SourceCompany": co, "MinAppVersion": text(h, "MinAppVersion"),
        "SolutionReference": format!("{id}_{}", text(h, "Version")), "ValidationHash": hash,
    });
    let header = header.as_object().cloned().unwrap_or_default();
    (Some(Package { header, items }), records)
}

fn resolve(state: &State, co: &str, kind: &str, keys: [&str; 3]) -> Option<Value> {
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let company = state.companies.get(co)?;
    let found = |list: &[Value], key: &str, want: &str| {
        list.iter()
            .find(|r| eq(r.get(key).and_then(Value::as_str).unwrap_or(""), want))
            .cloned()
    };
    match kind {
        "Layer" => company
            .layers
            .iter()
            .find(|l| {
                eq(text(l, "Company"), co)
                    && eq(text(l, "ViewId"), keys[0])
                    && eq(text(l, "LayerName"), keys[1])
                    && (keys[2].is_empty() || eq(text(l, "TypeCode"), keys[2]))
            })
            .map(|l| Value::Object(l.clone())),
        "UDColumn" => {
            let table = company.ud_table(keys[0])?;
            let field = table
                .fields
                .iter()
                .find(|f| eq(text(f, "FieldName"), keys[1]))?;
            Some(json!({"ZDataTable": table.table, "ZDataField": field}))
        }
        "BAQ" => found(&company.baqs, "QueryID", keys[0]),
        "EfxLibrary" => found(&company.libraries, "LibraryID", keys[0]),
        "Directive" => company
            .directives
            .iter()
            .find(|d| {
                eq(
                    d.get("BpMethodCode").and_then(Value::as_str).unwrap_or(""),
                    keys[0],
                ) && eq(d.get("Name").and_then(Value::as_str).unwrap_or(""), keys[1])
            })
            .cloned(),
        _ => None,
    }
}
