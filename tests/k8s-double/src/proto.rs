//! Just enough of the Kubernetes protobuf encoding to read the one body
//! kubectl sends that way: a `SelfSubjectAccessReview` (`kubectl auth
//! can-i`). Answers are JSON, which kubectl also accepts.
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
        if let Some(v) = sub(&fs, *n) {
            m.insert((*name).to_string(), json!(String::from_utf8_lossy(v)));
        }
    }
    Some(Value::Object(m))
}

/// A protobuf `SelfSubjectAccessReview` as its JSON object.
pub fn self_subject_access_review(body: &[u8]) -> Option<Value> {
    let unknown = fields(body.strip_prefix(MAGIC)?)?;
    let type_meta = fields(sub(&unknown, 1)?)?;
    let kind = String::from_utf8_lossy(sub(&type_meta, 2)?).to_string();
    let api_version = String::from_utf8_lossy(sub(&type_meta, 1)?).to_string();
    let review = fields(sub(&unknown, 2)?)?;
    let spec = fields(sub(&review, 2).unwrap_or_default())?;
    let mut spec_json = Map::new();
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
        spec_json.insert("resourceAttributes".into(), strings(ra, &names)?);
    }
    if let Some(nra) = sub(&spec, 2) {
        spec_json.insert(
            "nonResourceAttributes".into(),
            strings(nra, &[(1, "path"), (2, "verb")])?,
        );
    }
    Some(json!({"apiVersion": api_version, "kind": kind, "metadata": {}, "spec": spec_json}))
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
        let v = self_subject_access_review(&body).expect("decodes");
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(
            v["spec"]["resourceAttributes"],
            json!({"namespace": "prod", "verb": "patch", "group": "apps", "resource": "deployments"})
        );
        assert_eq!(self_subject_access_review(b"k8s\0\xff\xff"), None);
        assert_eq!(self_subject_access_review(b"{}"), None);
    }
}
