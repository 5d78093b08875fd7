//! The non-apply patch types: JSON merge patch (RFC 7386), strategic merge
//! patch (lists with a merge key merge by item, with the `$patch`,
//! `$setElementOrder`, `$retainKeys` and `$deleteFromPrimitiveList`
//! directives kubectl sends) and JSON patch (RFC 6902).

use serde_json::{Map, Value};

use crate::fields;

/// RFC 7386: objects merge, `null` deletes, anything else replaces.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    if let Value::Object(t) = target {
        for (k, v) in p {
            if v.is_null() {
                t.remove(k);
            } else {
                merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
            }
        }
    }
}

/// A strategic merge patch, with the merge keys of [`fields`].
pub fn strategic_merge_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    strategic_map(target, patch)
}

fn strategic_map(target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut clean = p.clone();
            clean.remove("$patch");
            *target = Value::Object(clean);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) if other != "merge" => return Err(format!("unknown patch type: {other:?}")),
        _ => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Value::Object(t) = target else {
        return Ok(());
    };
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(items)), Value::Array(drop)) = (t.get_mut(field), v) {
                items.retain(|i| !drop.contains(i));
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let slot = t.entry(k.clone()).or_insert(Value::Null);
        match v {
            Value::Object(_) => strategic_map(slot, v)?,
            Value::Array(items) => {
                strategic_list(slot, k, items, p.get(&format!("$setElementOrder/{k}")))?
            }
            _ => *slot = v.clone(),
        }
        if slot.is_null() {
            t.remove(k);
        }
    }
    Ok(())
}

fn strategic_list(
    slot: &mut Value,
    field: &str,
    items: &[Value],
    order: Option<&Value>,
) -> Result<(), String> {
    let keyed = !items.is_empty()
        && items
            .iter()
            .all(|i| fields::item_token(field, i).is_some() || i.get("$patch").is_some());
    if !keyed {
        // An atomic list is replaced; a `$patch: replace` marker item says so.
        let plain = items.iter().filter(|i| i.get("$patch").is_none());
        *slot = Value::Array(plain.cloned().collect());
        return Ok(());
    }
    if !slot.is_array() {
        *slot = Value::Array(Vec::new());
    }
    let Value::Array(live) = slot else {
        return Ok(());
    };
    for item in items {
        let directive = item.get("$patch").and_then(Value::as_str);
        if directive == Some("replace") {
            *live = items
                .iter()
                .filter(|i| i.get("$patch").is_none())
                .cloned()
                .collect();
            return Ok(());
        }
        let key = fields::item_token(field, item);
        let at = live
            .iter()
            .position(|i| fields::item_token(field, i) == key);
        match (directive, at) {
            (Some("delete"), Some(i)) => {
                live.remove(i);
            }
            (Some("delete"), None) => {}
            (_, Some(i)) => strategic_map(&mut live[i], item)?,
            (_, None) => {
                let mut fresh = Value::Object(Map::new());
                strategic_map(&mut fresh, item)?;
                live.push(fresh);
            }
        }
    }
    if let Some(Value::Array(order)) = order {
        reorder(live, field, order);
    }
    Ok(())
}

/// `$setElementOrder/<field>`: listed items first, in that order.
fn reorder(live: &mut [Value], field: &str, order: &[Value]) {
    let tokens: Vec<Option<String>> = order.iter().map(|o| fields::item_token(field, o)).collect();
    let rank = |i: &Value| {
        let t = fields::item_token(field, i);
        tokens.iter().position(|o| *o == t).unwrap_or(usize::MAX)
    };
    live.sort_by_key(rank);
}

/// RFC 6902 JSON patch: `add`, `remove`, `replace`, `move`, `copy`, `test`.
pub fn json_patch(target: &mut Value, ops: &Value) -> Result<(), String> {
    let ops = ops
        .as_array()
        .ok_or("a JSON patch must be a list of operations")?;
    for op in ops {
        let kind = op["op"]
            .as_str()
            .ok_or("a JSON patch operation needs \"op\"")?;
        let path = op["path"]
            .as_str()
            .ok_or("a JSON patch operation needs \"path\"")?;
        match kind {
            "add" => add(
                target,
                path,
                op.get("value").cloned().ok_or("add needs \"value\"")?,
            )?,
            "remove" => {
                take(target, path)?;
            }
            "replace" => {
                take(target, path)?;
                add(
                    target,
                    path,
                    op.get("value").cloned().ok_or("replace needs \"value\"")?,
                )?;
            }
            "move" | "copy" => {
                let from = op["from"].as_str().ok_or("move and copy need \"from\"")?;
                let v = if kind == "move" {
                    take(target, from)?
                } else {
                    target
                        .pointer(from)
                        .cloned()
                        .ok_or_else(|| format!("no value at {from:?}"))?
                };
                add(target, path, v)?;
            }
            "test" => {
                if target.pointer(path) != op.get("value") {
                    return Err(format!("test failed at {path:?}"));
                }
            }
            other => return Err(format!("unknown JSON patch operation {other:?}")),
        }
    }
    Ok(())
}

fn split_pointer(path: &str) -> Result<(String, String), String> {
    let (parent, last) = path
        .rsplit_once('/')
        .ok_or_else(|| format!("invalid JSON pointer {path:?}"))?;
    Ok((
        parent.to_string(),
        last.replace("~1", "/").replace("~0", "~"),
    ))
}

fn add(target: &mut Value, path: &str, value: Value) -> Result<(), String> {
    if path.is_empty() {
        *target = value;
        return Ok(());
    }
    let (parent, last) = split_pointer(path)?;
    match target.pointer_mut(&parent) {
        Some(Value::Object(m)) => {
            m.insert(last, value);
            Ok(())
        }
        Some(Value::Array(a)) => {
            let i = if last == "-" {
                a.len()
            } else {
                last.parse()
                    .map_err(|_| format!("invalid index in {path:?}"))?
            };
            if i > a.len() {
                return Err(format!("index out of range in {path:?}"));
            }
            a.insert(i, value);
            Ok(())
        }
        _ => Err(format!(
            "no object or list at {parent:?} to add {path:?} to"
        )),
    }
}

fn take(target: &mut Value, path: &str) -> Result<Value, String> {
    let (parent, last) = split_pointer(path)?;
    let missing = || format!("no value at {path:?} to remove");
    match target.pointer_mut(&parent) {
        Some(Value::Object(m)) => m.remove(&last).ok_or_else(missing),
        Some(Value::Array(a)) => {
            let i: usize = last.parse().map_err(|_| missing())?;
            if i < a.len() {
                Ok(a.remove(i))
            } else {
                Err(missing())
            }
        }
        _ => Err(missing()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_image_patches_one_container_by_name() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "a:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "s:1"}
        ]}}}});
        // What `kubectl set image deployment/web app=a:2` sends.
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "app"}, {"name": "side"}],
            "containers": [{"image": "a:2", "name": "app"}]
        }}}});
        strategic_merge_patch(&mut d, &patch).expect("patch");
        let cs = &d["spec"]["template"]["spec"]["containers"];
        assert_eq!(cs[0]["image"], "a:2");
        assert_eq!(cs[0]["ports"][0]["containerPort"], 80);
        assert_eq!(cs[1]["image"], "s:1");
    }

    #[test]
    fn strategic_directives_delete_and_replace() {
        let mut d =
            json!({"containers": [{"name": "a"}, {"name": "b"}], "labels": {"x": "1", "y": "2"}});
        let patch = json!({"containers": [{"name": "a", "$patch": "delete"}], "labels": {"$patch": "replace", "z": "3"}});
        strategic_merge_patch(&mut d, &patch).expect("patch");
        assert_eq!(
            d,
            json!({"containers": [{"name": "b"}], "labels": {"z": "3"}})
        );
    }

    #[test]
    fn merge_and_json_patches() {
        let mut d = json!({"spec": {"replicas": 1, "paused": true}});
        merge_patch(&mut d, &json!({"spec": {"replicas": 3, "paused": null}}));
        assert_eq!(d, json!({"spec": {"replicas": 3}}));
        json_patch(
            &mut d,
            &json!([
                {"op": "test", "path": "/spec/replicas", "value": 3},
                {"op": "replace", "path": "/spec/replicas", "value": 0},
                {"op": "add", "path": "/spec/list", "value": [1]},
                {"op": "add", "path": "/spec/list/-", "value": 2},
                {"op": "move", "from": "/spec/list", "path": "/moved"}
            ]),
        )
        .expect("patch");
        assert_eq!(d, json!({"spec": {"replicas": 0}, "moved": [1, 2]}));
        assert!(json_patch(&mut d, &json!([{"op": "remove", "path": "/nope"}])).is_err());
    }
}
