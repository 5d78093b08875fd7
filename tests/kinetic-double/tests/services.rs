//! ZDataTableSvc, MetaFXSvc (GET and POST forms), FileTransferSvc and the inventory reads
//! over HTTP.

use base64::Engine;
use envpack_kinetic_double::client::{Client, Response, encode};
use envpack_kinetic_double::{DoubleConfig, KineticDouble};
use serde_json::{Value, json};

const ZD: &str = "Ice.BO.ZDataTableSvc";
const MFX: &str = "Ice.Lib.MetaFXSvc";

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

fn sync(client: &Client, co: &str) -> Value {
    ok(client.odata(
        co,
        ZD,
        "GetExtendedTableSyncDetailsMessage",
        &json!({"schemaName": "Erp", "tableName": "Customer_UD"}),
    ))
}

#[test]
fn ud_tables_read_both_ways() {
    let (_double, client) = start();
    for method in ["GetByIDUd", "GetByID"] {
        let table = ok(client.odata(
            "EPIC06",
            ZD,
            method,
            &json!({"systemCode": "Erp", "dataTableID": "Customer_UD"}),
        ));
        let fields = table["returnObj"]["ZDataField"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        assert_eq!(fields.len(), 2, "{method}");
        for key in [
            "DataType",
            "Required",
            "ReadOnly",
            "Description",
            "FieldFormat",
            "FieldScale",
            "LikeDataFieldName",
            "InitialValue",
            "DefaultFormat",
            "DefaultLabel",
            "DBTableName",
            "SysRowID",
            "SysRevID",
        ] {
            assert!(fields[0].get(key).is_some(), "{key} in {}", fields[0]);
        }
    }
    let prod = ok(client.odata(
        "EPIC07",
        ZD,
        "GetByIDUd",
        &json!({"systemCode": "Erp", "dataTableID": "Customer_UD"}),
    ));
    let names: Vec<&str> = prod["returnObj"]["ZDataField"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|f| f["FieldName"].as_str())
        .collect();
    assert_eq!(
        names,
        ["TrackCode_c", "LegacyRef_c"],
        "prod drifted and has an extra field"
    );
    let empty = ok(client.odata(
        "EPIC06",
        ZD,
        "GetByIDUd",
        &json!({"systemCode": "Erp", "dataTableID": "Nope_UD"}),
    ));
    assert_eq!(empty["returnObj"]["ZDataTable"], json!([]));
    let missing = client
        .odata(
            "EPIC06",
            ZD,
            "GetByID",
            &json!({"systemCode": "Erp", "dataTableID": "Nope_UD"}),
        )
        .expect("call");
    assert_eq!(missing.status, 400);
}

#[test]
fn ud_table_list() {
    let (_double, client) = start();
    let list = ok(client.odata(
        "EPIC06",
        ZD,
        "GetList",
        &json!({"whereClause": "", "pageSize": 0, "absolutePage": 0}),
    ));
    let ids: Vec<&str> = list["returnObj"]["ZDataTableList"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|t| t["DataTableID"].as_str())
        .collect();
    assert_eq!(ids, ["Customer_UD", "UD01"]);
}

#[test]
fn a_layer_exported_through_get_app_imports_back() {
    let (double, client) = start();
    let request = json!({"id": "Erp.UI.SalesOrderEntry", "ViewId": "Erp.UI.SalesOrderEntry", "LayerName": "OrderFixes", "Company": "EPIC07"});
    let exported = ok(client.get(&format!(
        "/api/v2/odata/EPIC07/{MFX}/GetApp?request={}",
        encode(&request.to_string())
    )));
    let original = double.layers("EPIC07")[0]["Content"].clone();
    let body = serde_json::to_string_pretty(&exported["returnObj"]).expect("json");
    let zip = layer_zip("Erp.UI.SalesOrderEntry", "OrderFixes", &body);
    ok(client.odata("EPIC07", MFX, "DeleteLayer", &json!({"request": {"ViewId": "Erp.UI.SalesOrderEntry", "Company": "EPIC07", "LayerName": "OrderFixes"}})));
    assert!(double.layers("EPIC07").is_empty());
    let content = base64::engine::general_purpose::STANDARD.encode(zip);
    ok(client.odata(
        "EPIC07",
        MFX,
        "ImportLayers",
        &json!({"fileContent": {"content": content, "overwrite": false}}),
    ));
    let restored = double.layers("EPIC07");
    assert_eq!(restored.len(), 1);
    assert_eq!(
        restored[0]["Content"], original,
        "the layer's content, not the GetApp envelope"
    );
}

#[test]
fn adding_a_field_puts_the_data_model_out_of_sync_until_regenerated() {
    let (double, client) = start();
    assert_eq!(
        sync(&client, "EPIC07")["parameters"]["dataModelSynced"],
        true
    );
    let table = ok(client.odata(
        "EPIC07",
        ZD,
        "GetByIDUd",
        &json!({"systemCode": "Erp", "dataTableID": "Customer_UD"}),
    ));
    let new = ok(client.odata(
        "EPIC07",
        ZD,
        "GetNewZDataField",
        &json!({"ds": table["returnObj"], "systemCode": "Erp", "dataTableID": "Customer_UD"}),
    ));
    let mut ds = new["parameters"]["ds"].clone();
    let fields = ds["ZDataField"].as_array_mut().expect("fields");
    let added = fields.last_mut().expect("the new row");
    assert_eq!(added["RowMod"], "A");
    added["FieldName"] = json!("TrackSince_c");
    added["DataType"] = json!("date");
    let mut drifted = fields[0].clone();
    drifted["Description"] = json!("Tracking code");
    drifted["RowMod"] = json!("U");
    let rows = vec![drifted, fields.last().cloned().expect("row")];
    let saved = ok(client.odata(
        "EPIC07",
        ZD,
        "Update",
        &json!({"ds": {"ZDataTable": [], "ZDataField": rows}}),
    ));
    assert_eq!(
        saved["parameters"]["ds"]["ZDataField"]
            .as_array()
            .map(Vec::len),
        Some(2)
    );
    let state = sync(&client, "EPIC07");
    assert_eq!(state["returnObj"], false);
    assert_eq!(state["parameters"]["dataModelSynced"], false);
    assert_eq!(state["parameters"]["dbExists"], true);
    assert!(
        state["parameters"]["syncMessage"]
            .as_str()
            .is_some_and(|m| m.contains("regenerate"))
    );
    let duplicate = client.odata("EPIC07", ZD, "Update", &json!({"ds": {"ZDataField": [{"DataTableID": "Customer_UD", "FieldName": "TrackSince_c", "RowMod": "A"}]}})).expect("call");
    assert_eq!(duplicate.status, 409);
    let regen = ok(Client::new(&double.base_url()).post(
        "/_double/companies/EPIC07/regenerate-data-model",
        &json!({}),
    ));
    assert_eq!(regen["result"]["regenerated"], json!(["Customer_UD"]));
    assert_eq!(
        sync(&client, "EPIC07")["parameters"]["dataModelSynced"],
        true
    );
    let unknown = ok(client.odata(
        "EPIC07",
        ZD,
        "GetExtendedTableSyncDetailsMessage",
        &json!({"schemaName": "Erp", "tableName": "Nope_UD"}),
    ));
    assert_eq!(unknown["parameters"]["dbExists"], false);
}

#[test]
fn layers_by_get_and_post_delete_and_bulk_delete() {
    let (double, client) = start();
    let request = json!({"ViewId": "Erp.UI.SalesOrderEntry", "TypeCode": "KNTCCustLayer", "DeviceType": "Desktop", "IncludeUnpublishedLayers": true});
    let posted = ok(client.odata("EPIC06", MFX, "GetLayers", &json!({"request": request})));
    let path = format!(
        "/api/v2/odata/EPIC06/{MFX}/GetLayers?request={}",
        encode(&request.to_string())
    );
    let got = ok(client.get(&path));
    assert_eq!(posted, got, "GET and POST forms agree");
    let row = &got["returnObj"][0];
    for key in [
        "Id",
        "SubType",
        "LastUpdated",
        "IsPublished",
        "ViewId",
        "TypeCode",
        "Company",
        "LayerName",
        "DeviceType",
        "CGCCode",
        "SystemFlag",
        "HasDraftContent",
        "LastUpdatedBy",
    ] {
        assert!(row.get(key).is_some(), "{key} in {row}");
    }
    let upper = ok(client.odata(
        "EPIC06",
        "Ice.LIB.MetaFXSvc",
        "GetLayers",
        &json!({"request": request}),
    ));
    assert_eq!(upper, posted, "the Ice.LIB spelling works too");
    let missing = client.odata("EPIC06", MFX, "DeleteLayer", &json!({"request": {"ViewId": "Erp.UI.SalesOrderEntry", "LayerName": "Nope", "Company": "EPIC06"}})).expect("call");
    assert_eq!(missing.status, 400);
    ok(client.odata("EPIC06", MFX, "DeleteLayer", &json!({"request": {"ViewId": "Erp.UI.SalesOrderEntry", "Company": "EPIC06", "TypeCode": "KNTCCustLayer", "LayerName": "OrderFixes", "DeviceType": "Desktop", "CGCCode": "", "UserName": "manager", "IncludeDraftContent": true, "UxAppVersion": 0}})));
    assert!(
        ok(client.odata("EPIC06", MFX, "GetLayers", &json!({"request": request})))["returnObj"]
            .as_array()
            .is_some_and(Vec::is_empty)
    );
    let bulk = ok(client.odata("EPIC06", MFX, "BulkDeleteLayers", &json!({"layersToDelete": [{"ViewId": "Erp.UI.CustomerEntry", "Company": "EPIC06", "LayerName": "CustTracking"}]})));
    assert_eq!(bulk["returnObj"]["DeletedCount"], 1);
    assert!(double.layers("EPIC06").is_empty());
}

#[test]
fn import_layers_get_app_and_applications() {
    let (double, client) = start();
    let layer = "{\n  // exported from EPIC06\n  \"components\": [{\"id\": \"x\"}]\n}";
    let zip = layer_zip("Erp.UI.PartEntry", "PartNotes", layer);
    let content = base64::engine::general_purpose::STANDARD.encode(zip);
    let imported = ok(client.odata("EPIC07", MFX, "ImportLayers", &json!({"fileContent": {"content": content, "overwrite": false, "overrideCompanyId": true}})));
    assert_eq!(imported["returnObj"][0]["LayerName"], "PartNotes");
    let again = client
        .odata(
            "EPIC07",
            MFX,
            "ImportLayers",
            &json!({"fileContent": {"content": content, "overwrite": false}}),
        )
        .expect("call");
    assert_eq!(again.status, 409);
    ok(client.odata(
        "EPIC07",
        MFX,
        "ImportLayers",
        &json!({"fileContent": {"content": content, "overwrite": true}}),
    ));
    assert_eq!(
        double
            .layers("EPIC07")
            .iter()
            .filter(|l| l["LayerName"] == "PartNotes")
            .count(),
        1
    );

    let request = json!({"id": "Erp.UI.PartEntry", "properties": {"layers": "PartNotes", "company": "EPIC07"}});
    let app = ok(client.get(&format!(
        "/api/v2/odata/EPIC07/{MFX}/GetApp?request={}",
        encode(&request.to_string())
    )));
    assert_eq!(
        app["returnObj"]["Layers"][0]["Content"]["components"][0]["id"],
        "x"
    );
    let unknown = client
        .get(&format!(
            "/api/v2/odata/EPIC07/{MFX}/GetApp?request={}",
            encode("{\"id\":\"Erp.UI.Nope\"}")
        ))
        .expect("call");
    assert_eq!(unknown.status, 404);
    let apps = ok(client.odata("EPIC07", MFX, "GetApplications", &json!({"request": {"Type": "view", "SubType": "", "SearchText": "Part", "IncludeAllLayers": true, "IncludePersLayers": false}})));
    assert_eq!(apps["returnObj"][0]["Id"], "Erp.UI.PartEntry");
    assert_eq!(
        apps["returnObj"][0]["Layers"][0],
        json!({"LayerName": "PartNotes", "TypeCode": "KNTCCustLayer", "DeviceType": "Desktop", "Company": "EPIC07"})
    );
    let bad = client
        .odata(
            "EPIC07",
            MFX,
            "ImportLayers",
            &json!({"fileContent": {"content": "bm90IGEgemlw"}}),
        )
        .expect("call");
    assert_eq!(bad.status, 400);
}

/// A one-entry stored ZIP, built by hand so the test does not trust the double's writer.
fn layer_zip(app: &str, layer: &str, text: &str) -> Vec<u8> {
    let name = format!("Layers/{app}/{layer}.jsonc");
    let data = text.as_bytes();
    let crc = crc32(data);
    let mut out = Vec::new();
    let le16 = |v: u16| v.to_le_bytes();
    let le32 = |v: u32| v.to_le_bytes();
    out.extend_from_slice(&le32(0x0403_4b50));
    for v in [20u16, 0, 0, 0, 0] {
        out.extend_from_slice(&le16(v));
    }
    for v in [crc, data.len() as u32, data.len() as u32] {
        out.extend_from_slice(&le32(v));
    }
    out.extend_from_slice(&le16(name.len() as u16));
    out.extend_from_slice(&le16(0));
    out.extend_from_slice(name.as_bytes());
    out.extend_from_slice(data);
    let cd_offset = out.len() as u32;
    out.extend_from_slice(&le32(0x0201_4b50));
    for v in [20u16, 20, 0, 0, 0, 0] {
        out.extend_from_slice(&le16(v));
    }
    for v in [crc, data.len() as u32, data.len() as u32] {
        out.extend_from_slice(&le32(v));
    }
    for v in [name.len() as u16, 0, 0, 0, 0] {
        out.extend_from_slice(&le16(v));
    }
    out.extend_from_slice(&le32(0));
    out.extend_from_slice(&le32(0));
    out.extend_from_slice(name.as_bytes());
    let cd_size = out.len() as u32 - cd_offset;
    out.extend_from_slice(&le32(0x0605_4b50));
    for v in [0u16, 0, 1, 1] {
        out.extend_from_slice(&le16(v));
    }
    out.extend_from_slice(&le32(cd_size));
    out.extend_from_slice(&le32(cd_offset));
    out.extend_from_slice(&le16(0));
    out
}

fn crc32(data: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

#[test]
fn files_upload_and_download() {
    let (_double, client) = start();
    let data = base64::engine::general_purpose::STANDARD.encode(b"report bytes");
    let up = ok(client.odata(
        "EPIC06",
        "Ice.Lib.FileTransferSvc",
        "UploadFile",
        &json!({"folder": 4, "serverPath": "Reports\\r.zip", "data": data}),
    ));
    assert_eq!(up, json!({}));
    let down = ok(client.odata(
        "EPIC06",
        "Ice.Lib.FileTransferSvc",
        "DownloadFile",
        &json!({"folder": "4", "serverPath": "Reports/r.zip"}),
    ));
    assert_eq!(down["returnObj"], json!(data));
    let other = client
        .odata(
            "EPIC07",
            "Ice.Lib.FileTransferSvc",
            "DownloadFile",
            &json!({"folder": 4, "serverPath": "Reports/r.zip"}),
        )
        .expect("call");
    assert_eq!(other.status, 400, "files are per company");
    let escape = client
        .odata(
            "EPIC06",
            "Ice.Lib.FileTransferSvc",
            "DownloadFile",
            &json!({"folder": 4, "serverPath": "../etc/passwd"}),
        )
        .expect("call");
    assert_eq!(escape.status, 400);
}

#[test]
fn inventory_reads_and_the_login_probe() {
    let (_double, client) = start();
    let probe = format!(
        "/api/v2/odata/EPIC06/Erp.BO.UserFileSvc/GetRows?whereClauseUserFile={}&pageSize=1&absolutePage=1",
        encode("DcdUserID = 'manager'")
    );
    let user = ok(client.get(&probe));
    assert_eq!(user["returnObj"]["UserFile"][0]["DcdUserID"], "manager");
    let baqs = ok(client.odata(
        "EPIC06",
        "Ice.BO.BAQDesignerSvc",
        "GetList",
        &json!({"whereClause": "", "pageSize": 0, "absolutePage": 0}),
    ));
    assert_eq!(
        baqs["returnObj"]["QueryHdrList"].as_array().map(Vec::len),
        Some(2)
    );
    let libs = ok(client.odata(
        "EPIC06",
        "Ice.BO.EfxLibraryDesignerSvc",
        "GetLibraryList",
        &json!({}),
    ));
    assert_eq!(libs["returnObj"][0]["LibraryID"], "OrderTools");
    let directives = ok(client.odata(
        "EPIC06",
        "Ice.BO.BpMethodSvc",
        "GetList",
        &json!({"whereClause": "BpMethodCode BEGINS 'Erp.BO.Customer'"}),
    ));
    assert_eq!(
        directives["returnObj"]["BpMethodList"][0]["Name"],
        "ValidateTrackCode"
    );
    let data = ok(client.get("/api/v2/odata/EPIC06/BaqSvc/zCustTracking/Data?$top=10"));
    assert_eq!(data["value"].as_array().map(Vec::len), Some(2));
    let post_only = client
        .get("/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/Update")
        .expect("call");
    assert_eq!(post_only.status, 405);
}
