//! Building solutions: `GetBuildSettings`, `ValidateBuildSettings`, `Build` (the package in
//! the answer, as the published swagger has it) and `BuildSolution` (files left on the server
//! and fetched with `Ice.Lib.FileTransferSvc/DownloadFile {folder: 4, serverPath}`, as newer
//! servers do).

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::EpicorError;
use crate::export_package::{canonical_id, company, first_str, solution};
use crate::package::{self, Package};
use crate::services::Call;
use crate::state::State;
use crate::util::{field, now_iso, text};

/// The server folder build artifacts are left in (`folder: 4` of FileTransferSvc).
pub const SOLUTIONS_FOLDER: i64 = 4;

/// Answers the build methods.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let co = call.company.as_str();
    match call.method.as_str() {
        "GetBuildSettings" => build_settings(
            state,
            co,
            first_str(&call.body, &["solutionID", "solutionId"]),
        ),
        "ValidateBuildSettings" => {
            let id = settings_id(&call.body)?;
            let (pkg, records) = run(state, co, &id, false)?;
            Ok(json!({"returnObj": {"HasErrors": pkg.is_none(), "LogRecords": records}}))
        }
        "Build" => {
            let id = settings_id(&call.body)?;
            let (pkg, records) = run(state, co, &id, true)?;
            let (content, hash) = match &pkg {
                Some(p) => {
                    let zip = p.to_zip();
                    let hash = hex::encode(Sha256::digest(&zip));
                    (base64::engine::general_purpose::STANDARD.encode(zip), hash)
                }
                None => (String::new(), String::new()),
            };
            Ok(json!({"returnObj": {
                "Content": content, "HashContent": hash,
                "LogRecords": records, "HasErrors": pkg.is_none(),
            }}))
        }
        "BuildSolution" => build_solution(state, co, &call.body),
        _ => Err(call.unknown_method()),
    }
}

fn settings_id(body: &Value) -> Result<String, EpicorError> {
    let settings = body.get("settings").unwrap_or(body);
    let id = first_str(settings, &["SolutionID", "PackageID", "solutionID"]);
    if id.is_empty() {
        return Err(EpicorError::bad_request(
            "Build settings must name the solution (settings.SolutionID); pass back what GetBuildSettings returned.",
        )
        .with_detail("BuildSettings", "SolutionID"));
    }
    Ok(id.to_string())
}

fn file_names(id: &str, version: &str) -> [String; 4] {
    let stem = format!("{id}_{version}");
    [
        format!("{stem}.cab"),
        format!("{stem}_Build.log"),
        format!("{stem}.hash"),
        "Validation.txt".to_string(),
    ]
}

fn build_settings(state: &State, co: &str, id: &str) -> Result<Value, EpicorError> {
    let s = solution(state, co, id)?;
    let h = &s.header;
    let version = text(h, "Version");
    let [cab, log, _, _] = file_names(text(h, "PackageID"), version);
    let next = h.get("BuildIteration").and_then(Value::as_u64).unwrap_or(0) + 1;
    Ok(json!({"returnObj": {
        "SolutionID": h.get("PackageID"), "Company": co, "Description": h.get("Description"),
        "Version": version, "BuildIteration": next, "MinAppVersion": h.get("MinAppVersion"),
        "SolutionFile": cab, "LogFile": log, "IncludeSolutionHistory": false,
        "CreateCab": true, "OverwriteExistingCab": true,
    }}))
}

/// Builds; when `record`, bumps the iteration and appends an `EPHistory` row.
fn run(
    state: &mut State,
    co: &str,
    id: &str,
    record: bool,
) -> Result<(Option<Package>, Vec<Value>), EpicorError> {
    let key = canonical_id(state, co, id)?;
    let s = solution(state, co, &key)?.clone();
    let iteration = s
        .header
        .get("BuildIteration")
        .and_then(Value::as_u64)
        .unwrap_or(0)
        + 1;
    let (pkg, records) = package::build(state, co, &s, iteration);
    if record && pkg.is_some() {
        let user = state.config.user.clone();
        let history = state.row(json!({
            "Company": co, "SolutionID": key, "Version": s.header.get("Version"),
            "BuildIteration": iteration, "Action": "Build", "ActionDate": now_iso(), "UserID": user,
        }));
        if let Some(stored) = company(state, co).solutions.get_mut(&key) {
            stored
                .header
                .insert("BuildIteration".into(), json!(iteration));
            stored
                .header
                .insert("LastBuildDate".into(), json!(now_iso()));
            stored.history.push(history);
        }
    }
    Ok((pkg, records))
}

fn build_solution(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let id = settings_id(body)?;
    let (pkg, records) = run(state, co, &id, true)?;
    let log_text: String = records
        .iter()
        .map(|r| {
            format!(
                "{} {}: {}\r\n",
                field(r, "UtcDate"),
                field(r, "Type"),
                field(r, "Message")
            )
        })
        .collect();
    let key = canonical_id(state, co, &id)?;
    let version = text(&solution(state, co, &key)?.header, "Version").to_string();
    let [cab, log, hash, validation] = file_names(&key, &version);
    let server = |name: &str| format!("Solutions/{name}");
    let files = &mut company(state, co).files;
    files.insert(
        (SOLUTIONS_FOLDER, server(&log)),
        log_text.clone().into_bytes(),
    );
    let mut params = json!({
        "solutionBuildLogFileNameServer": server(&log), "solutionBuildLogFileNameLocal": log,
        "logRecords": log_text, "hasErrors": pkg.is_none(),
    });
    if let Some(p) = &pkg {
        let zip = p.to_zip();
        let digest = hex::encode(Sha256::digest(&zip));
        files.insert((SOLUTIONS_FOLDER, server(&cab)), zip);
        files.insert((SOLUTIONS_FOLDER, server(&hash)), digest.into_bytes());
        let validation_text = format!("ValidationHash={}\r\n", p.get("ValidationHash"));
        files.insert(
            (SOLUTIONS_FOLDER, server(&validation)),
            validation_text.into_bytes(),
        );
        if let Some(obj) = params.as_object_mut() {
            for (k, v) in [
                ("solutionFileNameServer", server(&cab)),
                ("solutionFileNameLocal", cab.clone()),
                ("solutionHashFileNameServer", server(&hash)),
                ("solutionHashFileNameLocal", hash.clone()),
                ("validationFileNameServer", server(&validation)),
                ("validationFileNameLocal", validation.clone()),
            ] {
                obj.insert(k.into(), json!(v));
            }
        }
    }
    Ok(json!({"returnObj": pkg.is_some(), "parameters": params}))
}
