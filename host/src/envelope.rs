//! The versioned JSON envelope every `--json` answer and every dashboard
//! API answer is wrapped in: `{"api":"envpack/v1","ok":true,"result":...}`
//! or `{"api":"envpack/v1","ok":false,"error":{"kind","message","hint"}}`.
//! One place builds it, so the CLI and the JSON API cannot disagree.

use serde_json::{Value, json};

use crate::error::Error;

/// The envelope's version tag.
pub const API: &str = "envpack/v1";

/// The envelope of a successful answer.
pub fn ok(result: Value) -> Value {
    json!({"api": API, "ok": true, "result": result})
}

/// The envelope of an error: its kind, message, hint and details.
pub fn error(err: &Error) -> Value {
    let mut error = json!({
        "kind": err.kind().as_str(),
        "message": err.message(),
        "hint": err.hint_text(),
    });
    if let (Some(details), Some(obj)) = (err.details(), error.as_object_mut()) {
        obj.insert("details".into(), details.clone());
    }
    json!({"api": API, "ok": false, "error": error})
}
