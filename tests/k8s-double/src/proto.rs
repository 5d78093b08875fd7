//! Just enough of the Kubernetes protobuf encoding to read the bodies
//! kubectl's typed clients send that way: `SelfSubjectAccessReview`
//! (`kubectl auth can-i`), `Namespace`, `ConfigMap` and `Secret` (`kubectl
//! create namespace|configmap|secret`). Answers are JSON, which kubectl
//! also accepts. Other kinds sent as protobuf get 415.
//!
//! The envelope is the magic `k8s\0` followed by a `runtime.Unknown`
//! (1: typeMeta {1: apiVersion, 2: kind}, 2: raw), and `raw` is the
//! object's own message.

use serde_json::{Map, Value, json};

/// The `k8s\0` prefix of every Kubernetes protobuf body.
const MAGIC: &[u8] = b"k8s\0";

/// One field of a protobuf message: (number, value).
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Varint,
    Bytes(&'a [u8]),
}

fn varint(b: &[u8], at: &mut usize) -> Option<u64> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *b.get(*at)?;
        *at += 1;
        v |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Some(v);
        }
    }
    None
}

/// The fields of a message, or `None` if it does not parse.
fn fields(b: &[u8]) -> Option<Vec<(u64, Field<'_>)>> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < b.len() {
        let key = varint(b, &mut at)?;
        let field = match key & 7 {
            0 => {
                varint(b, &mut at)?;
                Field::Varint
            }
            2 => {
                let len = usize::try_from(varint(b, &mut at)?).ok()?;
                let end = at.checked_add(len).filter(|e| *e <= b.len())?;
                let bytes = &b[at..end];
                at = end;
                Field::Bytes(bytes)
            }
            1 => {
                at = at.checked_add(8).filter(|e| *e <= b.len())?;
                continue;
            }
            5 => {
                at = at.checked_add(4).filter(|e| *e <= b.len())?;
                continue;
            }
            _ => return None,
        };
        out.push((key >> 3, field));
    }
    Some(out)
}

fn sub<'a>(fs: &[(u64, Field<'a>)], n: u64) -> Option<&'a [u8]> {
    fs.iter().find_map(|(k, f)| match f {
        Field::Bytes(b) if *k == n => Some(*b),
        _ => None,
    })
}

/// The string fields of a message, by number, into a JSON object.
fn strings(b: &[u8], names: &[(u64, &str)]) -> Option<Value> {
    let fs = fields(b)?;
    let mut m = Map::new();
    for (n, name) in names {
        // Empty strings are encoded too; the JSON form leaves them out.
        if let Some(v) = sub(&fs, *n).filter(|v| !v.is_empty()) {
            m.insert((*name).to_string(), json!(String::from_utf8_lossy(v)));
        }
    }
    Some(Value::Object(m))
}

/// A protobuf body as its JSON object; `None` for a body that does not
/// parse or a kind this module does not read.
pub fn decode(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let type_meta = fields(sub(&unknown, 1)?)?;
    let api_version = String::from_utf8_lossy(sub(&type_meta, 1)?).to_string();
    let kind = String::from_utf8_lossy(sub(&type_meta, 2)?).to_string();
    let raw = fields(sub(&unknown, 2)?)?;
    let mut object = match kind.as_str() {
        "SelfSubjectAccessReview" => {
            json!({"spec": review_spec(sub(&raw, 2).unwrap_or_default())?})
        }
        "Namespace" => json!({}),
        "ConfigMap" => json!({"data": string_map(&raw, 2), "binaryData": bytes_map(&raw, 3)}),
        "Secret" => json!({
            "data": bytes_map(&raw, 2),
            "type": sub(&raw, 3).filter(|b| !b.is_empty()).map(|b| String::from_utf8_lossy(b).to_string()),
            "stringData": string_map(&raw, 4),
        }),
        _ => return None,
    };
    object["apiVersion"] = json!(api_version);
    object["kind"] = json!(kind);
    object["metadata"] = object_meta(sub(&raw, 1).unwrap_or_default())?;
    // Fields the message did not carry are absent, as in the JSON form.
    if let Some(m) = object.as_object_mut() {
        m.retain(|k, v| {
            k == "metadata" || !(v.is_null() || v.as_object().is_some_and(Map::is_empty))
        });
    }
    Some(object)
}

fn review_spec(b: &[u8]) -> Option<Value> {
    let spec = fields(b)?;
    let mut out = Map::new();
    if let Some(ra) = sub(&spec, 1) {
        let names = [
            (1, "namespace"),
            (2, "verb"),
            (3, "group"),
            (4, "version"),
            (5, "resource"),
            (6, "subresource"),
            (7, "name"),
        ];
        out.insert("resourceAttributes".into(), strings(ra, &names)?);
    }
    if let Some(nra) = sub(&spec, 2) {
        out.insert(
            "nonResourceAttributes".into(),
            strings(nra, &[(1, "path"), (2, "verb")])?,
        );
    }
    Some(Value::Object(out))
}

/// `ObjectMeta`: name (1), generateName (2), namespace (3), labels (11),
/// annotations (12); the server-owned rest is the server's to fill.
fn object_meta(b: &[u8]) -> Option<Value> {
    let fs = fields(b)?;
    let mut meta = strings(b, &[(1, "name"), (2, "generateName"), (3, "namespace")])?;
    for (n, name) in [(11, "labels"), (12, "annotations")] {
        let m = string_map(&fs, n);
        if m.as_object().is_some_and(|m| !m.is_empty()) {
            meta[name] = m;
        }
    }
    Some(meta)
}

/// A `map<string, string>` field: repeated entries {1: key, 2: value}.
fn string_map(fs: &[(u64, Field<'_>)], n: u64) -> Value {
    map_entries(fs, n, |v| json!(String::from_utf8_lossy(v)))
}

/// A `map<string, bytes>` field, values base64 like the JSON form.
fn bytes_map(fs: &[(u64, Field<'_>)], n: u64) -> Value {
    map_entries(fs, n, |v| json!(crate::tls::base64(v)))
}

fn map_entries(fs: &[(u64, Field<'_>)], n: u64, value: impl Fn(&[u8]) -> Value) -> Value {
    let mut m = Map::new();
    for (k, f) in fs {
        if let (true, Field::Bytes(entry)) = (*k == n, f)
            && let Some(e) = fields(entry)
        {
            let key = String::from_utf8_lossy(sub(&e, 1).unwrap_or_default()).to_string();
            m.insert(key, value(sub(&e, 2).unwrap_or_default()));
        }
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(fields: &[(u64, Vec<u8>)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (n, b) in fields {
            out.push(((n << 3) | 2) as u8);
            out.push(b.len() as u8);
            out.extend_from_slice(b);
        }
        out
    }

    #[test]
    fn reads_what_kubectl_create_configmap_sends() {
        let entry = msg(&[(1, b"GREETING".to_vec()), (2, b"hello".to_vec())]);
        let label = msg(&[(1, b"app".to_vec()), (2, b"web".to_vec())]);
        let meta = msg(&[(1, b"cfg".to_vec()), (3, b"prod".to_vec()), (11, label)]);
        let cm = msg(&[(1, meta), (2, entry)]);
        let type_meta = msg(&[(1, b"v1".to_vec()), (2, b"ConfigMap".to_vec())]);
        let mut body = MAGIC.to_vec();
        body.extend(msg(&[(1, type_meta), (2, cm)]));
        let v = decode(&body).expect("decodes");
        assert_eq!(
            v,
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "prod", "labels": {"app": "web"}}, "data": {"GREETING": "hello"}})
        );
    }

    #[test]
    fn reads_what_kubectl_auth_can_i_sends() {
        let ra = msg(&[
            (1, b"prod".to_vec()),
            (2, b"patch".to_vec()),
            (3, b"apps".to_vec()),
            (5, b"deployments".to_vec()),
        ]);
        let spec = msg(&[(1, ra)]);
        let review = msg(&[(1, Vec::new()), (2, spec), (3, Vec::new())]);
        let type_meta = msg(&[
            (1, b"authorization.k8s.io/v1".to_vec()),
            (2, b"SelfSubjectAccessReview".to_vec()),
        ]);
        let mut body = MAGIC.to_vec();
        body.extend(msg(&[(1, type_meta), (2, review)]));
        let v = decode(&body).expect("decodes");
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "prod", "verb": "patch", "group": "apps", "resource": "deployments"})
        );
        assert_eq!(decode(b"k8s\0\xff\xff"), None);
        assert_eq!(decode(b"{}"), None);
    }
}
