use serde_json::json;

use super::build::{BuildMethod, build};
use super::install::{install, plan};
use super::*;
use crate::fake::{self, Fake, method, ok, status};
use crate::json::b64;
use crate::wit::{BuildSource, InstallOptions};

fn options() -> InstallOptions {
    InstallOptions {
        overwrite_duplicate_files: true,
        overwrite_duplicate_data: false,
        delete_previous_install: false,
        override_directives: false,
        only_current_company: true,
    }
}

fn server(r: &crate::rest::HttpRequest) -> crate::rest::HttpResponse {
    if let Some(t) = fake::token(r) {
        return t;
    }
    match method(r) {
        "GetBuildSettings" => ok(json!({"returnObj": {"SolutionID": "S1"}})),
        "Build" => status(
            404,
            json!({"ErrorMessage": "Method 'Build' was not found in service"}),
        ),
        "BuildSolution" => ok(json!({"parameters": {
            "solutionFileNameServer": "Solutions/S1.cab",
            "solutionBuildLogFileNameServer": "Solutions/S1_Build.log",
            "solutionHashFileNameServer": "Solutions/S1.hash",
            "logRecords": "0 failed"}})),
        "DownloadFile" => {
            let path = crate::json::field(
                &serde_json::from_slice(&r.body).unwrap_or_default(),
                "serverPath",
            );
            let bytes: &[u8] = match path.as_str() {
                "Solutions/S1.cab" => b"PK\x03\x04zip",
                "Solutions/S1.hash" => b"abc123\n",
                _ => b"Build complete: 4 succeeded, 0 failed",
            };
            ok(json!({"returnObj": b64(bytes)}))
        }
        "GetInstallSettings" => ok(json!({"returnObj": {"MainInstallSettings": [{
            "SolutionID": "S1", "SourceVersion": "1.0.0.1", "DestinationVersion": "1.0.0.1",
            "SourceCompany": "EPIC06", "AutoOverwriteDuplicateFile": false}]}})),
        "GetInstalledSolutions" => {
            ok(json!({"returnObj": {"Installed": [{"SolutionID": "S1", "Version": "1.0.0.0"}]}}))
        }
        "Install" => status(
            400,
            json!({"ErrorMessage": "Layer with identifier Erp.UI.PartEntry~PartCustom~KNTCCustLayer already exists in another company", "CorrelationId": "c-7"}),
        ),
        other => status(404, json!({"ErrorMessage": format!("no {other}")})),
    }
}

#[test]
fn build_falls_back_to_build_solution_and_install_reports_conflicts() {
    let io = Fake::new(server);
    let c = Client::new(&io, fake::settings());
    let b = build(&c, "S1", BuildMethod::Auto).expect("build");
    assert!(matches!(b.source, BuildSource::ServerFiles));
    assert_eq!(b.content, b"PK\x03\x04zip");
    assert_eq!(b.hash, "abc123");
    assert_eq!(b.has_errors, None);
    let verdict = crate::preflight::preflight(&b);
    assert!(verdict.ok, "{}", verdict.summary);

    let p = plan(&c, &b.file_name, &b.content, options()).expect("plan");
    assert_eq!(p.installed_version.as_deref(), Some("1.0.0.0"));
    let settings: serde_json::Value = serde_json::from_str(&p.settings).expect("json");
    assert_eq!(
        settings["MainInstallSettings"][0]["AutoOverwriteDuplicateFile"],
        true
    );
    assert!(
        install(&c, &p, b"PK\x03\x04other").is_err(),
        "other bytes refused"
    );
    let report = install(&c, &p, &b.content).expect("report");
    assert!(report.has_errors);
    assert_eq!(report.conflicts.len(), 1);
    assert!(report.records[0].message.contains("c-7"));
    assert_eq!(report.installed_version, None);
    let sent = io.body_of("/Install");
    assert_eq!(
        sent["settings"]["MainInstallSettings"][0]["OnlyTargetCurrentCompany"],
        true
    );
    assert_eq!(sent["cabData"], b64(b"PK\x03\x04zip"));
}

/// A plan predicts the conflicts `ValidateInstallSettings` reports, with
/// the owning company found through `GetLayers`; it calls nothing that
/// changes the target.
#[test]
fn plan_predicts_conflicts_from_the_server_validation() {
    let io = Fake::new(|r| {
        if let Some(t) = fake::token(r) {
            return t;
        }
        match method(r) {
            "ValidateInstallSettings" => {
                ok(json!({"returnObj": {"HasErrors": false, "LogRecords": [
                {"Type": "Warning", "Message": "Layer with identifier Erp.UI.PartEntry~PartCustom~KNTCCustLayer already exists in another company"}]}}))
            }
            "GetLayers" => ok(json!({"returnObj": [
                {"ViewId": "Erp.UI.PartEntry", "LayerName": "PartCustom", "TypeCode": "KNTCCustLayer", "Company": "T_EPIC07"}]})),
            _ => server(r),
        }
    });
    let c = Client::new(&io, fake::settings());
    let p = plan(&c, "S1.cab", b"PK\x03\x04zip", options()).expect("plan");
    assert_eq!(p.predicted_conflicts.len(), 1, "{p:?}");
    let l = &p.predicted_conflicts[0].layer;
    assert_eq!(
        (
            l.app_id.as_str(),
            l.layer_name.as_str(),
            l.company.as_deref()
        ),
        ("Erp.UI.PartEntry", "PartCustom", Some("T_EPIC07"))
    );
    assert!(
        p.summary.contains("1 layer conflict(s) predicted"),
        "{}",
        p.summary
    );
    let sent = io.body_of("/ValidateInstallSettings");
    assert_eq!(
        sent["settings"]["MainInstallSettings"][0]["AutoOverwriteDuplicateFile"], true,
        "the planned settings are validated"
    );
    for call in io.calls() {
        let m = call.rsplit('/').next().unwrap_or("");
        assert!(
            m.starts_with("Get") || m.starts_with("Validate") || m.is_empty(),
            "plan only reads: {call}"
        );
    }
}
