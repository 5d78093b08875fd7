//! Acceptance 2: an install that hits a layer conflict. With `fail` it
//! stops naming the layer and clears nothing; with
//! `export-clear-and-retry-once` it exports each layer first, clears it,
//! installs once more, and reports every step.

use envpack_e2e::kinetic_double::{ConflictForm, InstallOutcome};
use serde_json::json;

use super::setup::{Kinetic, find_files};

const APP: &str = "Erp.UI.CustomerEntry";
const LAYER: &str = "CustTracking";

fn conflict(form: ConflictForm, as_http_error: bool) -> InstallOutcome {
    InstallOutcome::LayerConflict {
        form,
        app: APP.into(),
        layer: LAYER.into(),
        type_code: "KNTCCustLayer".into(),
        as_http_error,
    }
}

/// Built in EPIC06, with a layer of another company in EPIC07's way.
fn prepared() -> Kinetic {
    let k = Kinetic::new();
    k.ok(&["solutions", "build", "CustTracking", "--company", "EPIC06"]);
    k.double
        .put_layer(
            "EPIC07",
            "T_EPIC07",
            APP,
            LAYER,
            json!({"marker": "theirs"}),
        )
        .unwrap();
    k.double.clear_journal();
    k
}

/// The dry run's plan predicts the conflict (from the server's validation
/// of the planned settings, the owner from the target's layers) and says
/// what the policy will do, changing nothing.
#[test]
fn a_dry_run_predicts_the_conflicting_layers() {
    let k = prepared();
    let r = k.env.run(&[
        "--env",
        "kin",
        "kinetic",
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
        "--dry-run",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains(
            "predicted layer conflict: Erp.UI.CustomerEntry~CustTracking~KNTCCustLayer (company T_EPIC07); the install stops on it"
        ),
        "{}",
        r.stdout
    );
    let plan = k.ok(&[
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
        "--dry-run",
        "--on-conflict",
        "export-clear-and-retry-once",
    ]);
    let predicted = plan["plan"]["predicted_conflicts"].as_array().unwrap();
    assert_eq!(predicted.len(), 1, "{plan}");
    assert_eq!(predicted[0]["form"], "identifier");
    assert_eq!(predicted[0]["layer"]["app_id"], APP);
    assert_eq!(predicted[0]["layer"]["layer_name"], LAYER);
    assert_eq!(predicted[0]["layer"]["company"], "T_EPIC07");
    assert!(
        plan["plan"]["summary"]
            .as_str()
            .unwrap()
            .contains("1 layer conflict(s) predicted"),
        "{plan}"
    );
    assert_eq!(
        k.changes(),
        Vec::<String>::new(),
        "a dry run changed something"
    );
    assert!(
        k.calls()
            .iter()
            .any(|c| c.ends_with("/ValidateInstallSettings")),
        "{:?}",
        k.calls()
    );
    assert!(
        k.double
            .layers("EPIC07")
            .iter()
            .any(|l| l["Company"] == "T_EPIC07")
    );

    // Without the conflicting layer, none is predicted.
    let clean = Kinetic::new();
    clean.ok(&["solutions", "build", "CustTracking", "--company", "EPIC06"]);
    let plan = clean.ok(&[
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
        "--dry-run",
    ]);
    assert_eq!(plan["plan"]["predicted_conflicts"], json!([]), "{plan}");
}

#[test]
fn fail_stops_and_names_the_layers() {
    let k = prepared();
    k.double
        .script_install(Some("EPIC07"), conflict(ConflictForm::Identifier, false));
    let (code, v) = k.run(&[
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
    ]);
    assert_eq!(code, 5, "{v}");
    let message = v["error"]["message"].as_str().unwrap();
    assert!(
        message.contains("Erp.UI.CustomerEntry~CustTracking~KNTCCustLayer"),
        "{message}"
    );
    // The fix is a command for this environment, pasteable as it is: the
    // host put the environment's name in the pack's `<env>`.
    assert_eq!(
        v["error"]["hint"],
        "envpack --env kin kinetic solutions install CustTracking --from-company EPIC06 --on-conflict export-clear-and-retry-once",
        "{v}"
    );
    assert!(!v.to_string().contains("<env>"), "{v}");
    let calls = k.calls();
    assert_eq!(
        calls.iter().filter(|c| c.ends_with("/Install")).count(),
        1,
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.contains("DeleteLayer")),
        "{calls:?}"
    );
    assert!(
        k.double
            .layers("EPIC07")
            .iter()
            .any(|l| l["Company"] == "T_EPIC07")
    );
}

#[test]
fn export_clear_and_retry_once_in_both_message_forms() {
    for (form, as_http_error) in [
        (ConflictForm::AllCompanies, true),
        (ConflictForm::Identifier, false),
    ] {
        let k = prepared();
        k.double
            .script_install(Some("EPIC07"), conflict(form, as_http_error));
        let done = k.ok(&[
            "solutions",
            "install",
            "CustTracking",
            "--from-company",
            "EPIC06",
            "--on-conflict",
            "export-clear-and-retry-once",
        ]);
        let steps: Vec<&str> = done["steps"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s["step"].as_str().unwrap())
            .collect();
        assert_eq!(
            steps,
            ["install", "export-layer", "clear-layer", "retry-install"],
            "{done}"
        );
        assert_eq!(done["report"]["has_errors"], false, "{done}");
        let calls: Vec<String> = k
            .calls()
            .into_iter()
            .filter(|c| !c.ends_with("GetInstallSettings") && !c.ends_with("GetInstalledSolutions"))
            .collect();
        let install = calls.iter().position(|c| c.ends_with("/Install")).unwrap();
        let export = calls
            .iter()
            .position(|c| c.ends_with("MetaFXSvc/GetApp"))
            .unwrap();
        let clear = calls
            .iter()
            .position(|c| c.ends_with("MetaFXSvc/DeleteLayer"))
            .unwrap();
        let retry = calls.iter().rposition(|c| c.ends_with("/Install")).unwrap();
        assert!(
            install < export && export < clear && clear < retry,
            "{calls:?}"
        );
        assert_eq!(
            calls.iter().filter(|c| c.ends_with("/Install")).count(),
            2,
            "retried once: {calls:?}"
        );
        assert!(
            !k.double
                .layers("EPIC07")
                .iter()
                .any(|l| l["Company"] == "T_EPIC07"),
            "cleared"
        );
        // The export was kept before the clear.
        let kept = find_files(
            k.env.home(),
            "Erp.UI.CustomerEntry~CustTracking~T_EPIC07.zip",
        );
        assert_eq!(kept.len(), 1, "one export kept");
        let zip = std::fs::read(&kept[0]).unwrap();
        assert!(
            String::from_utf8_lossy(&zip).contains("theirs"),
            "the layer's content is in the export"
        );
        assert_eq!(done["steps"][1]["digest"].as_str().unwrap().len(), 71);
        k.assert_no_secret_leaked();
    }
}

/// `layers conflicts` reads both message forms, and finds the layers of
/// other companies for an app; `layers clear --dry-run` changes nothing.
#[test]
fn conflicts_and_clear_commands() {
    let k = prepared();
    let found = k.ok(&[
        "layers", "conflicts",
        "--message", "Layer with identifier Erp.UI.PartEntry~P1~KNTCCustLayer already exists in another company",
        "--message", "Cannot override all companies customization for application layer L2 Erp.UI.SalesOrderEntry as the layer already exists in another company.",
    ]);
    let forms: Vec<&str> = found["conflicts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["form"].as_str().unwrap())
        .collect();
    assert_eq!(forms, ["identifier", "all-companies"]);
    let by_app = k.ok(&["layers", "conflicts", "--app", APP]);
    assert_eq!(
        by_app["conflicts"][0]["layer"]["company"], "T_EPIC07",
        "{by_app}"
    );
    k.double.clear_journal();
    let dry = k.ok(&[
        "layers",
        "clear",
        APP,
        LAYER,
        "--layer-company",
        "T_EPIC07",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true);
    assert!(!k.calls().iter().any(|c| c.contains("DeleteLayer")));
    let cleared = k.ok(&["layers", "clear", APP, LAYER, "--layer-company", "T_EPIC07"]);
    assert_eq!(cleared["cleared"], true);
    assert!(
        cleared["export"]["digest"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
}
