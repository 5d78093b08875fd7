//! `Ice.Lib.FileTransferSvc`: server files as base64, per company, keyed by `(folder,
//! serverPath)`. `BuildSolution` leaves its artifacts in folder 4 under `Solutions/`.

use base64::Engine;
use serde_json::{Value, json};

use crate::error::EpicorError;
use crate::export_package::company;
use crate::services::Call;
use crate::state::State;
use crate::util::field;

/// Answers `DownloadFile {folder, serverPath}`, `UploadFile {folder, serverPath, data}` and
/// `FileExists {folder, serverPath}`.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let body = &call.body;
    let key = (folder(body)?, server_path(body)?);
    let files = &mut company(state, &call.company).files;
    match call.method.as_str() {
        "DownloadFile" => {
            let data = files.get(&key).ok_or_else(|| {
                EpicorError::bad_request(format!(
                    "File '{}' was not found in server folder {}.",
                    key.1, key.0
                ))
                .with_detail("FileTransfer", "serverPath")
            })?;
            Ok(json!({"returnObj": base64::engine::general_purpose::STANDARD.encode(data)}))
        }
        "UploadFile" => {
            let data = base64::engine::general_purpose::STANDARD
                .decode(field(body, "data").trim())
                .map_err(|e| {
                    EpicorError::bad_request(format!("data is not base64: {e}."))
                        .with_detail("FileTransfer", "data")
                })?;
            files.insert(key, data);
            Ok(json!({}))
        }
        "FileExists" => Ok(json!({"returnObj": files.contains_key(&key)})),
        _ => Err(call.unknown_method()),
    }
}

fn folder(body: &Value) -> Result<i64, EpicorError> {
    let folder = body.get("folder");
    folder
        .and_then(Value::as_i64)
        .or_else(|| folder.and_then(Value::as_str).and_then(|s| s.parse().ok()))
        .ok_or_else(|| {
            EpicorError::bad_request("folder must be a server folder number (4 for solutions).")
                .with_detail("FileTransfer", "folder")
        })
}

fn server_path(body: &Value) -> Result<String, EpicorError> {
    let path = field(body, "serverPath").replace('\\', "/");
    let path = path.trim().trim_start_matches('/').to_string();
    if path.is_empty() || path.split('/').any(|s| s == "..") {
        return Err(EpicorError::bad_request(format!(
            "serverPath '{path}' is not a valid relative path."
        ))
        .with_detail("FileTransfer", "serverPath"));
    }
    Ok(path)
}
