//! Issue 14, item 4: `envpack pack test` conformance suites.
//!
//! Every first-party pack (the ones embedded in the binary, installed by
//! `env init`) and every test pack that fills a slot passes its suite; the
//! deliberately broken packs (`tests/packs/conformance-broken-*`, whose
//! config key `bug` picks the one rule each breaks) fail exactly the case
//! of that rule, with a message saying what was observed.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use envpack_e2e::{Env, build_pack};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// The cases of a `pack test --json` result or failure envelope.
fn cases(result: &Value) -> Vec<Value> {
    result["cases"].as_array().unwrap().clone()
}

fn failed(result: &Value) -> Vec<String> {
    cases(result)
        .iter()
        .filter(|c| c["status"] == "fail")
        .map(|c| {
            format!(
                "{}/{}",
                c["suite"].as_str().unwrap(),
                c["case"].as_str().unwrap()
            )
        })
        .collect()
}

/// Runs `pack test` and returns the result, asserting it passed.
fn passes(env: &Env, args: &[&str]) -> Value {
    let mut all = vec!["pack", "test"];
    all.extend_from_slice(args);
    let result = env.json(&all);
    assert_eq!(result["failed"], 0, "{args:?}: {:?}", failed(&result));
    assert!(result["passed"].as_u64().unwrap() > 0, "{result}");
    for c in cases(&result) {
        assert_eq!(c["ok"], true, "{c}");
        for field in ["suite", "case", "rule", "observed"] {
            assert!(!c[field].as_str().unwrap().is_empty(), "{field} of {c}");
        }
    }
    result
}

#[test]
fn every_first_party_pack_passes_its_suite() {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    // Every embedded pack is covered here or, for the Kubernetes deployer
    // and the Kinetic pack, against their doubles below; the Redis state
    // pack against a real server in redis.rs, the sealed secrets pack (it
    // needs an identity and recipients) in sealed.rs.
    let installed: Vec<String> = env
        .json(&["pack", "list"])
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            p["descriptor"]
                .as_str()
                .unwrap()
                .split('@')
                .next()
                .unwrap()
                .to_string()
        })
        .collect();
    for p in &installed {
        assert!(
            [
                "greentic.state.fs",
                "greentic.secrets.dev-store",
                "greentic.telemetry.stdout",
                "greentic.deployer.local-process",
                "greentic.deployer.k8s",
                "greentic.kinetic.rest",
                "greentic.state.redis",
                "greentic.secrets.sealed"
            ]
            .contains(&p.as_str()),
            "first-party pack {p} has no conformance test here"
        );
    }
    for (pack, suites, at_least) in [
        ("greentic.state.fs", vec!["state"], 12),
        ("greentic.secrets.dev-store", vec!["secrets"], 8),
        (
            "greentic.telemetry.stdout",
            vec!["telemetry", "commands"],
            9,
        ),
        ("greentic.deployer.local-process", vec!["deployer"], 15),
    ] {
        let result = passes(&env, &[pack]);
        assert_eq!(result["suites"], serde_json::json!(suites), "{pack}");
        assert_eq!(result["skipped"], 0, "{pack}: {result}");
        assert!(cases(&result).len() >= at_least, "{pack}: {result}");
        assert!(result["pack"].as_str().unwrap().starts_with(pack));
    }
    // The local-process deployer really ran a revision and stopped it.
    let deployer = passes(&env, &["greentic.deployer.local-process"]);
    let observe = cases(&deployer)
        .into_iter()
        .find(|c| c["case"] == "observe-reports-revision")
        .unwrap();
    assert!(
        observe["observed"]
            .as_str()
            .unwrap()
            .contains("conformance-r1 running"),
        "{observe}"
    );
}

/// The Kubernetes deployer against the Kubernetes API double: its server,
/// namespace and token given as config and a secret, the image as a bundle
/// attribute, exactly as an operator binds it.
#[test]
fn the_kubernetes_deployer_passes_against_the_api_double() {
    use envpack_e2e::k8s_double::{K8sDouble, Options};
    let double = K8sDouble::start(Options {
        rollout_delay: std::time::Duration::from_millis(50),
        namespaces: vec!["dev".into()],
        ..Options::default()
    })
    .unwrap();
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let server = format!("server={}", double.base_url());
    let token = format!("K8S_TOKEN={}", double.token());
    let image = format!("image=registry.example/web@sha256:{}", "a".repeat(64));
    let result = passes(
        &env,
        &[
            "greentic.deployer.k8s",
            "--config",
            &server,
            "--config",
            "namespace=dev",
            "--secret",
            &token,
            "--attr",
            &image,
        ],
    );
    assert_eq!(result["skipped"], 0, "{result}");
    assert_eq!(cases(&result).len(), 15, "{result}");
    // Without the token the double refuses every call: the suite says so.
    let err = env.fails(
        10,
        &[
            "pack",
            "test",
            "greentic.deployer.k8s",
            "--config",
            &server,
            "--config",
            "namespace=dev",
            "--attr",
            &image,
        ],
    );
    assert!(
        failed(&err["details"]["result"]).contains(&"deployer/apply-applies-plan".to_string()),
        "{err}"
    );
}

#[test]
fn test_packs_that_fill_slots_pass() {
    let env = Env::new(BIN);
    for name in [
        "test-deployer",
        "scripted-deployer",
        "bench-pack",
        "conformance-broken-state",
        "conformance-broken-deployer",
        "legacy-deployer-v01",
    ] {
        let file = build_pack(BIN, name);
        passes(&env, &[file.to_str().unwrap()]);
    }
    // The bench pack prints no events, so order cannot be observed: said so.
    let bench = passes(&env, &[build_pack(BIN, "bench-pack").to_str().unwrap()]);
    let skipped: Vec<Value> = cases(&bench)
        .into_iter()
        .filter(|c| c["status"] == "skip")
        .collect();
    assert_eq!(skipped.len(), 3, "{bench}");
    assert!(
        skipped[0]["observed"]
            .as_str()
            .unwrap()
            .contains("cannot be observed")
    );
}

/// acme.state.memory keeps entries in kv, whose 1 MiB value limit leaves no
/// room for its 8-byte header: the one case it fails, and the suite says so.
#[test]
fn a_kv_backed_state_pack_fails_only_on_values_kv_cannot_hold() {
    let env = Env::new(BIN);
    let file = build_pack(BIN, "acme-state-memory");
    let err = env.fails(10, &["pack", "test", file.to_str().unwrap()]);
    let result = &err["details"]["result"];
    assert_eq!(failed(result), ["state/large-values"]);
    let case = cases(result)
        .into_iter()
        .find(|c| c["status"] == "fail")
        .unwrap();
    assert!(
        case["observed"]
            .as_str()
            .unwrap()
            .contains("the limit is 1048576"),
        "{case}"
    );
    assert_eq!(err["kind"], "checks-failed");
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("state/large-values"),
        "{err}"
    );
}

/// Runs the broken pack `name` once per bug and checks that exactly the
/// matching case fails, naming its rule, with `observed` saying what the
/// pack did.
fn each_bug_fails_its_case(name: &str, bugs: &[(&str, &str, &str)]) {
    let env = Env::new(BIN);
    let file = build_pack(BIN, name);
    let file = file.to_str().unwrap();
    for (bug, case, observed) in bugs {
        let config = format!("bug={bug}");
        let err = env.fails(10, &["pack", "test", file, "--config", &config]);
        let result = &err["details"]["result"];
        // `suite/case` names a case of another suite than the slot's (the
        // commands suite).
        let (suite, case) = match case.split_once('/') {
            Some((suite, case)) => (suite, case),
            None => (result["suites"][0].as_str().unwrap(), *case),
        };
        assert_eq!(failed(result), [format!("{suite}/{case}")], "bug {bug}");
        let c = cases(result)
            .into_iter()
            .find(|c| c["suite"] == suite && c["case"] == case)
            .unwrap();
        assert_eq!(c["ok"], false);
        assert!(!c["rule"].as_str().unwrap().is_empty(), "{c}");
        let seen = c["observed"].as_str().unwrap();
        assert!(
            seen.contains(observed),
            "bug {bug}: observed {seen:?}, expected it to say {observed:?}"
        );
        // No other case was skipped to hide the bug.
        assert_eq!(result["skipped"], 0, "bug {bug}: {result}");
    }
}

#[test]
fn a_state_pack_with_one_bug_fails_exactly_its_case() {
    each_bug_fails_its_case(
        "conformance-broken-state",
        &[
            (
                "get-missing",
                "get-missing-none",
                "get returned generation 0, value \"\"",
            ),
            (
                "first-generation",
                "generation-starts-at-1",
                "the first put returned generation 0",
            ),
            (
                "no-increment",
                "generation-increases",
                "returned generations [1, 1, 1]",
            ),
            (
                "absent-ignored",
                "expect-absent",
                "put absent on an existing key returned ok(",
            ),
            (
                "generation-on-missing",
                "expect-generation",
                "of a missing key returned ok(",
            ),
            (
                "conflict-message",
                "conflict-names-generation",
                "the conflict for a key at generation 2 said",
            ),
            (
                "delete-missing-true",
                "delete",
                "delete of a deleted key returned true",
            ),
            (
                "delete-ignores-expect",
                "delete-expect",
                "delete expecting stale generation 1 (current 2) returned ok(true)",
            ),
            (
                "list-unsorted",
                "list-prefix-sorted",
                "\"conformance/list/z/1\", \"conformance/list/m\"",
            ),
            (
                "large-truncated",
                "large-values",
                "a 1 MiB value came back as 65536 bytes",
            ),
            (
                "stale-reads",
                "durable-across-instances",
                "instance B wrote generation 2; instance A then read generation 1, value \"from a\"",
            ),
            ("lost-update", "cas-across-instances", "(a lost update)"),
        ],
    );
}

#[test]
fn a_secrets_pack_with_one_bug_fails_exactly_its_case() {
    each_bug_fails_its_case(
        "conformance-broken-secrets",
        &[
            (
                "get-missing",
                "get-missing-none",
                "get returned 0 characters instead of none",
            ),
            (
                "crlf-to-lf",
                "round-trip",
                "conformance-lines: put 26 characters",
            ),
            (
                "put-keeps-first",
                "put-replaces",
                "after put old then new, get returned Some(\"old\")",
            ),
            ("list-unsorted", "list-names-sorted", "not sorted"),
            (
                "list-values",
                "list-never-values",
                "list returned entries holding values",
            ),
            (
                "delete-always-true",
                "delete",
                "delete of a deleted secret returned true",
            ),
            (
                "names-unchecked",
                "invalid-name",
                "put of name \"\" returned ok",
            ),
            (
                "memory-only",
                "durable-across-instances",
                "a new instance got None",
            ),
            // The commands every pack declares: the same pack, its commands
            // suite.
            (
                "command-bad-json",
                "commands/run:broken info",
                "its json output does not parse",
            ),
            (
                "unknown-ok",
                "commands/unknown-command",
                "succeeded with \"ok\"",
            ),
        ],
    );
}

#[test]
fn a_telemetry_pack_with_one_bug_fails_exactly_its_case() {
    each_bug_fails_its_case(
        "conformance-broken-telemetry",
        &[
            ("empty-fails", "empty-batch", "invalid-input"),
            ("reverse-batch", "emit-order", "out of order"),
            ("hold-singles", "order-across-emits", "out of order"),
            (
                "drop-debug",
                "levels-keep-severe",
                "but dropped the more severe debug",
            ),
        ],
    );
    // A pack refusing a level fails `levels-accepted`; the cases that read
    // what it printed for that batch cannot run, and say so.
    let env = Env::new(BIN);
    let file = build_pack(BIN, "conformance-broken-telemetry");
    let err = env.fails(
        10,
        &[
            "pack",
            "test",
            file.to_str().unwrap(),
            "--config",
            "bug=reject-trace",
        ],
    );
    let result = &err["details"]["result"];
    assert_eq!(failed(result), ["telemetry/levels-accepted"], "{result}");
    let skipped: Vec<String> = cases(result)
        .into_iter()
        .filter(|c| c["status"] == "skip")
        .map(|c| c["case"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(
        skipped,
        ["emit-order", "order-across-emits", "levels-keep-severe"],
        "{result}"
    );
}

#[test]
fn a_deployer_with_one_bug_fails_exactly_its_case() {
    each_bug_fails_its_case(
        "conformance-broken-deployer",
        &[
            (
                "describe-blank",
                "describe",
                "describe returned target \"\"",
            ),
            (
                "plan-duplicate-steps",
                "plan-steps",
                "step ids repeat: [\"record\", \"record\"]",
            ),
            ("health-fails", "health", "the call failed with unavailable"),
            (
                "plan-nondeterministic",
                "plan-deterministic",
                "two plans differ",
            ),
            (
                "plan-side-effect",
                "plan-pure",
                "plan changed [\"kv key \\\"planned/conformance-r1\\\"\"]",
            ),
            (
                "apply-extra-step",
                "apply-applies-plan",
                "plan steps [\"record\"], apply reported [\"record\", \"cleanup\"]",
            ),
            (
                "apply-not-repeatable",
                "apply-again",
                "applying conformance-r1 again: the call failed with conflict",
            ),
            (
                "observe-missing",
                "observe-reports-revision",
                "observe returned 0 revision(s)",
            ),
            (
                "traffic-generation",
                "traffic-report",
                "set-traffic of generation 1 reported generation 2",
            ),
            (
                "split-dishonest",
                "traffic-split-honest",
                "supports-traffic-split=false, but a 50/50 split returned ok(",
            ),
            (
                "teardown-leaves",
                "teardown-removes",
                "after teardown observe still reports",
            ),
            (
                "teardown-not-idempotent",
                "teardown-idempotent",
                "a second teardown returned not-found(",
            ),
            (
                "validate-side-effect",
                "validate-changes-nothing",
                "validate changed [\"kv key \\\"validated\\\"\"]",
            ),
            (
                "prepare-not-idempotent",
                "prepare-idempotent",
                "prepare again reported failed steps [\"environment: the environment's record already exists\"]",
            ),
            (
                "decommission-not-idempotent",
                "decommission-idempotent",
                "decommission again: the call failed with not-found",
            ),
        ],
    );
}

#[test]
fn people_get_a_table_ci_gets_junit() {
    let env = Env::new(BIN);
    let file = build_pack(BIN, "conformance-broken-state");
    let file = file.to_str().unwrap();
    let junit = env.home().join("conformance.xml");
    let run = env.run(&[
        "pack",
        "test",
        file,
        "--config",
        "bug=list-unsorted",
        "--junit",
        junit.to_str().unwrap(),
    ]);
    assert_eq!(run.code, 10, "{}", run.stderr);
    assert!(
        run.stderr.contains("list-prefix-sorted         FAIL"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("FAIL state/list-prefix-sorted\n  rule:     list returns exactly the keys starting with the prefix, sorted"), "{}", run.stderr);
    assert!(
        run.stderr.contains("11 passed, 1 failed, 0 skipped"),
        "{}",
        run.stderr
    );
    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains("<testsuite name=\"state\" tests=\"12\" failures=\"1\" skipped=\"0\""),
        "{xml}"
    );
    assert!(xml.contains("<testcase classname=\"acme.state.broken.state\" name=\"list-prefix-sorted\">\n      <failure message=\"list returns exactly"), "{xml}");
    assert_eq!(xml.matches("<testcase ").count(), 12, "{xml}");

    // A passing run writes the report on stdout and exits 0.
    let ok = env.ok(&["pack", "test", file]);
    assert!(ok.contains("12 passed, 0 failed, 0 skipped"), "{ok}");
}

#[test]
fn suites_are_chosen_by_slot_and_refused_for_another_slot() {
    let env = Env::new(BIN);
    let file = build_pack(BIN, "scripted-deployer");
    let file = file.to_str().unwrap();
    let only = passes(&env, &[file, "--slot", "commands"]);
    assert_eq!(only["suites"], serde_json::json!(["commands"]));
    assert!(
        cases(&only)
            .iter()
            .any(|c| c["case"] == "run:scripted kv-fill"),
        "{only}"
    );
    let err = env.fails(2, &["pack", "test", file, "--slot", "state"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("fills the deployer slot, so the state suite cannot run on it"),
        "{err}"
    );
    // It runs the pack's code against whatever its settings point at.
    let dry = env.run(&["--dry-run", "pack", "test", file]);
    assert_eq!(dry.code, 2, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("pack test cannot be planned"),
        "{}",
        dry.stderr
    );
    let err = env.fails(2, &["pack", "test", file, "--slot", "kinetics"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("there is no conformance suite \"kinetics\""),
        "{err}"
    );
}

/// A crate directory is built first, like `pack build`.
#[test]
fn a_crate_directory_is_built_then_tested() {
    let env = Env::new(BIN);
    let dir = envpack_e2e::repo_root().join("tests/packs/bench-pack");
    let target = envpack_e2e::repo_root().join("tests/packs/target");
    let result = passes(
        &env,
        &[
            dir.to_str().unwrap(),
            "--target-dir",
            target.to_str().unwrap(),
        ],
    );
    assert!(
        result["pack"]
            .as_str()
            .unwrap()
            .starts_with("acme.telemetry.bench@"),
        "{result}"
    );
}

/// `pack new` generates, for every slot and for a command-only pack, a crate
/// that passes its suites as generated.
#[test]
fn every_generated_pack_passes_its_suite() {
    let env = Env::new(BIN);
    let dir = env.home().join("crates");
    std::fs::create_dir_all(&dir).unwrap();
    let sdk = envpack_e2e::repo_root().join("sdk");
    let target = envpack_e2e::repo_root().join("tests/packs/target");
    for slot in ["state", "secrets", "telemetry", "deployer", "command"] {
        let name = format!("gen-{slot}");
        env.json(&[
            "pack",
            "new",
            &name,
            "--slot",
            slot,
            "--dir",
            dir.to_str().unwrap(),
            "--sdk-path",
            sdk.to_str().unwrap(),
        ]);
        let crate_dir = dir.join(&name);
        let result = passes(
            &env,
            &[
                crate_dir.to_str().unwrap(),
                "--target-dir",
                target.to_str().unwrap(),
            ],
        );
        // A command-only pack has no slot suite: its commands are its
        // contract.
        let suites = if slot == "command" {
            serde_json::json!(["commands"])
        } else {
            serde_json::json!([slot, "commands"])
        };
        assert_eq!(result["suites"], suites, "{result}");
    }
}

/// The Kinetic pack against the Kinetic double the suite starts itself:
/// no settings given, as a third party runs `pack test` on its own pack.
/// Both suites run against that double: the kinetic slot's and the
/// commands (every mutating one with `--dry-run`).
#[test]
fn the_kinetic_pack_passes_against_the_suites_own_double() {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let result = passes(&env, &["greentic.kinetic.rest"]);
    assert_eq!(
        result["suites"],
        serde_json::json!(["kinetic", "commands"]),
        "{result}"
    );
    assert_eq!(result["skipped"], 0, "{result}");
    let kinetic: Vec<String> = cases(&result)
        .iter()
        .filter(|c| c["suite"] == "kinetic")
        .map(|c| c["case"].as_str().unwrap().to_string())
        .collect();
    for case in KINETIC_CASES {
        assert!(kinetic.iter().any(|k| k == case), "{case} in {kinetic:?}");
    }
    let plan = cases(&result)
        .into_iter()
        .find(|c| c["case"] == "plan-install-pure")
        .unwrap();
    assert!(
        plan["observed"].as_str().unwrap().contains("none changing"),
        "{plan}"
    );
}

/// Every case of the kinetic suite.
const KINETIC_CASES: &[&str] = &[
    "describe",
    "inventory-stable",
    "inventory-sees-edits",
    "schema-diff",
    "schema-apply",
    "list-solutions",
    "backup-unknown-not-found",
    "backup-digest",
    "backup-recreate-round-trip",
    "recreate-existing-conflict",
    "remove-solution",
    "build-returns-package",
    "preflight-structured",
    "preflight-text-fallback",
    "plan-install-pure",
    "install-conflict-stops",
    "export-before-clear",
];

#[test]
fn a_kinetic_pack_with_one_bug_fails_exactly_its_case() {
    let bugs: &[(&str, &str, &str)] = &[
        (
            "describe-wrong-company",
            "describe",
            "describe returned company \"EPIC00\"",
        ),
        (
            "inventory-unstable",
            "inventory-stable",
            "two inventories of an unchanged target differ",
        ),
        (
            "inventory-layer-ids",
            "inventory-sees-edits",
            "the items that changed are []",
        ),
        (
            "schema-diff-writes",
            "schema-diff",
            "diff-schema asked the server to change: [\"Ice.BO.ZDataTableSvc/Update\"]",
        ),
        (
            "apply-reports-synced",
            "schema-apply",
            "fields were added, yet the report says the data model is in sync",
        ),
        ("list-unsorted", "list-solutions", "ids are not sorted"),
        (
            "backup-unknown-empty",
            "backup-unknown-not-found",
            "backup of an unknown id returned ok(",
        ),
        (
            "backup-digest-wrong",
            "backup-digest",
            "but the document's sha256 is",
        ),
        (
            "recreate-reports-empty",
            "backup-recreate-round-trip",
            "recreate returned CustTracking with 0 items",
        ),
        (
            "recreate-overwrites",
            "recreate-existing-conflict",
            "without replace returned ok(",
        ),
        (
            "remove-always-true",
            "remove-solution",
            "remove returned true, then true",
        ),
        ("build-no-hash", "build-returns-package", "returned no hash"),
        (
            "preflight-text-only",
            "preflight-structured",
            "judged by TextHeuristics",
        ),
        (
            "preflight-naive",
            "preflight-text-fallback",
            "\"Build finished: 4 items packed, 0 failed.\" was judged ok=false",
        ),
        (
            "plan-uploads",
            "plan-install-pure",
            "plan-install asked the server to change: [\"Ice.Lib.FileTransferSvc/UploadFile\"]",
        ),
        (
            "install-clears",
            "install-conflict-stops",
            "install made other changes than the install: [\"Ice.Lib.MetaFXSvc/DeleteLayer\"]",
        ),
        (
            "export-clears",
            "export-before-clear",
            "export-layer changed the target before clear-layer was called",
        ),
    ];
    assert_eq!(bugs.len(), KINETIC_CASES.len(), "one bug per case");
    each_bug_fails_its_case("conformance-broken-kinetic", bugs);
    // Without a bug it keeps every rule.
    let env = Env::new(BIN);
    let file = build_pack(BIN, "conformance-broken-kinetic");
    let result = passes(&env, &[file.to_str().unwrap()]);
    assert_eq!(result["suites"], serde_json::json!(["kinetic"]), "{result}");
}
