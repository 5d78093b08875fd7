//! `Ice.Lib.MetaFXSvc` (also spelled `Ice.LIB.MetaFXSvc`): UI layers and applications.
//!
//! Each company holds the layers visible in it; a row names its owner in `Company`, so
//! `GetLayers` shows a layer of another company that sits there (how clients find the layer an
//! install conflict names). `GetLayers` and `GetApp`
//! answer both the GET form (a JSON `request` query parameter) and the POST form.

use base64::Engine;
use serde_json::{Map, Value, json};

use crate::error::EpicorError;
use crate::export_package::company;
use crate::services::Call;
use crate::state::State;
use crate::util::{field, flag, text};

/// Answers one MetaFXSvc method.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let (co, body) = (call.company.as_str(), &call.body);
    let request = body.get("request").cloned().unwrap_or(Value::Null);
    match call.method.as_str() {
        "GetLayers" => Ok(json!({"returnObj": get_layers(&state.companies[co].layers, &request)})),
        "DeleteLayer" => {
            if delete(&mut company(state, co).layers, &request) == 0 {
                return Err(EpicorError::record_not_found(format!(
                    "Layer {}~{}~{} was not found in company '{}'.",
                    field(&request, "ViewId"),
                    field(&request, "LayerName"),
                    field(&request, "TypeCode"),
                    field(&request, "Company")
                ))
                .with_detail("XXXDef", "Key2"));
            }
            Ok(json!({}))
        }
        "BulkDeleteLayers" => {
            let doomed = body
                .get("layersToDelete")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            let layers = &mut company(state, co).layers;
            let deleted: usize = doomed
                .iter()
                .map(|l| delete(layers, l.get("request").unwrap_or(l)))
                .sum();
            Ok(json!({"returnObj": {"DeletedCount": deleted}}))
        }
        "ImportLayers" => import(state, co, body.get("fileContent").unwrap_or(body)),
        "GetApplications" => Ok(json!({"returnObj": applications(state, co, &request)})),
        "GetApp" => get_app(state, co, &request),
        _ => Err(call.unknown_method()),
    }
}

/// A layer row as listed (its content left out).
fn listed(layer: &Map<String, Value>) -> Value {
    let mut row = layer.clone();
    row.remove("Content");
    Value::Object(row)
}

fn matches(layer: &Map<String, Value>, request: &Value, key: &str, layer_key: &str) -> bool {
    let want = field(request, key);
    want.is_empty() || text(layer, layer_key).eq_ignore_ascii_case(want)
}

fn get_layers(layers: &[Map<String, Value>], request: &Value) -> Vec<Value> {
    let unpublished = flag(request, "IncludeUnpublishedLayers", false);
    layers
        .iter()
        .filter(|l| {
            matches(l, request, "ViewId", "ViewId")
                && matches(l, request, "TypeCode", "TypeCode")
                && matches(l, request, "DeviceType", "DeviceType")
                && (unpublished || l.get("IsPublished") != Some(&json!(false)))
        })
        .map(listed)
        .collect()
}

/// Deletes the layers matching a DeleteLayer request (ViewId, LayerName and Company must
/// match; TypeCode and DeviceType when given). Returns how many.
fn delete(layers: &mut Vec<Map<String, Value>>, request: &Value) -> usize {
    let before = layers.len();
    let (app, name, company) = (
        field(request, "ViewId"),
        field(request, "LayerName"),
        field(request, "Company"),
    );
    if app.is_empty() || name.is_empty() {
        return 0;
    }
    layers.retain(|l| {
        !(text(l, "ViewId").eq_ignore_ascii_case(app)
            && text(l, "LayerName").eq_ignore_ascii_case(name)
            && text(l, "Company").eq_ignore_ascii_case(company)
            && matches(l, request, "TypeCode", "TypeCode")
            && matches(l, request, "DeviceType", "DeviceType"))
    });
    before - layers.len()
}

fn applications(state: &State, co: &str, request: &Value) -> Vec<Value> {
    let search = field(request, "SearchText").to_ascii_lowercase();
    let all = flag(request, "IncludeAllLayers", true);
    let layers = &state.companies[co].layers;
    let mut apps: Vec<String> = state.apps.clone();
    for l in layers {
        let app = text(l, "ViewId");
        if !apps.iter().any(|a| a.eq_ignore_ascii_case(app)) {
            apps.push(app.to_string());
        }
    }
    apps.sort();
    apps.iter()
        .filter(|a| search.is_empty() || a.to_ascii_lowercase().contains(&search))
        .map(|app| {
            let layers: Vec<Value> = layers
                .iter()
                .filter(|l| text(l, "ViewId").eq_ignore_ascii_case(app))
                .filter(|l| all || text(l, "Company").is_empty() || text(l, "Company").eq_ignore_ascii_case(co))
                .map(|l| json!({"LayerName": l.get("LayerName"), "TypeCode": l.get("TypeCode"), "DeviceType": l.get("DeviceType"), "Company": l.get("Company")}))
                .collect();
            json!({"Id": app, "Layers": layers})
        })
        .collect()
}

/// `GetApp {request: {id, properties: {layers, company}}}` (or `ViewId`, `LayerName`,
/// `Company`): the app with its layers' content.
fn get_app(state: &State, co: &str, request: &Value) -> Result<Value, EpicorError> {
    let all_layers = &state.companies[co].layers;
    let app = match field(request, "id") {
        "" => field(request, "ViewId"),
        id => id,
    };
    let props = request.get("properties").cloned().unwrap_or(Value::Null);
    let wanted: Vec<String> = match props.get("layers").or_else(|| request.get("LayerName")) {
        Some(Value::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        _ => Vec::new(),
    };
    let company = match field(&props, "company") {
        "" => field(request, "Company"),
        c => c,
    };
    let known = state.apps.iter().any(|a| a.eq_ignore_ascii_case(app))
        || all_layers
            .iter()
            .any(|l| text(l, "ViewId").eq_ignore_ascii_case(app));
    if app.is_empty() || !known {
        return Err(EpicorError::not_found(format!(
            "Application '{app}' was not found."
        )));
    }
    let layers: Vec<&Map<String, Value>> = all_layers
        .iter()
        .filter(|l| text(l, "ViewId").eq_ignore_ascii_case(app))
        .filter(|l| {
            wanted.is_empty()
                || wanted
                    .iter()
                    .any(|w| w.eq_ignore_ascii_case(text(l, "LayerName")))
        })
        .filter(|l| company.is_empty() || text(l, "Company").eq_ignore_ascii_case(company))
        .collect();
    Ok(json!({"returnObj": {"Id": app, "Layers": layers}}))
}

fn import(state: &mut State, co: &str, file: &Value) -> Result<Value, EpicorError> {
    let bad = |why: String| {
        EpicorError::bad_request(format!("The layer file cannot be imported: {why}."))
            .with_detail("MetaFX", "fileContent")
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(field(file, "content").trim())
        .map_err(|e| bad(format!("content is not base64 ({e})")))?;
    let entries = crate::zip::read(&bytes).map_err(bad)?;
    let overwrite = flag(file, "overwrite", false);
    let target = match file.get("overrideCompanyId") {
        Some(Value::String(c)) if !c.is_empty() => c.clone(),
        _ => co.to_string(),
    };
    let mut parsed = Vec::new();
    for (name, data) in &entries {
        let parts: Vec<&str> = name.split('/').collect();
        let [_, app, file_name] = parts.as_slice() else {
            return Err(bad(format!(
                "entry '{name}' is not Layers/<AppId>/<Layer>.jsonc"
            )));
        };
        let layer = file_name
            .strip_suffix(".jsonc")
            .or_else(|| file_name.strip_suffix(".json"))
            .ok_or_else(|| bad(format!("entry '{name}' is not a .jsonc file")))?;
        let text = String::from_utf8_lossy(data);
        let content: Value = serde_json::from_str(&strip_comments(&text))
            .map_err(|e| bad(format!("entry '{name}' is not JSON(C): {e}")))?;
        let content = unwrap_get_app(content, layer);
        let exists = state.companies[co].layers.iter().any(|l| {
            crate::util::text(l, "Company").eq_ignore_ascii_case(&target)
                && crate::util::text(l, "ViewId").eq_ignore_ascii_case(app)
                && crate::util::text(l, "LayerName").eq_ignore_ascii_case(layer)
        });
        if exists && !overwrite {
            return Err(EpicorError::conflict(format!(
                "Layer {app}~{layer} already exists in company '{target}'; import with overwrite."
            )));
        }
        parsed.push((app.to_string(), layer.to_string(), content));
    }
    let mut imported = Vec::new();
    for (app, layer, content) in parsed {
        crate::edits::put_layer(state, co, &target, &app, &layer, content)
            .map_err(|e| bad(e.to_string()))?;
        imported.push(json!({"ViewId": app, "LayerName": layer, "Company": target}));
    }
    Ok(json!({"returnObj": imported}))
}

/// A `.jsonc` that is a whole `GetApp` answer for the layer (`{Id, Layers: [{LayerName,
/// Content}]}`, what a client that exports through `GetApp` saves) imports as that layer's
/// content; anything else is the content itself.
fn unwrap_get_app(content: Value, layer: &str) -> Value {
    let named = content
        .get("Layers")
        .and_then(Value::as_array)
        .and_then(|layers| {
            layers
                .iter()
                .find(|l| field(l, "LayerName").eq_ignore_ascii_case(layer))
        })
        .and_then(|l| l.get("Content"))
        .cloned();
    named.unwrap_or(content)
}

/// Removes `//` and `/* */` comments outside strings (layers travel as `.jsonc`).
pub fn strip_comments(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars().peekable();
    let (mut in_string, mut escaped) = (false, false);
    while let Some(c) = chars.next() {
        if in_string {
            out.push(c);
            match (escaped, c) {
                (true, _) => escaped = false,
                (false, '\\') => escaped = true,
                (false, '"') => in_string = false,
                _ => {}
            }
            continue;
        }
        match (c, chars.peek()) {
            ('"', _) => {
                in_string = true;
                out.push(c);
            }
            ('/', Some('/')) => {
                for n in chars.by_ref() {
                    if n == '\n' {
                        out.push('\n');
                        break;
                    }
                }
            }
            ('/', Some('*')) => {
                chars.next();
                let mut last = ' ';
                for n in chars.by_ref() {
                    if last == '*' && n == '/' {
                        break;
                    }
                    last = n;
                }
            }
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn strips_jsonc_comments() {
        let text = "{\n // a comment\n \"url\": \"http://x//y\", /* block */ \"n\": 1 }";
        let v: serde_json::Value =
            serde_json::from_str(&super::strip_comments(text)).expect("json");
        assert_eq!(v["url"], "http://x//y");
        assert_eq!(v["n"], 1);
    }
}
