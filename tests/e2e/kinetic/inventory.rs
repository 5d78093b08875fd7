//! Acceptance 5 (the pack's part): a UI edit made directly in the double (a
//! layer changed, a UD field added) shows up in the next inventory as a new
//! digest and a new item.

use serde_json::{Value, json};

use super::setup::Kinetic;

fn digests(v: &Value) -> std::collections::BTreeMap<String, String> {
    v["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| {
            (
                format!(
                    "{}:{}",
                    i["kind"].as_str().unwrap(),
                    i["id"].as_str().unwrap()
                ),
                i["digest"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn ui_edits_change_the_inventory() {
    let k = Kinetic::new();
    let before = digests(&k.ok(&["inventory"]));
    for kind in [
        "installed-solution",
        "ud-table",
        "ud-field",
        "layer",
        "baq",
        "directive",
        "efx-library",
    ] {
        assert!(
            before.keys().any(|k| k.starts_with(&format!("{kind}:"))),
            "no {kind} in {before:?}"
        );
    }
    // The same target gives the same digests.
    assert_eq!(digests(&k.ok(&["inventory"])), before);

    k.double
        .edit_layer("EPIC07", "Erp.UI.SalesOrderEntry", "OrderFixes", None)
        .unwrap();
    k.double
        .set_ud_field(
            "EPIC07",
            "Customer_UD",
            json!({"FieldName": "AddedInUi_c", "Description": "added by hand"}),
        )
        .unwrap();
    let after = digests(&k.ok(&["inventory"]));
    let layer = "layer:Erp.UI.SalesOrderEntry~OrderFixes~KNTCCustLayer~EPIC07";
    assert_ne!(
        before[layer], after[layer],
        "the edited layer has a new digest"
    );
    assert!(after.contains_key("ud-field:Customer_UD.AddedInUi_c"));
    assert_ne!(
        before["ud-table:Erp.Customer_UD"],
        after["ud-table:Erp.Customer_UD"]
    );
    let unchanged = before
        .iter()
        .filter(|(id, d)| after.get(*id) == Some(d))
        .count();
    assert_eq!(
        unchanged,
        before.len() - 2,
        "only the two edited items changed"
    );

    let only = k.ok(&["inventory", "--kind", "layer"]);
    assert!(
        only["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|i| i["kind"] == "layer")
    );
}
