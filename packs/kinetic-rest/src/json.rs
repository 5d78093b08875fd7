//! Small readers over Kinetic's JSON: tableset rows, string fields, base64.

use base64::Engine as _;
use serde_json::{Map, Value};

/// Rows of `ds[table]` (empty when absent).
pub fn rows<'a>(ds: &'a Value, table: &str) -> Vec<&'a Map<String, Value>> {
    ds.get(table)
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// A field as text: strings as they are, numbers and booleans printed,
/// `""` for null or absent.
pub fn text(row: &Map<String, Value>, key: &str) -> String {
    value_text(row.get(key))
}

/// A value as text (see [`text`]).
pub fn value_text(v: Option<&Value>) -> String {
    match v {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Bool(b)) => b.to_string(),
        _ => String::new(),
    }
}

/// A field of a JSON value as text.
pub fn field(v: &Value, key: &str) -> String {
    value_text(v.get(key))
}

/// `v[returnObj]`, or `v` itself when the server returned the value bare.
pub fn return_obj(v: &Value) -> &Value {
    v.get("returnObj").unwrap_or(v)
}

/// The first array in an object (`{ExportPackageList: [...]}`), or the
/// array itself, or `value[]` (OData).
pub fn first_list(v: &Value) -> Vec<&Map<String, Value>> {
    let list = match v {
        Value::Array(a) => Some(a),
        Value::Object(m) => m
            .get("value")
            .and_then(Value::as_array)
            .or_else(|| m.values().find_map(Value::as_array)),
        _ => None,
    };
    list.map(|a| a.iter().filter_map(Value::as_object).collect())
        .unwrap_or_default()
}

/// Base64 of `bytes`.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Bytes of base64 `s` (whitespace ignored).
pub fn unb64(s: &str) -> Option<Vec<u8>> {
    let clean: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    base64::engine::general_purpose::STANDARD.decode(clean).ok()
}
