//! Building a definition into a package: `GetBuildSettings`, then `Build`
//! (the package inline) or, on servers that have it, `BuildSolution` (files
//! left on the server, fetched with `FileTransferSvc/DownloadFile`).
//!
//! The config key `build_method` picks one: `build`, `build-solution`, or
//! `auto` (the default): `Build`, falling back to `BuildSolution` when the
//! server does not know `Build` (404).

use serde_json::{Value, json};

use super::SVC;
use crate::json::{field, return_obj, unb64};
use crate::preflight::kind_of;
use crate::rest::{Client, Io, KineticError};
use crate::wit::{BuildSource, BuiltPackage, LogRecord};

/// How to build.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BuildMethod {
    /// `Build`, then `BuildSolution` on a 404.
    Auto,
    /// `Build` only.
    Build,
    /// `BuildSolution` only.
    BuildSolution,
}

impl BuildMethod {
    /// From the config value.
    pub fn parse(v: Option<&str>) -> Result<Self, KineticError> {
        match v.unwrap_or("auto") {
            "auto" => Ok(Self::Auto),
            "build" => Ok(Self::Build),
            "build-solution" => Ok(Self::BuildSolution),
            other => Err(KineticError::Input(format!(
                "configuration key \"build_method\" is {other:?}; expected auto, build or build-solution"
            ))),
        }
    }
}

/// The file transfer service.
pub const FILES: &str = "Ice.Lib.FileTransferSvc";

/// Builds `id`.
pub fn build<I: Io>(
    c: &Client<'_, I>,
    id: &str,
    method: BuildMethod,
) -> Result<BuiltPackage, KineticError> {
    let settings = c.call(SVC, "GetBuildSettings", &json!({"solutionID": id}))?;
    let settings = return_obj(&settings).clone();
    if method != BuildMethod::BuildSolution {
        match c.call(SVC, "Build", &json!({"settings": settings})) {
            Ok(v) => return inline(id, return_obj(&v)),
            Err(e) if method == BuildMethod::Auto && e.status() == Some(404) => {}
            Err(e) => return Err(e),
        }
    }
    let answer = c.call(SVC, "BuildSolution", &json!({"settings": settings}))?;
    server_files(c, id, &answer)
}

/// `LogRecords` rows to records.
pub fn records(v: Option<&Value>) -> Vec<LogRecord> {
    v.and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|r| LogRecord {
            kind: kind_of(&field(r, "Type")),
            at: Some(field(r, "UtcDate")).filter(|s| !s.is_empty()),
            message: field(r, "Message"),
        })
        .collect()
}

fn inline(id: &str, v: &Value) -> Result<BuiltPackage, KineticError> {
    let call = format!("{SVC}/Build");
    let content = unb64(&field(v, "Content"))
        .ok_or_else(|| KineticError::protocol(&call, "returnObj.Content is not base64"))?;
    let records = records(v.get("LogRecords"));
    let build_log = records
        .iter()
        .map(|r| r.message.clone())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(BuiltPackage {
        solution: id.to_string(),
        file_name: format!("{id}.cab"),
        content,
        build_log,
        hash: field(v, "HashContent"),
        records,
        has_errors: v.get("HasErrors").and_then(Value::as_bool),
        source: BuildSource::Inline,
    })
}

fn server_files<I: Io>(
    c: &Client<'_, I>,
    id: &str,
    answer: &Value,
) -> Result<BuiltPackage, KineticError> {
    let p = answer.get("parameters").unwrap_or(answer);
    let package_path = field(p, "solutionFileNameServer");
    if package_path.is_empty() {
        return Err(KineticError::protocol(
            &format!("{SVC}/BuildSolution"),
            "parameters.solutionFileNameServer is empty: the server built no package",
        ));
    }
    let content = download(c, &package_path)?;
    let text_of = |key: &str| -> Result<String, KineticError> {
        let path = field(p, key);
        if path.is_empty() {
            return Ok(String::new());
        }
        Ok(String::from_utf8_lossy(&download(c, &path)?).into_owned())
    };
    let mut build_log = text_of("solutionBuildLogFileNameServer")?;
    let log_records = field(p, "logRecords");
    if build_log.trim().is_empty() {
        build_log = log_records;
    }
    let file_name = package_path
        .rsplit(['/', '\\'])
        .next()
        .filter(|n| !n.is_empty())
        .map_or_else(|| format!("{id}.cab"), str::to_string);
    Ok(BuiltPackage {
        solution: id.to_string(),
        file_name,
        content,
        build_log,
        hash: text_of("solutionHashFileNameServer")?.trim().to_string(),
        records: vec![],
        has_errors: None,
        source: BuildSource::ServerFiles,
    })
}

/// `DownloadFile {folder: 4, serverPath}`: a server file's bytes.
pub fn download<I: Io>(c: &Client<'_, I>, server_path: &str) -> Result<Vec<u8>, KineticError> {
    let v = c.call(
        FILES,
        "DownloadFile",
        &json!({"folder": 4, "serverPath": server_path}),
    )?;
    let b64 = match return_obj(&v) {
        Value::String(s) => s.clone(),
        other => field(other, "Content"),
    };
    unb64(&b64).ok_or_else(|| {
        KineticError::protocol(
            &format!("{FILES}/DownloadFile"),
            format!("{server_path:?} did not come back as base64"),
        )
    })
}
