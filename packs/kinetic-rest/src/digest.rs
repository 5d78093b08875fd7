//! Stable digests: `sha256:<hex>` over canonical JSON (keys sorted, the
//! bookkeeping columns Kinetic changes on every save removed), so the same
//! content always has the same digest.

use serde_json::Value;
use sha2::{Digest as _, Sha256};

/// Columns that change without the content changing; never compared,
/// never copied.
pub const VOLATILE: &[&str] = &["SysRevID", "SysRowID", "BitFlag", "RowMod", "RowIdent"];

/// `sha256:<hex>` of `bytes`.
pub fn of_bytes(bytes: &[u8]) -> String {
    let d = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in d {
        out.push_str(&format!("{b:02x}"));
    }
    out
}

/// `v` without volatile columns and with `drop` removed too, recursively.
pub fn canonical(v: &Value, drop: &[&str]) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, _)| !VOLATILE.contains(&k.as_str()) && !drop.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), canonical(v, drop)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(|v| canonical(v, drop)).collect()),
        other => other.clone(),
    }
}

/// The digest of `v`'s canonical form (serde_json's maps are sorted).
pub fn of_json(v: &Value, drop: &[&str]) -> String {
    of_bytes(canonical(v, drop).to_string().as_bytes())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn volatile_columns_do_not_change_the_digest() {
        let a = json!({"B": 1, "A": [{"SysRevID": 5, "X": "y"}]});
        let b = json!({"A": [{"X": "y", "SysRevID": 9, "RowMod": "U"}], "B": 1});
        assert_eq!(of_json(&a, &[]), of_json(&b, &[]));
        assert_ne!(of_json(&a, &[]), of_json(&json!({"B": 2}), &[]));
        assert!(of_bytes(b"").starts_with("sha256:e3b0c442"));
    }
}
