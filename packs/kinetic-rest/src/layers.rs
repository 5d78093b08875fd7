//! UI layers (`Ice.Lib.MetaFXSvc`): list, find conflicts, export, clear.
//!
//! `GetLayers` is a GET with a JSON `request` query parameter in the
//! published swagger; servers that refuse the GET (404/405) are asked with
//! the POST form `{request: {...}}`. Clearing never happens on its own: the
//! host exports each layer (through [`export`]) and keeps it before asking
//! for [`clear`].

use serde_json::{Map, Value, json};

use crate::digest;
use crate::json::{return_obj, text};
use crate::rest::error::HostKind;
use crate::rest::{Client, Io, KineticError};
use crate::wit::{ConflictForm, Layer, LayerConflict, LayerExport, LayerRef};
use crate::zip;

/// The service.
pub const SVC: &str = "Ice.Lib.MetaFXSvc";

/// Columns that say when, not what: left out of a layer's digest.
const WHEN: &[&str] = &["LastUpdated"];

/// A read that is a GET with `request=<json>`, falling back to the POST form.
pub fn read<I: Io>(
    c: &Client<'_, I>,
    method: &str,
    request: &Value,
) -> Result<Value, KineticError> {
    match c.get(SVC, method, &[("request", request.to_string())]) {
        Err(e)
            if matches!(e.status(), Some(404 | 405)) && !e.server_text().contains("not found:") =>
        {
            c.call(SVC, method, &json!({"request": request}))
        }
        other => other,
    }
}

fn layer_ref(r: &Map<String, Value>) -> LayerRef {
    let opt = |k: &str| Some(text(r, k)).filter(|v| !v.is_empty());
    LayerRef {
        app_id: text(r, "ViewId"),
        layer_name: text(r, "LayerName"),
        type_code: text(r, "TypeCode"),
        company: Some(text(r, "Company")),
        device_type: opt("DeviceType"),
        cgc_code: opt("CGCCode"),
    }
}

fn rows_of(v: &Value) -> Vec<&Map<String, Value>> {
    match return_obj(v) {
        Value::Array(a) => a.iter().filter_map(Value::as_object).collect(),
        other => crate::json::first_list(other),
    }
}

/// The layers of `app_id` in every company the credentials see.
pub fn list<I: Io>(c: &Client<'_, I>, app_id: &str) -> Result<Vec<Layer>, KineticError> {
    let request = json!({"ViewId": app_id, "TypeCode": "", "DeviceType": "", "IncludeUnpublishedLayers": true});
    let v = read(c, "GetLayers", &request)?;
    let mut out: Vec<Layer> = rows_of(&v)
        .into_iter()
        .map(|r| {
            let mut layer = layer_ref(r);
            if layer.app_id.is_empty() {
                layer.app_id = app_id.to_string();
            }
            let opt = |k: &str| Some(text(r, k)).filter(|v| !v.is_empty());
            Layer {
                layer,
                published: r
                    .get("IsPublished")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                has_draft: r
                    .get("HasDraftContent")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                system: r
                    .get("SystemFlag")
                    .and_then(Value::as_bool)
                    .unwrap_or(false),
                last_updated: opt("LastUpdated"),
                last_updated_by: opt("LastUpdatedBy"),
                digest: digest::of_json(&Value::Object(r.clone()), WHEN),
            }
        })
        .collect();
    out.sort_by_key(|l| key(&l.layer));
    Ok(out)
}

/// `<app>~<layer>~<type>~<company>`, the inventory id of a layer.
pub fn key(l: &LayerRef) -> String {
    format!(
        "{}~{}~{}~{}",
        l.app_id,
        l.layer_name,
        l.type_code,
        l.company.as_deref().unwrap_or("")
    )
}

/// Layers of `app_id` that live in another company or a `T_` company.
pub fn conflicts_for_app<I: Io>(
    c: &Client<'_, I>,
    app_id: &str,
) -> Result<Vec<LayerConflict>, KineticError> {
    Ok(list(c, app_id)?
        .into_iter()
        .filter(|l| {
            let co = l.layer.company.as_deref().unwrap_or("");
            !l.system && !co.is_empty() && (co != c.company() || co.starts_with("T_"))
        })
        .map(|l| LayerConflict {
            layer: l.layer,
            form: ConflictForm::AppLayers,
            message: String::new(),
        })
        .collect())
}

/// The layer `r` names, as the target holds it: company filled in when the
/// reference left it out (an install message names none).
pub fn find<I: Io>(c: &Client<'_, I>, r: &LayerRef) -> Result<Option<Layer>, KineticError> {
    let all = list(c, &r.app_id)?;
    let matches = |l: &&Layer| {
        l.layer.layer_name == r.layer_name
            && (r.type_code.is_empty() || l.layer.type_code == r.type_code)
            && r.company
                .as_ref()
                .is_none_or(|co| l.layer.company.as_ref() == Some(co))
    };
    // Without a company, prefer the one that is not ours (that is the
    // conflict).
    let mut found: Vec<&Layer> = all.iter().filter(matches).collect();
    // System layers are never the conflict either (nor ever cleared).
    found.sort_by_key(|l| (l.layer.company.as_deref() == Some(c.company()), l.system));
    Ok(found.first().map(|l| (*l).clone()))
}

fn missing(r: &LayerRef) -> KineticError {
    KineticError::Host(
        HostKind::NotFound,
        format!(
            "layer {} of {} (type {}) does not exist",
            r.layer_name, r.app_id, r.type_code
        ),
    )
}

/// Exports one layer as `Layers/<App>/<Layer>.jsonc` in a ZIP.
pub fn export<I: Io>(c: &Client<'_, I>, r: &LayerRef) -> Result<LayerExport, KineticError> {
    let layer = find(c, r)?.ok_or_else(|| missing(r))?;
    let l = &layer.layer;
    let request = json!({
        "id": l.app_id, "ViewId": l.app_id, "LayerName": l.layer_name, "TypeCode": l.type_code,
        "Company": l.company.clone().unwrap_or_default(), "DeviceType": l.device_type.clone().unwrap_or_default(),
        "CGCCode": l.cgc_code.clone().unwrap_or_default(), "IncludeDraftContent": true,
    });
    let content = read(c, "GetApp", &request)?;
    let body = serde_json::to_string_pretty(return_obj(&content)).unwrap_or_default();
    let bytes = zip::write(&[(
        format!("Layers/{}/{}.jsonc", l.app_id, l.layer_name),
        body.into_bytes(),
    )]);
    Ok(LayerExport {
        file_name: format!(
            "{}~{}~{}.zip",
            l.app_id,
            l.layer_name,
            l.company
                .as_deref()
                .filter(|c| !c.is_empty())
                .unwrap_or("all")
        ),
        digest: digest::of_bytes(&bytes),
        content: bytes,
        layer: layer.layer,
    })
}

/// Deletes one layer; `false` when it did not exist, denied for a system layer.
pub fn clear<I: Io>(c: &Client<'_, I>, r: &LayerRef) -> Result<bool, KineticError> {
    let Some(layer) = find(c, r)? else {
        return Ok(false);
    };
    if layer.system {
        return Err(KineticError::Host(
            HostKind::Denied,
            format!(
                "layer {} of {} is a system layer (SystemFlag); envpack never clears those",
                r.layer_name, r.app_id
            ),
        ));
    }
    let l = &layer.layer;
    let request = json!({
        "ViewId": l.app_id, "Company": l.company.clone().unwrap_or_default(), "TypeCode": l.type_code,
        "LayerName": l.layer_name, "DeviceType": l.device_type.clone().unwrap_or_default(),
        "CGCCode": l.cgc_code.clone().unwrap_or_default(), "UserName": "", "IncludeDraftContent": true, "UxAppVersion": 0,
    });
    match c.call(SVC, "DeleteLayer", &json!({"request": request})) {
        Err(e) if e.status() == Some(404) && e.server_text().contains("Method") => {
            c.call(
                SVC,
                "BulkDeleteLayers",
                &json!({"layersToDelete": [request]}),
            )?;
        }
        other => {
            other?;
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::fake::{self, Fake, method, ok, status};

    fn row(company: &str, system: bool) -> Value {
        json!({"ViewId": "Erp.UI.PartEntry", "LayerName": "L1", "TypeCode": "KNTCCustLayer",
               "Company": company, "SystemFlag": system, "IsPublished": true, "LastUpdated": "t1"})
    }

    /// GetLayers as a GET first; a server that refuses the GET is asked
    /// with the POST form.
    #[test]
    fn get_then_post_and_conflicts_of_other_companies() {
        let io = Fake::new(|r| {
            fake::token(r).unwrap_or_else(|| match (r.method.as_str(), method(r)) {
                ("GET", "GetLayers") => status(405, json!({"ErrorMessage": "only POST"})),
                ("POST", "GetLayers") => ok(json!({"returnObj": [row("EPIC06", false), row("T_EPIC06", false), row("EPIC07", true)]})),
                _ => status(404, json!({})),
            })
        });
        let c = Client::new(&io, fake::settings());
        let all = list(&c, "Erp.UI.PartEntry").expect("layers");
        assert_eq!(all.len(), 3);
        let calls = io.calls();
        assert!(
            calls[1].starts_with("GET ") && calls[2].starts_with("POST "),
            "{calls:?}"
        );
        let found = conflicts_for_app(&c, "Erp.UI.PartEntry").expect("conflicts");
        let companies: Vec<_> = found
            .iter()
            .map(|f| f.layer.company.clone().unwrap_or_default())
            .collect();
        assert_eq!(
            companies,
            ["T_EPIC06"],
            "ours and system layers are not conflicts"
        );
    }

    /// Export is a ZIP of the GetApp content; clearing a system layer is
    /// refused; clearing sends DeleteLayer with the layer's company.
    #[test]
    fn export_then_clear() {
        let io = Fake::new(|r| {
            fake::token(r).unwrap_or_else(|| match method(r) {
                "GetLayers" => ok(json!([row("T_X", false), row("SYS", true)])),
                "GetApp" => ok(json!({"returnObj": {"Id": "Erp.UI.PartEntry", "Layers": [{"LayerName": "L1", "Content": {"k": "v"}}]}})),
                "DeleteLayer" => ok(json!({})),
                _ => status(404, json!({})),
            })
        });
        let c = Client::new(&io, fake::settings());
        let mut r = LayerRef {
            app_id: "Erp.UI.PartEntry".into(),
            layer_name: "L1".into(),
            type_code: "KNTCCustLayer".into(),
            company: None,
            device_type: None,
            cgc_code: None,
        };
        let e = export(&c, &r).expect("export");
        assert_eq!(
            e.layer.company.as_deref(),
            Some("T_X"),
            "the other company's layer"
        );
        assert_eq!(&e.content[..2], b"PK");
        assert!(String::from_utf8_lossy(&e.content).contains("Layers/Erp.UI.PartEntry/L1.jsonc"));
        assert!(clear(&c, &r).expect("clear"));
        assert_eq!(io.body_of("/DeleteLayer")["request"]["Company"], "T_X");
        r.company = Some("SYS".into());
        assert!(matches!(
            clear(&c, &r),
            Err(KineticError::Host(HostKind::Denied, _))
        ));
        r.company = Some("NONE".into());
        assert!(!clear(&c, &r).expect("absent"));
    }
}
