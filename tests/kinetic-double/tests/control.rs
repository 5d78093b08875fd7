//! The control API and library handle: faults, the journal, resets, out-of-band UI edits,
//! scripted installs; and the standalone binary.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use envpack_kinetic_double::client::{Client, Response};
use envpack_kinetic_double::{DoubleConfig, Fault, KineticDouble};
use serde_json::{Value, json};

fn start() -> (KineticDouble, Client, Client) {
    let double = KineticDouble::start(DoubleConfig::default()).expect("start the double");
    let client = double.client().expect("log in");
    let control = Client::new(&double.base_url());
    (double, client, control)
}

fn ok(answer: std::io::Result<Response>) -> Value {
    let answer = answer.expect("HTTP call");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn get_list(client: &Client) -> Response {
    client
        .odata("EPIC06", "Ice.BO.ExportPackageSvc", "GetList", &json!({}))
        .expect("call")
}

#[test]
fn faults_answer_n_times_then_stop() {
    let (double, client, control) = start();
    ok(control.post("/_double/faults", &json!({"route": "Ice.BO.ExportPackageSvc/GetList", "times": 2, "status": 503, "message": "Pending conversions"})));
    for _ in 0..2 {
        let faulted = get_list(&client);
        assert_eq!(faulted.status, 503);
        assert_eq!(faulted.body["ErrorMessage"], "Pending conversions");
        assert_eq!(faulted.body["ReasonPhrase"], "ServiceUnavailable");
    }
    assert_eq!(get_list(&client).status, 200);
    double.inject(Fault::status("TokenResource.svc", 1, 500));
    assert!(double.client().is_err(), "the token endpoint faulted");
    assert!(double.client().is_ok());
    double.inject(Fault::message(
        "Ice.BO.ExportPackageSvc/GetList",
        1,
        410,
        "Session expired",
    ));
    let gone = get_list(&client);
    assert_eq!(
        (gone.status, gone.body["ErrorMessage"].as_str()),
        (410, Some("Session expired"))
    );
    double.inject(Fault::body("*", 1, 502, json!({"gateway": "down"})));
    assert_eq!(get_list(&client).body, json!({"gateway": "down"}));
    ok(control.post(
        "/_double/faults",
        &json!({"route": "*", "status": 200, "body": {"custom": true}}),
    ));
    assert_eq!(ok(Ok(get_list(&client))), json!({"custom": true}));
    ok(control.post(
        "/_double/faults",
        &json!({"route": "Ice.BO.ExportPackageSvc", "delayMs": 1}),
    ));
    assert_eq!(
        get_list(&client).status,
        200,
        "a delayed call is answered normally"
    );
    ok(control.post(
        "/_double/faults",
        &json!({"route": "*", "times": 5, "status": 502}),
    ));
    ok(control.send("DELETE", "/_double/faults", &[], b""));
    assert_eq!(get_list(&client).status, 200);
    let bad = control
        .post("/_double/faults", &json!({"route": "*"}))
        .expect("call");
    assert_eq!(bad.status, 400);
    let faulted: Vec<_> = double.journal().into_iter().filter(|e| e.faulted).collect();
    assert_eq!(faulted.len(), 6);
}

#[test]
fn the_journal_over_http_names_calls_without_secrets() {
    let (double, client, control) = start();
    let secret_key = double.config().api_key;
    get_list(&client);
    let journal = ok(control.get("/_double/journal"));
    let entries = journal["result"]["entries"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let routes: Vec<&str> = entries.iter().filter_map(|e| e["route"].as_str()).collect();
    assert_eq!(
        routes,
        ["TokenResource.svc", "Ice.BO.ExportPackageSvc/GetList"]
    );
    assert_eq!(entries[1]["company"], "EPIC06");
    assert_eq!(entries[1]["auth"], "bearer");
    assert_eq!(entries[1]["apiKey"], "valid");
    assert!(
        entries[1]["headerNames"]
            .as_array()
            .is_some_and(|h| h.contains(&json!("x-api-key")))
    );
    let text = journal.to_string();
    assert!(
        !text.contains(&secret_key),
        "no API key value in the journal"
    );
    assert!(
        !text.contains("bWFuYWdlcjptYW5hZ2Vy"),
        "no Basic credentials in the journal"
    );
    ok(control.post("/_double/journal/reset", &json!({})));
    assert!(double.journal().is_empty());
    let missing = control.get("/_double/nope").expect("call");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.body["ok"], false);
}

#[test]
fn ui_edits_over_http_change_what_clients_read() {
    let (double, client, control) = start();
    let before = double.layers("EPIC07")[0].clone();
    let edited = ok(control.post("/_double/companies/EPIC07/layers/edit", &json!({"ViewId": "Erp.UI.SalesOrderEntry", "LayerName": "OrderFixes", "Content": {"components": []}})));
    let after = &edited["result"]["layer"];
    assert_ne!(after["SysRevID"], json!(before["SysRevID"]));
    assert_eq!(after["LastUpdatedBy"], "ui-admin");
    let app = ok(client.odata(
        "EPIC07",
        "Ice.Lib.MetaFXSvc",
        "GetApp",
        &json!({"request": {"id": "Erp.UI.SalesOrderEntry"}}),
    ));
    assert_eq!(
        app["returnObj"]["Layers"][0]["Content"],
        json!({"components": []})
    );

    ok(control.post(
        "/_double/companies/EPIC07/ud-fields",
        &json!({"DataTableID": "Customer_UD", "FieldName": "Colour_c", "Description": "Colour"}),
    ));
    let table = ok(client.odata(
        "EPIC07",
        "Ice.BO.ZDataTableSvc",
        "GetByIDUd",
        &json!({"systemCode": "Erp", "dataTableID": "Customer_UD"}),
    ));
    assert!(
        table["returnObj"]["ZDataField"]
            .as_array()
            .is_some_and(|f| f.iter().any(|f| f["FieldName"] == "Colour_c"))
    );
    ok(control.post(
        "/_double/companies/EPIC07/ud-fields",
        &json!({"DataTableID": "Customer_UD", "FieldName": "Colour_c", "FieldFormat": "x(12)"}),
    ));
    let (fields, synced) = double.ud_table("EPIC07", "Customer_UD").expect("table");
    assert!(!synced);
    assert!(fields.iter().any(|f| f["FieldName"] == "Colour_c"
        && f["FieldFormat"] == "x(12)"
        && f["Description"] == "Colour"));
    ok(control.send(
        "DELETE",
        "/_double/companies/EPIC07/ud-fields/Customer_UD/Colour_c",
        &[],
        b"",
    ));
    assert!(
        double
            .remove_ud_field("EPIC07", "Customer_UD", "Colour_c")
            .is_err()
    );
    let conflict = ok(control.post("/_double/companies/EPIC07/layers", &json!({"Company": "T_EPIC07", "ViewId": "Erp.UI.CustomerEntry", "LayerName": "CustTracking"})));
    assert_eq!(conflict["result"]["layer"]["Company"], "T_EPIC07");
    let listed = ok(control.get("/_double/companies/EPIC07/layers"));
    assert_eq!(listed["result"]["layers"].as_array().map(Vec::len), Some(2));
    let unknown = control
        .post("/_double/companies/NOPE/regenerate-data-model", &json!({}))
        .expect("call");
    assert_eq!(unknown.status, 404);
}

#[test]
fn reset_restores_the_fixtures() {
    let (double, client, control) = start();
    ok(client.odata(
        "EPIC06",
        "Ice.BO.ExportPackageSvc",
        "DeleteByID",
        &json!({"solutionID": "OrderFixes"}),
    ));
    ok(control.post("/_double/install-outcomes", &json!({"outcome": "clean"})));
    let bad = control
        .post("/_double/install-outcomes", &json!({"outcome": "maybe"}))
        .expect("call");
    assert_eq!(bad.status, 400);
    ok(control.post("/_double/reset", &json!({})));
    assert!(double.journal().is_empty());
    let relogged = double.client().expect("tokens were cleared, log in again");
    assert_eq!(get_list(&client).status, 401, "old tokens are gone");
    let list = ok(Ok(get_list(&relogged)));
    assert_eq!(
        list["returnObj"]["ExportPackageList"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let companies = ok(control.get("/_double/companies"));
    assert_eq!(
        companies["result"]["companies"],
        json!(["EPIC06", "EPIC07"])
    );
}

#[test]
fn the_standalone_binary_serves_the_configured_companies() {
    let mut child = Command::new(env!("CARGO_BIN_EXE_envpack-kinetic-double"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--company",
            "ACME01",
            "--api-key",
            "K",
            "--user",
            "U",
            "--password",
            "P",
            "--token-ttl",
            "60",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("run the binary");
    let mut line = String::new();
    let stdout = child.stdout.take().expect("stdout");
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("the base URL line");
    let base = line.trim().to_string();
    let result = std::panic::catch_unwind(|| {
        let client = Client::login(&base, "K", "U", "P").expect("log in");
        let list = ok(client.odata("ACME01", "Ice.BO.ExportPackageSvc", "GetList", &json!({})));
        assert_eq!(list["returnObj"]["ExportPackageList"], json!([]));
        let token = Client::new(&base)
            .with_api_key("K")
            .with_basic("U", "P")
            .post("/TokenResource.svc/", &json!({}))
            .expect("token");
        assert_eq!(token.body["ExpiresIn"], 60);
        let other = client
            .odata("EPIC06", "Ice.BO.ExportPackageSvc", "GetList", &json!({}))
            .expect("call");
        assert_eq!(other.status, 403);
    });
    let _ = child.kill();
    let _ = child.wait();
    assert!(result.is_ok(), "standalone checks failed");
    let bad = Command::new(env!("CARGO_BIN_EXE_envpack-kinetic-double"))
        .args(["--token-ttl", "soon"])
        .output()
        .expect("run the binary");
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--token-ttl 'soon'"));
}

#[test]
fn malformed_bodies_get_epicor_errors_not_crashes() {
    let (double, client, _control) = start();
    let routes = [
        (
            "Ice.BO.ExportPackageSvc",
            [
                "GetList",
                "GetByID",
                "GetNewExportPackage",
                "Update",
                "DeleteByID",
                "GetSolutionItemsAsDynamicDataSet",
                "AddItemsToSolutionAndSave",
                "GetBuildSettings",
                "Build",
                "BuildSolution",
                "GetInstallSettings",
                "ValidateInstallSettings",
                "Install",
                "GetSolutionHistory",
            ]
            .as_slice(),
        ),
        (
            "Ice.BO.ZDataTableSvc",
            [
                "GetList",
                "GetByIDUd",
                "GetByID",
                "GetNewZDataField",
                "Update",
                "GetExtendedTableSyncDetailsMessage",
            ]
            .as_slice(),
        ),
        (
            "Ice.Lib.MetaFXSvc",
            [
                "GetLayers",
                "DeleteLayer",
                "BulkDeleteLayers",
                "ImportLayers",
                "GetApplications",
                "GetApp",
            ]
            .as_slice(),
        ),
        (
            "Ice.Lib.FileTransferSvc",
            ["DownloadFile", "UploadFile", "FileExists"].as_slice(),
        ),
        ("Ice.BO.BAQDesignerSvc", ["GetList"].as_slice()),
    ];
    let bodies = [
        json!(null),
        json!([1, 2]),
        json!("text"),
        json!({"ds": 5, "settings": [], "cabData": 7}),
        json!({"ds": {"ExportPackage": [{"RowMod": "A"}], "ZDataField": [{"RowMod": "U"}]}}),
        json!({"whereClause": "PackageID = 'é", "request": "x", "fileContent": {"content": "%%%"}}),
        json!({"folder": -1, "serverPath": "", "data": 3, "layersToDelete": "all"}),
    ];
    for (service, methods) in routes {
        for method in methods {
            for body in &bodies {
                let answer = client
                    .odata("EPIC06", service, method, body)
                    .expect("the double answers");
                assert!(
                    answer.status < 500,
                    "{service}/{method} {body}: {} {}",
                    answer.status,
                    answer.body
                );
                assert!(
                    answer.body.is_object(),
                    "{service}/{method} {body}: JSON body"
                );
            }
        }
        let raw = client
            .send(
                "POST",
                &format!("/api/v2/odata/EPIC06/{service}/{}", methods[0]),
                &[],
                b"{not json",
            )
            .expect("call");
        assert_eq!(raw.status, 400);
        assert_eq!(raw.body["HttpStatus"], 400);
    }
    assert!(double.client().is_ok(), "still serving");
}
