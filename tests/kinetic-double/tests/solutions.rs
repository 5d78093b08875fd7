//! `Ice.BO.ExportPackageSvc` over HTTP: definitions, items, Build and BuildSolution (with
//! DownloadFile), install settings, Install outcomes (clean, regenerate data model, both
//! conflict forms, HTTP error) and the installed-solution history.

use base64::Engine;
use envpack_kinetic_double::client::{Client, Response};
use envpack_kinetic_double::{
    ConflictForm, DoubleConfig, InstallOutcome, KineticDouble, REGENERATE_WARNING,
};
use serde_json::{Value, json};

const EP: &str = "Ice.BO.ExportPackageSvc";

fn start() -> (KineticDouble, Client) {
    let double = KineticDouble::start(DoubleConfig::default()).expect("start the double");
    let client = double.client().expect("log in");
    (double, client)
}

fn ok(answer: std::io::Result<Response>) -> Value {
    let answer = answer.expect("HTTP call");
    assert_eq!(answer.status, 200, "{}", answer.body);
    answer.body
}

fn build(client: &Client, co: &str, id: &str) -> Value {
    let settings = ok(client.odata(co, EP, "GetBuildSettings", &json!({"solutionID": id})));
    ok(client.odata(co, EP, "Build", &json!({"settings": settings["returnObj"]})))["returnObj"]
        .clone()
}

fn install(client: &Client, co: &str, cab: &str) -> Response {
    let settings = ok(client.odata(
        co,
        EP,
        "GetInstallSettings",
        &json!({"cabData": cab, "solutionFile": "x.cab"}),
    ));
    client
        .odata(
            co,
            EP,
            "Install",
            &json!({"cabData": cab, "settings": settings["returnObj"]}),
        )
        .expect("install call")
}

fn messages(result: &Value) -> Vec<String> {
    result["LogRecords"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["Message"].as_str().map(str::to_string))
        .collect()
}

#[test]
fn get_list_and_get_by_id() {
    let (_double, client) = start();
    let list = ok(client.odata(
        "EPIC06",
        EP,
        "GetList",
        &json!({"whereClause": "PackageID = 'CustTracking'", "pageSize": 0, "absolutePage": 0}),
    ));
    assert_eq!(
        list["returnObj"]["ExportPackageList"][0]["PackageID"],
        "CustTracking"
    );
    let one = ok(client.odata(
        "EPIC06",
        EP,
        "GetByID",
        &json!({"packageID": "CustTracking"}),
    ));
    let ds = &one["returnObj"];
    for table in [
        "ExportPackage",
        "EPSolutionHeader",
        "EPSolutionDetail",
        "EPSolutionPackage",
        "EPSolutionTracker",
        "EPHistory",
    ] {
        assert!(ds[table].is_array(), "{table} in {ds}");
    }
    assert_eq!(ds["EPSolutionDetail"].as_array().map(Vec::len), Some(5));
    let row = &ds["ExportPackage"][0];
    for key in ["SysRowID", "SysRevID", "BitFlag", "RowMod"] {
        assert!(row.get(key).is_some(), "{key} in {row}");
    }
    let missing = client
        .odata("EPIC06", EP, "GetByID", &json!({"packageID": "Nope"}))
        .expect("call");
    assert_eq!(missing.status, 400);
    assert_eq!(missing.body["HttpStatus"], 400);
    let bad_where = client
        .odata(
            "EPIC06",
            EP,
            "GetList",
            &json!({"whereClause": "PackageID ~ 1"}),
        )
        .expect("call");
    assert_eq!(bad_where.status, 400);
}

#[test]
fn create_update_items_and_delete() {
    let (_double, client) = start();
    let new = ok(client.odata("EPIC06", EP, "GetNewExportPackage", &json!({"ds": {}})));
    let mut ds = new["parameters"]["ds"].clone();
    assert_eq!(ds["ExportPackage"][0]["RowMod"], "A");
    ds["ExportPackage"][0]["PackageID"] = json!("NewSol");
    ds["ExportPackage"][0]["Description"] = json!("A new solution");
    ds["EPSolutionDetail"] = json!([{"SolutionID": "NewSol", "ItemType": "BAQ", "TableName": "QueryHdr", "Key1": "zOpenOrders", "RowMod": "A"}]);
    let saved = ok(client.odata("EPIC06", EP, "Update", &json!({"ds": ds})));
    assert_eq!(
        saved["parameters"]["ds"]["ExportPackage"][0]["PackageID"],
        "NewSol"
    );
    assert_eq!(
        saved["parameters"]["ds"]["EPSolutionDetail"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let duplicate = client
        .odata("EPIC06", EP, "Update", &json!({"ds": ds}))
        .expect("call");
    assert_eq!(duplicate.status, 409, "{}", duplicate.body);

    let added = ok(client.odata("EPIC06", EP, "AddItemsToSolutionAndSave", &json!({
        "solutionId": "NewSol",
        "dsToAdd": {"XXXDef": [{"ViewId": "Erp.UI.CustomerEntry", "LayerName": "CustTracking", "TypeCode": "KNTCCustLayer"}]},
        "recordsToDelete": [],
    })));
    assert_eq!(added, json!({}), "a void method still answers a JSON body");
    let layers = ok(client.odata(
        "EPIC06",
        EP,
        "GetSolutionItemsAsDynamicDataSet",
        &json!({"tableName": "XXXDef", "solutionId": "NewSol"}),
    ));
    let rows = layers["returnObj"]["XXXDef"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["Key2"], "CustTracking");
    let sys_row_id = rows[0]["SysRowID"].clone();
    ok(client.odata(
        "EPIC06",
        EP,
        "AddItemsToSolutionAndSave",
        &json!({"solutionId": "NewSol", "dsToAdd": {}, "recordsToDelete": [sys_row_id]}),
    ));
    let all = ok(client.odata(
        "EPIC06",
        EP,
        "GetSolutionItemsAsDynamicDataSet",
        &json!({"tableName": "", "solutionId": "NewSol"}),
    ));
    assert_eq!(
        all["returnObj"]["EPSolutionDetail"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );
    let track = json!({"ds": {"EPSolutionTracker": [{"SolutionID": "NewSol", "TableName": "QueryHdr", "Key1": "zCustTracking", "RowMod": "A"}]}});
    ok(client.odata("EPIC06", EP, "Update", &track));
    let tracked = ok(client.odata(
        "EPIC06",
        EP,
        "GetTrackedItemsAsDynamicDataSet",
        &json!({"tableName": "", "solutionId": "NewSol"}),
    ));
    assert_eq!(
        tracked["returnObj"]["EPSolutionTracker"][0]["Key1"],
        "zCustTracking"
    );

    let deleted = ok(client.odata("EPIC06", EP, "DeleteByID", &json!({"solutionID": "NewSol"})));
    assert_eq!(deleted, json!({}));
    let gone = client
        .odata("EPIC06", EP, "GetByID", &json!({"packageID": "NewSol"}))
        .expect("call");
    assert_eq!(gone.status, 400);
}

#[test]
fn build_returns_a_zip_package_with_hash_and_log() {
    let (_double, client) = start();
    let built = build(&client, "EPIC06", "CustTracking");
    assert_eq!(built["HasErrors"], false, "{built}");
    let zip = base64::engine::general_purpose::STANDARD
        .decode(built["Content"].as_str().expect("Content"))
        .expect("base64");
    assert_eq!(&zip[..4], b"PK\x03\x04", "the package is a ZIP");
    assert_eq!(built["HashContent"].as_str().map(str::len), Some(64));
    assert!(
        messages(&built)
            .iter()
            .any(|m| m.contains("5 items packed, 0 failed"))
    );
    let history = ok(client.odata(
        "EPIC06",
        EP,
        "GetByID",
        &json!({"packageID": "CustTracking"}),
    ));
    assert_eq!(history["returnObj"]["EPHistory"][0]["Action"], "Build");
    assert_eq!(
        history["returnObj"]["ExportPackage"][0]["BuildIteration"],
        1
    );
}

#[test]
fn build_with_a_missing_item_has_errors() {
    let (_double, client) = start();
    ok(client.odata("EPIC06", EP, "AddItemsToSolutionAndSave", &json!({
        "solutionId": "OrderFixes", "dsToAdd": {"QueryHdr": [{"QueryID": "zGone"}]}, "recordsToDelete": [],
    })));
    let built = build(&client, "EPIC06", "OrderFixes");
    assert_eq!(built["HasErrors"], true);
    assert_eq!(built["Content"], "");
    let errors: Vec<&Value> = built["LogRecords"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["Type"] == "Error")
        .collect();
    assert!(
        errors
            .iter()
            .any(|r| r["Message"].as_str().is_some_and(|m| m.contains("zGone"))),
        "{built}"
    );
}

#[test]
fn build_solution_leaves_files_for_download_file() {
    let (_double, client) = start();
    let settings = ok(client.odata(
        "EPIC06",
        EP,
        "GetBuildSettings",
        &json!({"solutionID": "OrderFixes"}),
    ));
    let built = ok(client.odata(
        "EPIC06",
        EP,
        "BuildSolution",
        &json!({"settings": settings["returnObj"]}),
    ));
    let params = &built["parameters"];
    assert!(
        params["logRecords"]
            .as_str()
            .is_some_and(|l| l.contains("0 failed"))
    );
    let mut cab = String::new();
    for key in [
        "solutionFileNameServer",
        "solutionBuildLogFileNameServer",
        "solutionHashFileNameServer",
    ] {
        let path = params[key].as_str().expect("a server file name");
        let file = ok(client.odata(
            "EPIC06",
            "Ice.Lib.FileTransferSvc",
            "DownloadFile",
            &json!({"folder": 4, "serverPath": path}),
        ));
        let data = file["returnObj"].as_str().expect("base64 file").to_string();
        assert!(!data.is_empty(), "{key}");
        if key == "solutionFileNameServer" {
            cab = data;
        }
    }
    assert!(
        params["solutionFileNameLocal"]
            .as_str()
            .is_some_and(|n| n.ends_with(".cab"))
    );
    let installed = install(&client, "EPIC07", &cab);
    assert_eq!(installed.status, 200);
    assert_eq!(
        installed.body["returnObj"]["HasErrors"], false,
        "{}",
        installed.body
    );
}

#[test]
fn install_settings_and_install_record_the_version() {
    let (double, client) = start();
    let cab = build(&client, "EPIC06", "OrderFixes")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    let settings = ok(client.odata(
        "EPIC07",
        EP,
        "GetInstallSettings",
        &json!({"cabData": cab, "solutionFile": "OrderFixes_1.0.0.0.cab"}),
    ));
    let main = &settings["returnObj"]["MainInstallSettings"][0];
    for key in [
        "SolutionID",
        "SourceVersion",
        "DestinationVersion",
        "BuildIteration",
        "SolutionReference",
        "MinAppVersion",
        "SourceCompany",
        "ValidationHash",
        "OnlyTargetCurrentCompany",
        "AutoOverwriteDuplicateFile",
        "AutoOverwriteDuplicateData",
        "DeletePreviousInstall",
        "OverrideDirectives",
    ] {
        assert!(main.get(key).is_some(), "{key} in {main}");
    }
    assert_eq!(main["SourceCompany"], "EPIC06");
    assert_eq!(
        main["DestinationVersion"], "1.0.0.0",
        "the seeded install in EPIC07"
    );
    let answer = install(&client, "EPIC07", &cab);
    assert_eq!(
        answer.body["returnObj"]["HasErrors"], false,
        "{}",
        answer.body
    );
    assert!(
        !messages(&answer.body["returnObj"])
            .iter()
            .any(|m| m == REGENERATE_WARNING)
    );
    let installed = ok(client.odata("EPIC07", EP, "GetInstalledSolutions", &json!({})));
    let rows = installed["returnObj"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["BuildIteration"], 1);
    let history = ok(client.odata(
        "EPIC07",
        EP,
        "GetSolutionHistory",
        &json!({"solutionID": "OrderFixes"}),
    ));
    assert_eq!(history["returnObj"].as_array().map(Vec::len), Some(2));
    assert_eq!(double.installs("EPIC07").len(), 2);
}

#[test]
fn install_refuses_tampered_settings_and_garbage() {
    let (_double, client) = start();
    let cab = build(&client, "EPIC06", "OrderFixes")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    let settings = ok(client.odata("EPIC07", EP, "GetInstallSettings", &json!({"cabData": cab})));
    let mut tampered = settings["returnObj"].clone();
    tampered["MainInstallSettings"][0]["ValidationHash"] = json!("0000");
    let refused = client
        .odata(
            "EPIC07",
            EP,
            "Install",
            &json!({"cabData": cab, "settings": tampered}),
        )
        .expect("call");
    assert_eq!(refused.status, 400);
    let garbage = client
        .odata(
            "EPIC07",
            EP,
            "GetInstallSettings",
            &json!({"cabData": "bm90IGEgemlw"}),
        )
        .expect("call");
    assert_eq!(garbage.status, 400);
}

#[test]
fn installing_ud_fields_warns_to_regenerate_the_data_model() {
    let (double, client) = start();
    let cab = build(&client, "EPIC06", "CustTracking")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    let answer = install(&client, "EPIC07", &cab);
    let result = &answer.body["returnObj"];
    assert_eq!(result["HasErrors"], false, "{result}");
    let warning = result["LogRecords"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["Type"] == "Warning")
        .expect("a warning");
    assert_eq!(warning["Message"], REGENERATE_WARNING);
    let (_, synced) = double.ud_table("EPIC07", "Customer_UD").expect("table");
    assert!(!synced);
    double.regenerate_data_model("EPIC07").expect("regenerate");
    assert_eq!(
        double.ud_table("EPIC07", "Customer_UD").map(|t| t.1),
        Some(true)
    );

    double.script_install(Some("EPIC07"), InstallOutcome::Clean);
    let clean = install(&client, "EPIC07", &cab);
    assert!(
        !messages(&clean.body["returnObj"])
            .iter()
            .any(|m| m == REGENERATE_WARNING)
    );
    double.script_install(None, InstallOutcome::RegenerateDataModel);
    let cab2 = build(&client, "EPIC06", "OrderFixes")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    let warned = install(&client, "EPIC07", &cab2);
    assert!(
        messages(&warned.body["returnObj"])
            .iter()
            .any(|m| m == REGENERATE_WARNING)
    );
}

#[test]
fn a_layer_in_another_company_conflicts_until_deleted() {
    let (double, client) = start();
    let cab = build(&client, "EPIC06", "CustTracking")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    double
        .put_layer(
            "EPIC07",
            "T_EPIC07",
            "Erp.UI.CustomerEntry",
            "CustTracking",
            json!({"components": []}),
        )
        .expect("a layer of another company");
    let before = double.installs("EPIC07").len();
    let answer = install(&client, "EPIC07", &cab);
    let result = &answer.body["returnObj"];
    assert_eq!(result["HasErrors"], true);
    let text = messages(result);
    assert!(text.iter().any(|m| m == "Layer with identifier Erp.UI.CustomerEntry~CustTracking~KNTCCustLayer already exists in another company"), "{text:?}");
    assert_eq!(double.installs("EPIC07").len(), before, "nothing installed");

    let settings = ok(client.odata("EPIC07", EP, "GetInstallSettings", &json!({"cabData": cab})));
    let mut all_companies = settings["returnObj"].clone();
    all_companies["MainInstallSettings"][0]["OnlyTargetCurrentCompany"] = json!(false);
    let second = ok(client.odata(
        "EPIC07",
        EP,
        "Install",
        &json!({"cabData": cab, "settings": all_companies}),
    ));
    assert!(messages(&second["returnObj"]).iter().any(|m| m == "Cannot override all companies customization for application layer CustTracking Erp.UI.CustomerEntry as the layer already exists in another company."));

    let deleted = ok(client.odata("EPIC07", "Ice.Lib.MetaFXSvc", "DeleteLayer", &json!({"request": {
        "ViewId": "Erp.UI.CustomerEntry", "Company": "T_EPIC07", "TypeCode": "KNTCCustLayer",
        "LayerName": "CustTracking", "DeviceType": "Desktop", "CGCCode": "", "UserName": "manager",
        "IncludeDraftContent": true, "UxAppVersion": 0,
    }})));
    assert_eq!(deleted, json!({}));
    let retried = install(&client, "EPIC07", &cab);
    assert_eq!(
        retried.body["returnObj"]["HasErrors"], false,
        "{}",
        retried.body
    );
    assert!(
        double
            .layers("EPIC07")
            .iter()
            .any(|l| l["Company"] == "EPIC07" && l["LayerName"] == "CustTracking")
    );
}

#[test]
fn scripted_conflicts_and_http_errors() {
    let (double, client) = start();
    let cab = build(&client, "EPIC06", "OrderFixes")["Content"]
        .as_str()
        .expect("Content")
        .to_string();
    double.script_install(
        Some("EPIC07"),
        InstallOutcome::LayerConflict {
            form: ConflictForm::AllCompanies,
            app: "Erp.UI.SalesOrderEntry".into(),
            layer: "OrderFixes".into(),
            type_code: "KNTCCustLayer".into(),
            as_http_error: false,
        },
    );
    let first = install(&client, "EPIC07", &cab);
    assert_eq!(first.body["returnObj"]["HasErrors"], true);
    assert!(messages(&first.body["returnObj"]).iter().any(|m| m.starts_with("Cannot override all companies customization for application layer OrderFixes Erp.UI.SalesOrderEntry")));
    let control = Client::new(&double.base_url());
    let queued = control.post("/_double/install-outcomes", &json!({"company": "EPIC07", "outcome": "layer-conflict", "form": "identifier", "app": "Erp.UI.SalesOrderEntry", "layer": "OrderFixes", "httpError": true})).expect("control");
    assert_eq!(queued.status, 200, "{}", queued.body);
    let as_error = install(&client, "EPIC07", &cab);
    assert_eq!(as_error.status, 400);
    assert_eq!(
        as_error.body["ErrorMessage"],
        "Layer with identifier Erp.UI.SalesOrderEntry~OrderFixes~KNTCCustLayer already exists in another company"
    );
    double.script_install(
        None,
        InstallOutcome::HttpError {
            status: 500,
            message: "Solution install failed: timeout".into(),
        },
    );
    let failed = install(&client, "EPIC07", &cab);
    assert_eq!(failed.status, 500);
    assert_eq!(
        failed.body["ErrorMessage"],
        "Solution install failed: timeout"
    );
    assert!(failed.body["CorrelationId"].as_str().is_some());
    let next = install(&client, "EPIC07", &cab);
    assert_eq!(
        next.body["returnObj"]["HasErrors"], false,
        "scripts are used once"
    );
}
