//! Acceptance 1 and 4 through the lifecycle verbs: a solution built in the
//! dev company is a release bundle that deploys to dev, promotes to test
//! and prod (each its own company on the double), and rolls back by
//! reinstalling the previous package; production refuses a feature-branch
//! bundle before any HTTP call; an install-time layer conflict is resolved
//! by the environment's policy, every step audited.

use std::path::{Path, PathBuf};

use envpack_e2e::Env;
use envpack_e2e::kinetic_double::{ConflictForm, DoubleConfig, InstallOutcome, KineticDouble};
use serde_json::json;

use super::setup::{API_KEY, BIN, GRANTS, PASSWORD, USER, all_text};

const PACK: &str = "greentic.kinetic.rest";

/// dev (EPIC06) -> test (EPIC05) -> prod (EPIC07, production).
fn ladder() -> (Env, KineticDouble) {
    let double = KineticDouble::start(DoubleConfig {
        api_key: API_KEY.into(),
        user: USER.into(),
        password: PASSWORD.into(),
        ..DoubleConfig::with_companies(["EPIC06", "EPIC05", "EPIC07"])
    })
    .unwrap();
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["env", "init", "test", "--after", "dev"]);
    env.json(&["env", "init", "prod", "--after", "test", "--production"]);
    for (e, company) in [("dev", "EPIC06"), ("test", "EPIC05"), ("prod", "EPIC07")] {
        let mut bind = vec![
            "--yes",
            "env",
            "bind",
            e,
            "kinetic",
            "greentic.kinetic.rest@^1",
        ];
        bind.extend_from_slice(GRANTS);
        env.json(&bind);
        env.json(&[
            "--yes",
            "env",
            "config",
            e,
            PACK,
            "base_url",
            &double.base_url(),
        ]);
        env.json(&["--yes", "env", "config", e, PACK, "company", company]);
        env.json(&[
            "--yes",
            "env",
            "config",
            e,
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ]);
        for (name, value) in [
            ("KINETIC_API_KEY", API_KEY),
            ("KINETIC_USER", USER),
            ("KINETIC_PASSWORD", PASSWORD),
        ] {
            env.json(&["--yes", "secrets", "put", name, value, "--env", e]);
        }
    }
    (env, double)
}

/// Releases CustTracking from dev in one step: the environment's kinetic
/// pack backs it up, builds and pre-flights it, and envpack writes the
/// bundle (the package as payload, the build log, hash, backup and verdict
/// as evidence).
fn release(env: &Env, version: &str, source: &str) -> PathBuf {
    let out = env
        .home()
        .join(format!("custtracking-{version}-{source}.tgz"));
    let reference = if source == "release-tag" {
        format!("v{version}")
    } else {
        "feat/tracking".to_string()
    };
    let built = env.json(&[
        "--env",
        "dev",
        "bundle",
        "build",
        "--from-kinetic",
        "CustTracking",
        "--name",
        "custtracking",
        "--version",
        version,
        "--source",
        source,
        "--ref",
        &reference,
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(built["preflight"]["ok"], true, "{built}");
    assert_eq!(
        built["bundle"]["manifest"]["attributes"]["kinetic.package"], "CustTracking.cab",
        "{built}"
    );
    out
}

fn id_of(env: &Env, file: &Path) -> String {
    env.json(&["bundle", "verify", file.to_str().unwrap()])["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The version of CustTracking last installed in `company`.
fn installed(double: &KineticDouble, company: &str) -> Option<String> {
    double
        .installs(company)
        .iter()
        .rev()
        .find(|r| r["SolutionID"] == "CustTracking")
        .map(|r| r["Version"].as_str().unwrap_or_default().to_string())
}

fn bump_version(double: &KineticDouble, version: &str) {
    let ds = json!({"ExportPackage": [{"PackageID": "CustTracking", "Version": version, "RowMod": "U"}]});
    let r = double
        .client()
        .unwrap()
        .odata(
            "EPIC06",
            "Ice.BO.ExportPackageSvc",
            "Update",
            &json!({"ds": ds}),
        )
        .unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
}

fn calls(double: &KineticDouble, company: &str) -> Vec<String> {
    double
        .journal()
        .iter()
        .filter(|e| e.company.as_deref() == Some(company))
        .map(|e| e.route())
        .collect()
}

#[test]
fn a_solution_release_deploys_promotes_and_rolls_back() {
    let (env, double) = ladder();
    let v1 = release(&env, "1.2.0", "release-tag");
    // A normal release bundle: the package, and as required evidence the
    // build log, the server's hash, the backup it was built from and the
    // pre-flight verdict.
    let verified = env.json(&["bundle", "verify", v1.to_str().unwrap()]);
    let manifest = &verified["manifest"];
    assert_eq!(
        manifest["required_evidence"],
        json!([
            "CustTracking.backup.json",
            "CustTracking.build.json",
            "CustTracking.build.log",
            "CustTracking.hash",
            "CustTracking.preflight.json"
        ]),
        "{verified}"
    );
    assert_eq!(manifest["files"][0]["path"], "CustTracking.cab");
    assert_eq!(manifest["source"]["provenance"], "unverified");
    assert_eq!(manifest["attributes"]["kinetic.built-in"], "EPIC06");
    assert!(
        !manifest["attributes"]["kinetic.hash"]
            .as_str()
            .unwrap()
            .is_empty(),
        "{verified}"
    );
    let release_audit = env.json(&["--env", "dev", "audit", "--verb", "kinetic.release"]);
    assert_eq!(
        release_audit.as_array().unwrap().len(),
        2,
        "started and ok: {release_audit}"
    );
    env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(installed(&double, "EPIC06").as_deref(), Some("1.2.0.0"));

    // Production refuses a feature-branch bundle before any HTTP call.
    let feature = release(&env, "1.2.1", "feature-branch");
    double.clear_journal();
    let refused = env.fails(
        4,
        &[
            "--yes",
            "deploy",
            feature.to_str().unwrap(),
            "--env",
            "prod",
        ],
    );
    assert!(
        refused["message"]
            .as_str()
            .unwrap()
            .contains("refused by policy"),
        "{refused}"
    );
    assert!(
        double.journal().is_empty(),
        "no HTTP call: {:?}",
        double.journal_routes()
    );

    // dev -> test -> prod: the same bundle installs into each company.
    let id1 = id_of(&env, &v1);
    env.json(&["promote", &id1, "--to", "test"]);
    assert_eq!(installed(&double, "EPIC05").as_deref(), Some("1.2.0.0"));
    double.clear_journal();
    env.json(&["--yes", "promote", &id1, "--to", "prod"]);
    assert_eq!(installed(&double, "EPIC07").as_deref(), Some("1.2.0.0"));
    let prod = calls(&double, "EPIC07");
    let install = prod.iter().position(|c| c.ends_with("/Install")).unwrap();
    let planned = prod
        .iter()
        .position(|c| c.ends_with("/GetInstallSettings"))
        .unwrap();
    assert!(planned < install, "planned, then installed: {prod:?}");
    assert!(
        prod[install + 1..]
            .iter()
            .any(|c| c.ends_with("/GetInstalledSolutions")),
        "health reads the installed version: {prod:?}"
    );
    assert_eq!(
        prod.iter().filter(|c| c.ends_with("/Install")).count(),
        1,
        "{prod:?}"
    );

    // A second release, then a rollback that reinstalls the first package.
    bump_version(&double, "1.3.0.0");
    let v2 = release(&env, "1.3.0", "release-tag");
    env.json(&["deploy", v2.to_str().unwrap(), "--env", "dev"]);
    let id2 = id_of(&env, &v2);
    env.json(&["promote", &id2, "--to", "test"]);
    env.json(&["--yes", "promote", &id2, "--to", "prod"]);
    assert_eq!(installed(&double, "EPIC07").as_deref(), Some("1.3.0.0"));
    env.json(&["--yes", "--env", "prod", "rollback"]);
    assert_eq!(
        installed(&double, "EPIC07").as_deref(),
        Some("1.2.0.0"),
        "rolled back"
    );

    // No credential value in the records, the bundles (unpacked: they are
    // compressed), or what was sent.
    let mut seen = String::new();
    all_text(env.home(), &mut seen);
    for bundle in [&v1, &v2] {
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("tar")
            .arg("xzf")
            .arg(bundle)
            .arg("-C")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let before = seen.len();
        all_text(dir.path(), &mut seen);
        assert!(
            seen[before..].contains("CustTracking"),
            "the bundle was unpacked and read"
        );
    }
    for e in double.journal() {
        seen.push_str(&format!(
            "{} {:?} {:?} {}\n",
            e.path, e.query, e.call_settings, e.body
        ));
    }
    for value in [API_KEY, PASSWORD] {
        assert!(!seen.contains(value), "a credential value leaked: {value}");
    }
}

/// A release is refused, and nothing written, when the pre-flight fails;
/// production confirms the build before the pack runs; a dry run builds
/// nothing.
#[test]
fn a_release_needs_a_clean_preflight_and_production_confirms_it() {
    let (env, double) = ladder();
    let out = env.home().join("broken.tgz");
    let args = |e: &'static str, out: &Path| -> Vec<String> {
        [
            "--json",
            "--env",
            e,
            "bundle",
            "build",
            "--from-kinetic",
            "CustTracking",
            "--name",
            "custtracking",
            "--version",
            "1.2.0",
            "--source",
            "release-tag",
            "--ref",
            "v1.2.0",
            "--out",
        ]
        .iter()
        .map(|s| s.to_string())
        .chain([out.to_str().unwrap().to_string()])
        .collect()
    };
    let run = |a: Vec<String>| {
        let a: Vec<&str> = a.iter().map(String::as_str).collect();
        env.run(&a)
    };

    double.clear_journal();
    let dry = run([args("dev", &out), vec!["--dry-run".into()]].concat());
    assert_eq!(dry.code, 0, "{}", dry.stderr);
    assert_eq!(dry.envelope()["result"]["dry_run"], true);
    assert!(!out.exists(), "a dry run wrote the bundle");
    assert!(
        !double.journal().iter().any(|e| e.mutates()),
        "a dry run built: {:?}",
        double.journal_routes()
    );

    // An item of the solution is gone from dev: the build reports errors.
    double
        .remove_ud_field("EPIC06", "Customer_UD", "TrackSince_c")
        .unwrap();
    let failed = run(args("dev", &out));
    assert_eq!(failed.code, 5, "{}", failed.stdout);
    let err = &failed.envelope()["error"];
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the pre-flight of CustTracking built in company EPIC06 failed"),
        "{err}"
    );
    assert!(
        err["message"].as_str().unwrap().contains("TrackSince_c"),
        "the problem is named: {err}"
    );
    assert_eq!(err["details"]["preflight"]["ok"], false, "{err}");
    assert_eq!(
        err["hint"],
        "fix the solution in company EPIC06, then see the build's records: envpack --env dev kinetic solutions build CustTracking"
    );
    assert!(!out.exists(), "a failed build was released");

    // Production asks before the build; without a terminal or --yes it
    // refuses, and the pack never ran.
    double.clear_journal();
    let prod = run(args("prod", &env.home().join("prod.tgz")));
    assert_eq!(prod.code, 4, "{}", prod.stdout);
    assert!(double.journal().is_empty(), "{:?}", double.journal_routes());
}

#[test]
fn an_install_conflict_follows_the_environment_policy_and_is_audited() {
    let (env, double) = ladder();
    let v1 = release(&env, "1.2.0", "release-tag");
    double
        .put_layer(
            "EPIC06",
            "T_EPIC06",
            "Erp.UI.CustomerEntry",
            "CustTracking",
            json!({"marker": "theirs"}),
        )
        .unwrap();
    let conflict = || InstallOutcome::LayerConflict {
        form: ConflictForm::Identifier,
        app: "Erp.UI.CustomerEntry".into(),
        layer: "CustTracking".into(),
        type_code: "KNTCCustLayer".into(),
        as_http_error: false,
    };
    // The plan predicts the conflict and says what the policy will do.
    double.clear_journal();
    let planned = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev", "--dry-run"]);
    let shown = planned.to_string();
    assert!(
        shown.contains("may conflict: ") && shown.contains("the policy `fail` stops the install"),
        "{planned}"
    );
    assert!(shown.contains("CustTracking"), "{planned}");
    assert!(
        !double.journal().iter().any(|e| e.mutates()),
        "{:?}",
        double.journal_routes()
    );
    double.script_install(Some("EPIC06"), conflict());
    let failed = env.fails(9, &["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    assert!(
        failed["message"]
            .as_str()
            .unwrap()
            .contains("Erp.UI.CustomerEntry~CustTracking~KNTCCustLayer"),
        "{failed}"
    );
    assert!(
        !calls(&double, "EPIC06")
            .iter()
            .any(|c| c.contains("DeleteLayer"))
    );

    env.json(&[
        "env",
        "policy",
        "dev",
        "--layer-conflicts",
        "export-clear-and-retry-once",
    ]);
    double.script_install(Some("EPIC06"), conflict());
    double.clear_journal();
    let done = env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    assert_eq!(done["revision"]["state"], "ready", "{done}");
    let routes = calls(&double, "EPIC06");
    let at = |m: &str| routes.iter().position(|c| c.ends_with(m)).unwrap();
    assert!(
        at("/Install") < at("MetaFXSvc/GetApp")
            && at("MetaFXSvc/GetApp") < at("MetaFXSvc/DeleteLayer"),
        "{routes:?}"
    );
    assert_eq!(
        routes.iter().filter(|c| c.ends_with("/Install")).count(),
        2,
        "retried once: {routes:?}"
    );
    let audit = env.json(&["--env", "dev", "audit"]);
    let verbs: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["verb"].as_str())
        .filter(|v| v.starts_with("kinetic."))
        .map(str::to_string)
        .collect();
    for want in [
        "kinetic.layer.export",
        "kinetic.layer.clear",
        "kinetic.install.retry",
    ] {
        assert!(verbs.iter().any(|v| v == want), "{want} in {verbs:?}");
    }
}

/// Acceptance 5: reality of a Kinetic environment is the pack's inventory.
/// In sync after envpack's own install; a layer changed and a UD field
/// added directly on the server are drift on the next observation, and
/// `history` names when each first appeared.
#[test]
fn ui_edits_on_the_server_are_drift_with_history() {
    let (env, double) = ladder();
    let v1 = release(&env, "1.2.0", "release-tag");
    env.json(&["deploy", v1.to_str().unwrap(), "--env", "dev"]);
    let first = env.json(&["observe", "--env", "dev"]);
    assert_eq!(first["state"], "in-sync", "{first}");

    double
        .edit_layer("EPIC06", "Erp.UI.CustomerEntry", "CustTracking", None)
        .unwrap();
    double
        .set_ud_field("EPIC06", "Customer_UD", json!({"FieldName": "AddedInUi_c"}))
        .unwrap();
    let r = env.run(&["--json", "drift", "--env", "dev"]);
    assert_ne!(r.code, 0, "drift is reported: {}", r.stdout);
    let text = r.envelope().to_string();
    let layer = "kinetic/layer/Erp.UI.CustomerEntry~CustTracking~KNTCCustLayer~EPIC06";
    let field = "kinetic/ud-field/Customer_UD.AddedInUi_c";
    // The edited layer was seen before (as installed) and again as edited;
    // the added field only since the edit.
    for (key, versions) in [(layer, 2), (field, 1)] {
        assert!(text.contains(&format!("file:{key}")), "{key} in {text}");
        let history = env.json(&["history", key, "--env", "dev"]);
        let seen = history["seen"].as_array().unwrap();
        assert_eq!(seen.len(), versions, "{history}");
        let newest = seen
            .iter()
            .map(|s| s["first_seen"].as_str().unwrap())
            .max()
            .unwrap();
        assert!(newest >= first["at"].as_str().unwrap(), "{history}");
    }
}
