//! Installing solutions: `GetInstallSettings`, `ValidateInstallSettings`, `Install`,
//! `GetInstalledSolutions`, `GetSolutionHistory`, and the scripted outcomes tests queue.
//!
//! Without a script, `Install` behaves as Kinetic does for the things clients must handle: a
//! layer in the package that already exists in *another* company is a conflict (reported in
//! `LogRecords` with one of Kinetic's two message forms, nothing installed), and a package
//! that adds or changes UD fields installs with the "regenerate data model" warning and leaves
//! the data model out of sync. A scripted outcome replaces that for one call.

use serde_json::{Map, Value, json};

use crate::error::{DoubleError, EpicorError};
use crate::export_package::company;
use crate::package::{Package, log};
use crate::services::Call;
use crate::state::State;
use crate::util::{field, flag, now_iso, text};

/// The warning `Install` logs when the data model must be regenerated.
pub const REGENERATE_WARNING: &str = "Solution installed. The data model is out of date: regenerate the data model (Epicor Administration Console, Regenerate Data Model) and restart the application server before the new fields are used.";

/// Which of Kinetic's two layer-conflict messages to answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConflictForm {
    /// `Layer with identifier <App>~<Layer>~<Type> already exists in another company`
    Identifier,
    /// `Cannot override all companies customization for application layer <Layer> <App> as the
    /// layer already exists in another company.`
    AllCompanies,
}

/// The text Kinetic answers for a conflicting layer, in the given form.
pub fn conflict_message(form: ConflictForm, app: &str, layer: &str, type_code: &str) -> String {
    match form {
        ConflictForm::Identifier => {
            format!(
                "Layer with identifier {app}~{layer}~{type_code} already exists in another company"
            )
        }
        ConflictForm::AllCompanies => format!(
            "Cannot override all companies customization for application layer {layer} {app} as the layer already exists in another company."
        ),
    }
}

/// What the next `Install` answers, when scripted.
#[derive(Debug, Clone, PartialEq)]
pub enum InstallOutcome {
    /// Installs, with no warning (even if UD fields changed).
    Clean,
    /// Installs, logs [`REGENERATE_WARNING`] and leaves the UD tables out of sync.
    RegenerateDataModel,
    /// Installs nothing; reports this layer as conflicting.
    LayerConflict {
        /// Message form.
        form: ConflictForm,
        /// App id (`Erp.UI.CustomerEntry`).
        app: String,
        /// Layer name.
        layer: String,
        /// Layer type (`KNTCCustLayer`).
        type_code: String,
        /// Answer as an HTTP 400 Epicor error body instead of `HasErrors` log records.
        as_http_error: bool,
    },
    /// Installs nothing; answers this status with an Epicor error body.
    HttpError {
        /// HTTP status.
        status: u16,
        /// `ErrorMessage`.
        message: String,
    },
}

impl InstallOutcome {
    /// Parses the control API form: `{outcome: "clean" | "regenerate-data-model" |
    /// "layer-conflict" | "http-error", form?: "identifier" | "all-companies", app?, layer?,
    /// type?, httpError?, status?, message?}`.
    pub fn from_json(v: &Value) -> Result<Self, DoubleError> {
        Ok(match field(v, "outcome") {
            "clean" => Self::Clean,
            "regenerate-data-model" => Self::RegenerateDataModel,
            "layer-conflict" => Self::LayerConflict {
                form: match field(v, "form") {
                    "all-companies" => ConflictForm::AllCompanies,
                    "identifier" | "" => ConflictForm::Identifier,
                    other => {
                        return Err(DoubleError::Invalid(format!(
                            "unknown conflict form '{other}': use identifier or all-companies"
                        )));
                    }
                },
                app: default(field(v, "app"), "Erp.UI.CustomerEntry"),
                layer: default(field(v, "layer"), "CustTracking"),
                type_code: default(field(v, "type"), "KNTCCustLayer"),
                as_http_error: flag(v, "httpError", false),
            },
            "http-error" => Self::HttpError {
                status: v
                    .get("status")
                    .and_then(Value::as_u64)
                    .and_then(|s| u16::try_from(s).ok())
                    .unwrap_or(500),
                message: default(field(v, "message"), "The solution could not be installed."),
            },
            other => {
                return Err(DoubleError::Invalid(format!(
                    "unknown install outcome '{other}': use clean, regenerate-data-model, layer-conflict or http-error"
                )));
            }
        })
    }
}

fn default(v: &str, d: &str) -> String {
    if v.is_empty() {
        d.to_string()
    } else {
        v.to_string()
    }
}

/// Answers the install methods.
pub fn call(state: &mut State, call: &Call) -> Result<Value, EpicorError> {
    let co = call.company.as_str();
    let body = &call.body;
    match call.method.as_str() {
        "GetInstallSettings" => {
            let pkg = Package::from_base64(field(body, "cabData"))?;
            Ok(json!({"returnObj": {"MainInstallSettings": [settings_for(state, co, &pkg)]}}))
        }
        "ValidateInstallSettings" => {
            let pkg = Package::from_base64(field(body, "cabData"))?;
            let settings = main_settings(body);
            let mut records = check_hash(&pkg, &settings)
                .err()
                .map(|e| vec![log("Error", e.message)])
                .unwrap_or_default();
            let has_errors = !records.is_empty();
            for message in conflicts(state, co, &pkg, &settings) {
                records.push(log("Warning", message));
            }
            Ok(json!({"returnObj": {"HasErrors": has_errors, "LogRecords": records}}))
        }
        "Install" => install(state, co, body),
        "GetInstalledSolutions" => Ok(json!({"returnObj": installed(state, co)})),
        "GetSolutionHistory" => {
            let id = crate::export_package::first_str(body, &["solutionID", "solutionId"]);
            let rows: Vec<&Map<String, Value>> = state.companies[co]
                .installs
                .iter()
                .filter(|r| id.is_empty() || text(r, "SolutionID").eq_ignore_ascii_case(id))
                .collect();
            Ok(json!({"returnObj": rows}))
        }
        _ => Err(call.unknown_method()),
    }
}

/// The latest install of each solution in the company.
fn installed(state: &State, co: &str) -> Vec<Map<String, Value>> {
    let mut latest: Vec<Map<String, Value>> = Vec::new();
    for row in &state.companies[co].installs {
        latest.retain(|r| text(r, "SolutionID") != text(row, "SolutionID"));
        let mut row = row.clone();
        row.remove("Items");
        latest.push(row);
    }
    latest
}

fn settings_for(state: &State, co: &str, pkg: &Package) -> Value {
    let id = pkg.get("SolutionID");
    let destination = installed(state, co)
        .iter()
        .find(|r| text(r, "SolutionID").eq_ignore_ascii_case(id))
        .map(|r| text(r, "Version").to_string())
        .unwrap_or_default();
    json!({
        "SolutionID": id, "SourceVersion": pkg.get("Version"), "DestinationVersion": destination,
        "BuildIteration": pkg.header.get("BuildIteration"), "SolutionReference": pkg.get("SolutionReference"),
        "MinAppVersion": pkg.get("MinAppVersion"), "SourceCompany": pkg.get("SourceCompany"),
        "ValidationHash": pkg.get("ValidationHash"), "OnlyTargetCurrentCompany": true,
        "AutoOverwriteDuplicateFile": false, "AutoOverwriteDuplicateData": false,
        "DeletePreviousInstall": false, "OverrideDirectives": false,
    })
}

/// `settings.MainInstallSettings[0]`, or `settings` itself when it is one row.
fn main_settings(body: &Value) -> Value {
    let settings = body.get("settings").cloned().unwrap_or(Value::Null);
    match settings
        .get("MainInstallSettings")
        .and_then(Value::as_array)
        .and_then(|a| a.first())
    {
        Some(first) => first.clone(),
        None => settings,
    }
}

fn check_hash(pkg: &Package, settings: &Value) -> Result<(), EpicorError> {
    let given = field(settings, "ValidationHash");
    if !given.is_empty() && given != pkg.get("ValidationHash") {
        return Err(EpicorError::bad_request(
            "The install settings do not match the solution file (ValidationHash differs); call GetInstallSettings with this file again.",
        ));
    }
    Ok(())
}

/// Conflict messages for the package's layers that exist in another company.
fn conflicts(state: &State, co: &str, pkg: &Package, settings: &Value) -> Vec<String> {
    let form = if flag(settings, "OnlyTargetCurrentCompany", true) {
        ConflictForm::Identifier
    } else {
        ConflictForm::AllCompanies
    };
    let eq = |a: &str, b: &str| a.eq_ignore_ascii_case(b);
    let mut messages = Vec::new();
    for item in pkg.items.iter().filter(|i| field(i, "ItemType") == "Layer") {
        let (app, layer, kind) = (
            field(item, "Key1"),
            field(item, "Key2"),
            field(item, "Key3"),
        );
        let kind = if kind.is_empty() {
            "KNTCCustLayer"
        } else {
            kind
        };
        let clash = state.companies[co].layers.iter().any(|l| {
            !eq(text(l, "Company"), co)
                && eq(text(l, "ViewId"), app)
                && eq(text(l, "LayerName"), layer)
                && eq(text(l, "TypeCode"), kind)
        });
        if clash {
            messages.push(conflict_message(form, app, layer, kind));
        }
    }
    messages
}

fn next_script(state: &mut State, co: &str) -> Option<InstallOutcome> {
    let pos = state
        .install_script
        .iter()
        .position(|(only, _)| only.as_deref().is_none_or(|c| c.eq_ignore_ascii_case(co)))?;
    state.install_script.remove(pos).map(|(_, outcome)| outcome)
}

fn install(state: &mut State, co: &str, body: &Value) -> Result<Value, EpicorError> {
    let pkg = Package::from_base64(field(body, "cabData"))?;
    let settings = main_settings(body);
    check_hash(&pkg, &settings)?;
    let scripted = next_script(state, co);
    let mut records = vec![log(
        "Information",
        format!(
            "Installing solution {} version {} into company {co}.",
            pkg.get("SolutionID"),
            pkg.get("Version")
        ),
    )];
    let conflicts = match &scripted {
        Some(InstallOutcome::HttpError { status, message }) => {
            return Err(EpicorError::new(
                *status,
                message.clone(),
                "Ice.Common.SolutionInstallException",
            ));
        }
        Some(InstallOutcome::LayerConflict {
            form,
            app,
            layer,
            type_code,
            as_http_error,
        }) => {
            let message = conflict_message(*form, app, layer, type_code);
            if *as_http_error {
                return Err(EpicorError::bad_request(message));
            }
            vec![message]
        }
        Some(_) => Vec::new(),
        None => conflicts(state, co, &pkg, &settings),
    };
    if !conflicts.is_empty() {
        records.extend(conflicts.into_iter().map(|m| log("Error", m)));
        records.push(log("Error", "The solution was not installed."));
        return Ok(result(records, true));
    }
    let (ud_changed, mut applied) = crate::apply::apply(state, co, &pkg, &settings);
    records.append(&mut applied);
    let warn = match scripted {
        Some(InstallOutcome::Clean) => false,
        Some(InstallOutcome::RegenerateDataModel) => true,
        _ => ud_changed,
    };
    if warn {
        let c = company(state, co);
        if !ud_changed {
            c.ud_tables
                .iter_mut()
                .for_each(|t| t.data_model_synced = false);
        }
        records.push(log("Warning", REGENERATE_WARNING));
    } else if ud_changed {
        // A scripted clean install: the fields were applied, the model regenerated with them.
        company(state, co)
            .ud_tables
            .iter_mut()
            .for_each(|t| t.data_model_synced = true);
    }
    record(state, co, &pkg);
    records.push(log(
        "Information",
        format!("Solution {} installed.", pkg.get("SolutionID")),
    ));
    Ok(result(records, false))
}

fn result(records: Vec<Value>, has_errors: bool) -> Value {
    let result = json!({"LogRecords": records, "HasErrors": has_errors});
    json!({"returnObj": result, "parameters": {"SolutionResult": result}})
}

fn record(state: &mut State, co: &str, pkg: &Package) {
    let user = state.config.user.clone();
    let keys: Vec<Value> = pkg
        .items
        .iter()
        .map(|i| json!({"ItemType": i.get("ItemType"), "Key1": i.get("Key1"), "Key2": i.get("Key2"), "Key3": i.get("Key3")}))
        .collect();
    let row = state.row(json!({
        "Company": co, "SolutionID": pkg.get("SolutionID"), "Version": pkg.get("Version"),
        "BuildIteration": pkg.header.get("BuildIteration"), "SourceCompany": pkg.get("SourceCompany"),
        "InstalledOn": now_iso(), "InstalledBy": user, "Action": "Install",
        "ValidationHash": pkg.get("ValidationHash"), "Items": keys,
    }));
    company(state, co).installs.push(row);
}

/// `POST /_double/install-outcomes` (queue one; `company` optional) and
/// `DELETE /_double/install-outcomes`.
pub fn control_route(
    state: &mut State,
    method: &str,
    segments: &[&str],
    body: &Value,
) -> Result<Option<Value>, DoubleError> {
    match (method, segments) {
        ("POST", ["install-outcomes"]) => {
            let outcome = InstallOutcome::from_json(body)?;
            let co = match field(body, "company") {
                "" => None,
                c => Some(
                    state
                        .company_id(c)
                        .ok_or_else(|| DoubleError::UnknownCompany(c.to_string()))?,
                ),
            };
            state.install_script.push_back((co, outcome));
            Ok(Some(json!({"queued": state.install_script.len()})))
        }
        ("DELETE", ["install-outcomes"]) => {
            state.install_script.clear();
            Ok(Some(json!({})))
        }
        _ => Ok(None),
    }
}
