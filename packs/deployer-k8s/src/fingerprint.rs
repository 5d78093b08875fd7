//! What `observe` reports about a Deployment, comparable with what `plan`
//! expected: the live object projected onto the shape this pack applied
//! (server defaults and status dropped, out-of-band changes to fields this
//! pack sets kept), and a hash of that projection.

use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

/// `live` restricted to the fields `applied` sets. Extra list items (a
/// container added by hand) are kept whole, since they change what runs.
pub fn project(live: &Value, applied: &Value) -> Value {
    match applied {
        Value::Object(want) => {
            let mut out = Map::new();
            for (k, v) in want {
                let got = live.get(k).unwrap_or(&Value::Null);
                out.insert(k.clone(), project(got, v));
            }
            Value::Object(out)
        }
        Value::Array(want) => {
            let got = live.as_array().map(Vec::as_slice).unwrap_or_default();
            let mut out: Vec<Value> = want
                .iter()
                .enumerate()
                .map(|(i, v)| project(got.get(i).unwrap_or(&Value::Null), v))
                .collect();
            out.extend(got.iter().skip(want.len()).cloned());
            Value::Array(out)
        }
        _ => live.clone(),
    }
}

/// A short, stable hash of a value's canonical JSON (keys sorted).
pub fn hash(v: &Value) -> String {
    let digest = Sha256::digest(v.to_string().as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("sha256:{}", &hex[..16])
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projection_drops_defaults_and_keeps_changes() {
        let applied = json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "a@sha256:1"}]}}});
        let live = json!({"replicas": 1, "revisionHistoryLimit": 10, "template": {"spec": {"containers": [{"name": "app", "image": "a@sha256:1", "terminationMessagePath": "/dev/termination-log"}]}}});
        assert_eq!(hash(&project(&live, &applied)), hash(&applied));
        let scaled = json!({"replicas": 3, "template": {"spec": {"containers": [{"name": "app", "image": "a@sha256:1"}]}}});
        assert_ne!(hash(&project(&scaled, &applied)), hash(&applied));
        let sidecar = json!({"replicas": 1, "template": {"spec": {"containers": [{"name": "app", "image": "a@sha256:1"}, {"name": "x"}]}}});
        assert_ne!(hash(&project(&sidecar, &applied)), hash(&applied));
    }
}
