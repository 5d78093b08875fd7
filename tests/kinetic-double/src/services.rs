//! The service table: which module answers which `/api/v2/odata/{company}/{service}` and the
//! GET-versus-POST rule.

use serde_json::Value;

use crate::error::EpicorError;
use crate::state::State;

/// One authenticated call to a service method in a company the double serves.
#[derive(Debug, Clone)]
pub struct Call {
    /// The canonical company id.
    pub company: String,
    /// The service as the path spelled it.
    pub service: String,
    /// The method (`GetByID`; `{id}/Data` for `BaqSvc`).
    pub method: String,
    /// `GET` or `POST`.
    pub http_method: String,
    /// The JSON body (for a GET, the query parameters).
    pub body: Value,
}

impl Call {
    /// The 404 for a method the service does not have.
    pub fn unknown_method(&self) -> EpicorError {
        EpicorError::not_found(format!(
            "Method '{}' was not found in service '{}'.",
            self.method, self.service
        ))
    }
}

/// Answers a call: `returnObj`/`parameters` JSON, or an Epicor error.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    // Read methods answer GET too (the published swagger has GetLayers, GetApp and GetRows
    // as GETs); anything that changes data is POST only.
    let reads = call.method.starts_with("Get") || call.method.ends_with("/Data");
    if call.http_method == "GET" && !reads {
        return Err(EpicorError::new(
            405,
            format!("'{}' only accepts POST.", call.method),
            "Ice.Common.MethodNotAllowed",
        ));
    }
    if call.http_method != "GET" && call.http_method != "POST" {
        return Err(EpicorError::new(
            405,
            format!("HTTP {} is not supported; use POST.", call.http_method),
            "Ice.Common.MethodNotAllowed",
        ));
    }
    match call.service.to_ascii_lowercase().as_str() {
        "ice.bo.exportpackagesvc" => crate::export_package::call(state, call),
        "ice.lib.filetransfersvc" => crate::files::call(state, call),
        "ice.bo.zdatatablesvc" => crate::zdata::call(state, call),
        "ice.lib.metafxsvc" => crate::metafx::call(state, call),
        "erp.bo.userfilesvc"
        | "ice.bo.baqdesignersvc"
        | "ice.bo.efxlibrarydesignersvc"
        | "ice.bo.bpmethodsvc"
        | "baqsvc" => crate::inventory::call(state, call),
        _ => Err(EpicorError::not_found(format!(
            "Service '{}' was not found.",
            call.service
        ))),
    }
}
