//! Acceptance 3: a declared UD table against the target: missing, extra and
//! drifted fields; apply creates and updates (never the extra ones) and
//! reports that the data model must be regenerated.

use super::setup::Kinetic;

const TOML: &str = r#"system-code = "Erp"
table = "Customer_UD"

[[field]]
name = "TrackCode_c"
data-type = "nvarchar"
description = "Tracking code (declared)"

[[field]]
name = "TrackSince_c"
data-type = "date"

[[field]]
name = "Region_c"
data-type = "nvarchar"
description = "Sales region"
field-format = "x(20)"
"#;

/// The same table as a `ZDataTable` XML export: the one the kinetic
/// conformance suite declares.
const XML: &str = envpack_host::conformance::kinetic::CUSTOMER_UD_SPEC;

#[test]
fn diff_then_apply_reports_sync_state() {
    let k = Kinetic::new();
    let d = k.ok(&["schema", "diff", "--spec", TOML]);
    assert_eq!(
        d["missing"],
        serde_json::json!(["Region_c", "TrackSince_c"]),
        "{d}"
    );
    assert_eq!(d["extra"], serde_json::json!(["LegacyRef_c"]), "{d}");
    let drifted = d["drifted"].as_array().unwrap();
    assert_eq!(drifted.len(), 1, "{d}");
    assert_eq!(drifted[0]["field"], "TrackCode_c");
    assert_eq!(drifted[0]["properties"][0]["property"], "Description");
    // The XML export says the same (its SysRevID/RowMod are never compared).
    let x = k.ok(&["schema", "diff", "--spec", XML]);
    assert_eq!(
        (&x["missing"], &x["extra"], &x["drifted"]),
        (&d["missing"], &d["extra"], &d["drifted"])
    );

    k.double.clear_journal();
    let dry = k.ok(&["schema", "apply", "--spec", XML, "--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert!(
        !k.calls()
            .iter()
            .any(|c| c.ends_with("ZDataTableSvc/Update")),
        "{:?}",
        k.calls()
    );

    let applied = k.ok(&["schema", "apply", "--spec", XML]);
    assert_eq!(
        applied["report"]["created"],
        serde_json::json!(["Region_c", "TrackSince_c"]),
        "{applied}"
    );
    assert_eq!(
        applied["report"]["updated"],
        serde_json::json!(["TrackCode_c"])
    );
    assert_eq!(
        applied["report"]["sync"]["data_model_synced"], false,
        "{applied}"
    );
    let calls = k.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.ends_with("ZDataTableSvc/GetNewZDataField")),
        "{calls:?}"
    );
    assert!(
        calls.iter().any(|c| c.ends_with("ZDataTableSvc/Update")),
        "{calls:?}"
    );

    let (fields, _) = k.double.ud_table("EPIC07", "Customer_UD").unwrap();
    let names: Vec<&str> = fields
        .iter()
        .map(|f| f["FieldName"].as_str().unwrap())
        .collect();
    assert!(
        names.contains(&"Region_c") && names.contains(&"LegacyRef_c"),
        "extra kept: {names:?}"
    );
    let after = k.ok(&["schema", "diff", "--spec", TOML]);
    assert_eq!(after["missing"], serde_json::json!([]));
    assert_eq!(after["drifted"], serde_json::json!([]));
    assert_eq!(after["sync"]["data_model_synced"], false);
    k.double.regenerate_data_model("EPIC07").unwrap();
    assert_eq!(
        k.ok(&["schema", "diff", "--spec", TOML])["sync"]["data_model_synced"],
        true
    );
}

#[test]
fn a_bad_spec_names_the_problem() {
    let k = Kinetic::new();
    let (code, v) = k.run(&[
        "schema",
        "diff",
        "--spec",
        "<ZDataTableDataSet><ZDataField/></ZDataTableDataSet>",
    ]);
    assert_eq!(code, 2, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("http://www.epicor.com/Ice/300/BO/ZDataTable/ZDataTable"),
        "{v}"
    );
    assert!(k.calls().is_empty(), "refused before any call");
}
