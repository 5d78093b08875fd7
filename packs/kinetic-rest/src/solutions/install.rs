//! Planning and installing a package: `GetInstallSettings`, then `Install`
//! with exactly the planned settings. Conflicts and the "regenerate the data
//! model" request are read from the result; the pack never clears a layer
//! on its own.
//!
//! A plan predicts the layer conflicts the install will meet by asking the
//! server to validate the planned settings (`ValidateInstallSettings`,
//! which reports them in the same two message forms as `Install` and
//! changes nothing), then finds each named layer on the target
//! (`MetaFXSvc/GetLayers`) to learn the company that owns it.

use serde_json::{Value, json};

use super::SVC;
use super::build::records;
use crate::conflicts;
use crate::digest;
use crate::json::{b64, field, first_list, return_obj, text};
use crate::layers;
use crate::rest::{Client, Io, KineticError};
use crate::wit::{
    InstallOptions, InstallPlan, InstallReport, LayerConflict, LogRecord, RecordKind,
};

/// Plans installing `content` (named `file_name`).
pub fn plan<I: Io>(
    c: &Client<'_, I>,
    file_name: &str,
    content: &[u8],
    options: InstallOptions,
) -> Result<InstallPlan, KineticError> {
    if content.len() < 4 || &content[..2] != b"PK" {
        return Err(KineticError::Input(format!(
            "{file_name:?} is not a solution package (expected the ZIP a Kinetic build produces)"
        )));
    }
    let answer = c.call(
        SVC,
        "GetInstallSettings",
        &json!({"cabData": b64(content), "solutionFile": file_name}),
    )?;
    let ret = return_obj(&answer);
    let mut main = ret
        .get("MainInstallSettings")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .cloned()
        .ok_or_else(|| {
            KineticError::protocol(
                &format!("{SVC}/GetInstallSettings"),
                "no MainInstallSettings row",
            )
        })?;
    apply_options(&mut main, &options);
    let mut settings = ret.clone();
    settings["MainInstallSettings"] = json!([main]);
    let solution = field(&main, "SolutionID");
    let installed = installed_version(c, &solution)?;
    let predicted = predict_conflicts(c, content, &settings)?;
    let version = field(&main, "SourceVersion");
    let summary = match &installed {
        Some(v) => format!(
            "install {solution} {version} over {v} in company {}",
            c.company()
        ),
        None => format!(
            "install {solution} {version} (new) in company {}",
            c.company()
        ),
    };
    Ok(InstallPlan {
        solution,
        file_name: file_name.to_string(),
        package_digest: digest::of_bytes(content),
        // The version the target will have: the package's. Servers differ
        // on what their `DestinationVersion` holds; it is kept in the
        // settings sent back unchanged.
        destination_version: version.clone(),
        package_version: version,
        installed_version: installed,
        min_app_version: Some(field(&main, "MinAppVersion")).filter(|v| !v.is_empty()),
        source_company: field(&main, "SourceCompany"),
        options,
        settings: settings.to_string(),
        summary: match predicted.len() {
            0 => summary,
            n => format!("{summary}; {n} layer conflict(s) predicted"),
        },
        predicted_conflicts: predicted,
        attributes: vec![("company".into(), c.company().to_string())],
    })
}

/// The layer conflicts the server predicts for installing `content` with
/// `settings`, each with the company that owns the layer when the target
/// still holds it. A server without `ValidateInstallSettings` (404/405)
/// predicts none: the install itself still reports what it meets.
fn predict_conflicts<I: Io>(
    c: &Client<'_, I>,
    content: &[u8],
    settings: &Value,
) -> Result<Vec<LayerConflict>, KineticError> {
    let messages: Vec<String> = match c.call(
        SVC,
        "ValidateInstallSettings",
        &json!({"cabData": b64(content), "settings": settings}),
    ) {
        Ok(v) => records(return_obj(&v).get("LogRecords"))
            .into_iter()
            .map(|r| r.message)
            .collect(),
        Err(e) if matches!(e.status(), Some(404 | 405)) => return Ok(Vec::new()),
        // A validation that fails with a business error still names what
        // it found.
        Err(e @ KineticError::Server { .. }) => vec![e.server_text()],
        Err(e) => return Err(e),
    };
    let mut out = conflicts::parse(&messages);
    for conflict in &mut out {
        if let Some(found) = layers::find(c, &conflict.layer)? {
            conflict.layer = found.layer;
        }
    }
    Ok(out)
}

fn apply_options(main: &mut Value, o: &InstallOptions) {
    for (key, value) in [
        ("AutoOverwriteDuplicateFile", o.overwrite_duplicate_files),
        ("AutoOverwriteDuplicateData", o.overwrite_duplicate_data),
        ("DeletePreviousInstall", o.delete_previous_install),
        ("OverrideDirectives", o.override_directives),
        ("OnlyTargetCurrentCompany", o.only_current_company),
    ] {
        main[key] = json!(value);
    }
}

/// The installed version of `solution` (`GetInstalledSolutions`).
pub fn installed_version<I: Io>(
    c: &Client<'_, I>,
    solution: &str,
) -> Result<Option<String>, KineticError> {
    Ok(installed(c)?
        .into_iter()
        .find(|(id, _)| id.eq_ignore_ascii_case(solution))
        .map(|(_, v)| v))
}

/// Every installed solution and its version.
pub fn installed<I: Io>(c: &Client<'_, I>) -> Result<Vec<(String, String)>, KineticError> {
    let v = c.call(SVC, "GetInstalledSolutions", &json!({}))?;
    let mut out: Vec<(String, String)> = first_list(return_obj(&v))
        .into_iter()
        .map(|r| {
            let id = [text(r, "SolutionID"), text(r, "PackageID")]
                .into_iter()
                .find(|s| !s.is_empty())
                .unwrap_or_default();
            let version = [
                text(r, "Version"),
                text(r, "DestinationVersion"),
                text(r, "SolutionVersion"),
            ]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default();
            (id, version)
        })
        .filter(|(id, _)| !id.is_empty())
        .collect();
    out.sort();
    // Install history lists a solution once per install; keep the newest.
    out.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            earlier.1 = later.1.clone();
        }
        same
    });
    Ok(out)
}

/// Installs exactly `plan` with `content`.
pub fn install<I: Io>(
    c: &Client<'_, I>,
    plan: &InstallPlan,
    content: &[u8],
) -> Result<InstallReport, KineticError> {
    let found = digest::of_bytes(content);
    if found != plan.package_digest {
        return Err(KineticError::Input(format!(
            "the package's digest is {found}, but the plan was made for {}; plan again",
            plan.package_digest
        )));
    }
    let settings: Value = serde_json::from_str(&plan.settings)
        .map_err(|e| KineticError::Input(format!("the plan's settings are not JSON: {e}")))?;
    let (has_errors, records) = match c.call(
        SVC,
        "Install",
        &json!({"cabData": b64(content), "settings": settings}),
    ) {
        Ok(v) => {
            let r = v
                .get("SolutionResult")
                .or_else(|| return_obj(&v).get("SolutionResult"))
                .unwrap_or(return_obj(&v));
            let recs = records(r.get("LogRecords"));
            let errors = recs.iter().any(|r| matches!(r.kind, RecordKind::Error));
            (
                r.get("HasErrors")
                    .and_then(Value::as_bool)
                    .unwrap_or(errors),
                recs,
            )
        }
        Err(e @ KineticError::Server { .. }) => {
            let mut message = e.server_text();
            if let KineticError::Server { correlation_id, .. } = &e
                && !correlation_id.is_empty()
            {
                message.push_str(&format!(" (correlation id {correlation_id})"));
            }
            (
                true,
                vec![LogRecord {
                    kind: RecordKind::Error,
                    at: None,
                    message,
                }],
            )
        }
        Err(e) => return Err(e),
    };
    let messages: Vec<String> = records.iter().map(|r| r.message.clone()).collect();
    let regenerate = messages.iter().any(|m| {
        let m = m.to_ascii_lowercase();
        m.contains("regenerat") && m.contains("data model")
    });
    Ok(InstallReport {
        has_errors,
        conflicts: conflicts::parse(&messages),
        regenerate_data_model: regenerate,
        // The target now has the package's version.
        installed_version: (!has_errors).then(|| plan.package_version.clone()),
        records,
        attributes: vec![("company".into(), c.company().to_string())],
    })
}
