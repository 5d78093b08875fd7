//! Acceptance 1: back up, build, pre-flight, plan and install a solution
//! from the dev company into the prod company; the journal shows the calls
//! in order, and no credential value shows anywhere.

use super::setup::Kinetic;

#[test]
fn backup_build_preflight_plan_install_dev_to_prod() {
    let k = Kinetic::new();
    let listed = k.ok(&["solutions", "list", "--company", "EPIC06"]);
    let ids: Vec<&str> = listed["solutions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["CustTracking", "OrderFixes"]);
    k.double.clear_journal();

    let backup = k.ok(&["solutions", "backup", "CustTracking", "--company", "EPIC06"]);
    assert!(backup["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(backup["document"]["solution"], "CustTracking");
    assert!(
        !backup["document"]["tableset"]["EPSolutionDetail"]
            .as_array()
            .unwrap()
            .is_empty()
    );

    let built = k.ok(&["solutions", "build", "CustTracking", "--company", "EPIC06"]);
    assert_eq!(built["preflight"]["ok"], true, "{built}");
    assert_eq!(built["preflight"]["basis"], "structured");
    assert!(built["build"]["size"].as_u64().unwrap() > 0);

    let plan = k.ok(&[
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
        "--dry-run",
    ]);
    assert_eq!(plan["dry_run"], true);
    assert_eq!(plan["plan"]["solution"], "CustTracking");
    assert_eq!(plan["plan"]["package_digest"], built["build"]["digest"]);
    assert!(
        k.double
            .installs("EPIC07")
            .iter()
            .all(|r| r["SolutionID"] != "CustTracking"),
        "a dry run installed"
    );

    let done = k.ok(&[
        "solutions",
        "install",
        "CustTracking",
        "--from-company",
        "EPIC06",
    ]);
    assert_eq!(done["report"]["has_errors"], false, "{done}");
    assert_eq!(done["report"]["installed_version"], "1.2.0.0");
    assert!(
        k.double
            .installs("EPIC07")
            .iter()
            .any(|r| r["SolutionID"] == "CustTracking")
    );

    assert_eq!(
        k.calls(),
        [
            "EPIC06 Ice.BO.ExportPackageSvc/GetByID",
            "EPIC06 Ice.BO.ExportPackageSvc/GetSolutionItemsAsDynamicDataSet",
            "EPIC06 Ice.BO.ExportPackageSvc/GetBuildSettings",
            "EPIC06 Ice.BO.ExportPackageSvc/Build",
            "EPIC07 Ice.BO.ExportPackageSvc/GetInstallSettings",
            "EPIC07 Ice.BO.ExportPackageSvc/GetInstalledSolutions",
            "EPIC07 Ice.BO.ExportPackageSvc/ValidateInstallSettings",
            "EPIC07 Ice.BO.ExportPackageSvc/GetInstallSettings",
            "EPIC07 Ice.BO.ExportPackageSvc/GetInstalledSolutions",
            "EPIC07 Ice.BO.ExportPackageSvc/ValidateInstallSettings",
            "EPIC07 Ice.BO.ExportPackageSvc/Install",
        ]
    );
    // Company in the path and in CallSettings; the API key on every call.
    for e in k
        .double
        .journal()
        .iter()
        .filter(|e| e.service.as_deref() != Some("TokenResource.svc"))
    {
        let cs = e.call_settings.clone().unwrap_or_default();
        assert_eq!(cs["Company"].as_str(), e.company.as_deref(), "{e:?}");
        assert!(e.header_names.iter().any(|h| h == "x-api-key"));
    }
    k.assert_no_secret_leaked();
    k.assert_user_only_in_token_headers();
}

/// Servers with `BuildSolution` leave the package on the server; the pack
/// fetches it, its log and hash with `DownloadFile`, and judges the log
/// text when there is no structured result.
#[test]
fn build_solution_downloads_the_server_files() {
    let k = Kinetic::new();
    k.env.ok(&[
        "env",
        "config",
        "kin",
        "greentic.kinetic.rest",
        "build_method",
        "build-solution",
    ]);
    let built = k.ok(&["solutions", "build", "OrderFixes", "--company", "EPIC06"]);
    assert_eq!(built["build"]["source"], "server-files", "{built}");
    assert!(built["build"]["size"].as_u64().unwrap() > 0);
    assert!(built["preflight"]["ok"].is_boolean());
    let calls = k.calls();
    assert!(
        calls
            .iter()
            .any(|c| c.ends_with("ExportPackageSvc/BuildSolution")),
        "{calls:?}"
    );
    assert!(
        calls
            .iter()
            .filter(|c| c.ends_with("FileTransferSvc/DownloadFile"))
            .count()
            >= 1,
        "{calls:?}"
    );
    assert!(
        !calls.iter().any(|c| c.ends_with("ExportPackageSvc/Build")),
        "{calls:?}"
    );
}

/// Recreate from a backup, remove, and the dry runs that change nothing.
#[test]
fn recreate_and_remove_with_dry_runs() {
    let k = Kinetic::new();
    k.ok(&["solutions", "backup", "OrderFixes", "--company", "EPIC06"]);
    let plan = k.ok(&[
        "solutions",
        "recreate",
        "OrderFixes",
        "--from-company",
        "EPIC06",
        "--dry-run",
    ]);
    assert_eq!(plan["dry_run"], true);
    let made = k.ok(&[
        "solutions",
        "recreate",
        "OrderFixes",
        "--from-company",
        "EPIC06",
    ]);
    assert_eq!(made["solution"]["id"], "OrderFixes");
    let source = k.ok(&["solutions", "list", "--company", "EPIC06"]);
    let target = k.ok(&["solutions", "list"]);
    let digest = |v: &serde_json::Value| {
        v["solutions"]
            .as_array()
            .unwrap()
            .iter()
            .find(|s| s["id"] == "OrderFixes")
            .unwrap()["digest"]
            .clone()
    };
    assert_eq!(
        digest(&source),
        digest(&target),
        "the recreated definition is the same"
    );
    let (code, again) = k.run(&[
        "solutions",
        "recreate",
        "OrderFixes",
        "--from-company",
        "EPIC06",
    ]);
    assert_eq!(code, 5, "exists without --replace: {again}");
    k.double.clear_journal();
    let dry = k.ok(&["solutions", "remove", "OrderFixes", "--dry-run"]);
    assert_eq!(dry["removed"], false);
    assert!(!k.calls().iter().any(|c| c.ends_with("DeleteByID")));
    let gone = k.ok(&["solutions", "remove", "OrderFixes"]);
    assert_eq!(gone["removed"], true);
    // Mutating commands are audited by the host; dry runs are not.
    let audit = k.env.json(&["--env", "kin", "audit"]);
    let commands: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["verb"] == "pack.command")
        .map(|e| e["target"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        commands
            .iter()
            .filter(|t| t.starts_with("kinetic solutions remove"))
            .count(),
        2,
        "started and ended, not the dry run: {commands:?}"
    );
    assert!(
        commands
            .iter()
            .any(|t| t.starts_with("kinetic solutions recreate")),
        "{commands:?}"
    );
    assert_eq!(
        k.ok(&["solutions", "list"])["solutions"]
            .as_array()
            .unwrap()
            .len(),
        0
    );
}

/// A build changes the server, so `solutions build` is declared a mutating
/// command: on a production environment the host asks before the pack
/// runs (refused without a terminal or --yes, nothing sent), `--dry-run`
/// builds nothing, and a confirmed build is audited.
#[test]
fn a_build_is_a_mutation_the_host_gates() {
    let k = Kinetic::new();
    k.env.ok(&["env", "policy", "kin", "--production"]);
    k.double.clear_journal();
    let (code, refused) = k.run(&["solutions", "build", "CustTracking", "--company", "EPIC06"]);
    assert_eq!(code, 4, "{refused}");
    assert!(
        refused["error"]["message"]
            .as_str()
            .unwrap()
            .contains("production"),
        "{refused}"
    );
    assert!(
        k.double.journal().is_empty(),
        "refused before the pack ran: {:?}",
        k.double.journal_routes()
    );

    let dry = k.ok(&[
        "solutions",
        "build",
        "CustTracking",
        "--company",
        "EPIC06",
        "--dry-run",
    ]);
    assert_eq!(dry["dry_run"], true, "{dry}");
    assert_eq!(dry["plan"]["exists"], true, "{dry}");
    assert_eq!(k.changes(), Vec::<String>::new(), "a dry run built");

    let r = k.env.run(&[
        "--json",
        "--yes",
        "--env",
        "kin",
        "kinetic",
        "solutions",
        "build",
        "CustTracking",
        "--company",
        "EPIC06",
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        k.calls()
            .iter()
            .any(|c| c.ends_with("ExportPackageSvc/Build")),
        "{:?}",
        k.calls()
    );
    let audit = k
        .env
        .json(&["--env", "kin", "audit", "--verb", "pack.command"]);
    assert!(
        audit.as_array().unwrap().iter().any(|e| e["target"]
            .as_str()
            .unwrap()
            .starts_with("kinetic solutions build")),
        "{audit}"
    );
}
