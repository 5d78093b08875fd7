//! Planning and installing a package: `GetInstallSettings`, then `Install`
//! with exactly the planned settings. Conflicts and the "regenerate the data
//! model" request are read from the result; the pack never clears a layer
//! on its own.

use serde_json::{Value, json};

use super::SVC;
use super::build::records;
use crate::conflicts;
use crate::digest;
use crate::json::{b64, field, first_list, return_obj, text};
use crate::rest::{Client, Io, KineticError};
use crate::wit::{InstallOptions, InstallPlan, InstallReport, LogRecord, RecordKind};

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
        predicted_conflicts: vec![],
        summary,
        attributes: vec![("company".into(), c.company().to_string())],
    })
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
