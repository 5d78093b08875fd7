//! Canonical YAML for manifests: keys sorted (serde_json's map is a
//! `BTreeMap`), two-space indentation, strings plain only when YAML cannot
//! read them as anything else, otherwise JSON-quoted (JSON strings are valid
//! YAML). The same object always prints the same bytes, which is what
//! `envpack env render` promises.

use serde_json::Value;

/// One YAML document (no `---` separator), ending in a newline.
pub fn document(value: &Value) -> String {
    let mut out = String::new();
    match value {
        Value::Object(m) if !m.is_empty() => map(&mut out, m, 0),
        Value::Array(a) if !a.is_empty() => list(&mut out, a, 0),
        other => {
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
    out
}

fn indent(out: &mut String, n: usize) {
    out.extend(std::iter::repeat_n(' ', n));
}

fn map(out: &mut String, m: &serde_json::Map<String, Value>, depth: usize) {
    for (i, (k, v)) in m.iter().enumerate() {
        // The first key of a list item continues the `- ` line.
        if i > 0 || depth == 0 || !out.ends_with("- ") {
            indent(out, depth);
        }
        out.push_str(&string(k));
        out.push(':');
        value_after_key(out, v, depth);
    }
}

fn value_after_key(out: &mut String, v: &Value, depth: usize) {
    match v {
        Value::Object(m) if !m.is_empty() => {
            out.push('\n');
            map(out, m, depth + 2);
        }
        Value::Array(a) if !a.is_empty() => {
            out.push('\n');
            list(out, a, depth);
        }
        other => {
            out.push(' ');
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn list(out: &mut String, a: &[Value], depth: usize) {
    for v in a {
        indent(out, depth);
        out.push_str("- ");
        match v {
            Value::Object(m) if !m.is_empty() => map(out, m, depth + 2),
            Value::Array(inner) if !inner.is_empty() => {
                out.push('\n');
                list(out, inner, depth + 2);
            }
            other => {
                out.push_str(&scalar(other));
                out.push('\n');
            }
        }
    }
}

fn scalar(v: &Value) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => string(s),
        Value::Array(_) => "[]".into(),
        Value::Object(_) => "{}".into(),
    }
}

/// A string, plain when that reads back as the same string, else quoted.
fn string(s: &str) -> String {
    if is_plain(s) {
        s.to_string()
    } else {
        Value::String(s.to_string()).to_string()
    }
}

fn is_plain(s: &str) -> bool {
    const WORDS: &[&str] = &[
        "true", "false", "yes", "no", "on", "off", "null", "y", "n", "~",
    ];
    let Some(first) = s.chars().next() else {
        return false;
    };
    if !first.is_ascii_alphabetic() && first != '/' {
        return false;
    }
    if WORDS.contains(&s.to_ascii_lowercase().as_str()) {
        return false;
    }
    // `:` only inside words (`image: r/app@sha256:ab` is plain), never
    // followed by a space or at the end.
    s.chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '/' | '@' | ':'))
        && !s.ends_with(':')
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn prints_canonical_yaml() {
        let v = json!({
            "kind": "Deployment",
            "metadata": {"name": "web", "labels": {"b": "2", "a": "x y"}},
            "spec": {"replicas": 2, "items": [{"name": "c", "ports": [{"containerPort": 8080}]}, "s", true], "empty": {}, "none": []}
        });
        assert_eq!(
            document(&v),
            "kind: Deployment\nmetadata:\n  labels:\n    a: \"x y\"\n    b: \"2\"\n  name: web\nspec:\n  empty: {}\n  items:\n  - name: c\n    ports:\n    - containerPort: 8080\n  - s\n  - true\n  none: []\n  replicas: 2\n"
        );
    }

    #[test]
    fn quotes_what_yaml_would_misread() {
        for s in ["true", "No", "8080", "", "a: b", "-x", "#c", "x:", "{a}"] {
            assert!(!is_plain(s), "{s:?}");
        }
        for s in [
            "web",
            "registry.example/app@sha256:ab12",
            "/healthz",
            "app.kubernetes.io/name",
        ] {
            assert!(is_plain(s), "{s:?}");
        }
    }
}
