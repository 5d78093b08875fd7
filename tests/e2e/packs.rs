//! Issue 2, acceptance 1: a third-party pack written only with the SDK is
//! built, inspected, installed, and its exports called through the host.

#![allow(clippy::unwrap_used)] // tests fail loudly by design

use envpack_e2e::{Env, build_pack};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

#[test]
fn third_party_pack_builds_inspects_installs_and_runs() {
    let file = build_pack(BIN, "acme-state-memory");
    let env = Env::new(BIN);

    let inspected = env.json(&["pack", "inspect", file.to_str().unwrap()]);
    assert_eq!(inspected["descriptor"], "acme.state.memory@1.2.0");
    assert_eq!(inspected["api_version"], "0.2.0");
    assert_eq!(inspected["capabilities"]["kv"], true);
    assert_eq!(inspected["commands"][0]["name"], "memory stats");
    // The component linker does not promise an export order.
    let mut exports: Vec<&str> = inspected["exports"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    exports.sort();
    assert_eq!(
        exports,
        [
            "greentic:envpack/command@0.2.0",
            "greentic:envpack/state@0.2.0"
        ]
    );

    let installed = env.json(&["pack", "install", file.to_str().unwrap()]);
    assert_eq!(installed[0]["outcome"], "installed");
    assert_eq!(installed[0]["digest"], inspected["digest"]);
    // Installing the same bytes again changes nothing.
    let again = env.json(&["pack", "install", file.to_str().unwrap()]);
    assert_eq!(again[0]["outcome"], "unchanged");

    let list = env.json(&["pack", "list"]);
    assert_eq!(list[0]["descriptor"], "acme.state.memory@1.2.0");

    // Exports called through the host, by requirement, on one instance.
    let out = env.json(&[
        "pack",
        "call",
        "acme.state.memory@^1",
        r#"put("greeting", [104, 105], none)"#,
        r#"put("greeting", [104, 105, 33], some(generation(1)))"#,
        r#"put("greeting", [0], some(generation(1)))"#,
        r#"get("greeting")"#,
        r#"command.run("memory stats", [])"#,
        "--grant-requested",
    ]);
    let results: Vec<&str> = out["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["result"].as_str().unwrap())
        .collect();
    assert_eq!(results[0], "ok(1)");
    assert_eq!(results[1], "ok(2)");
    assert!(results[2].starts_with("err(conflict("), "{}", results[2]);
    assert_eq!(
        results[3],
        "ok(some({value: [104, 105, 33], generation: 2}))"
    );
    assert!(results[4].contains("1 keys"), "{}", results[4]);

    // A later process sees the same data through the pack's private kv.
    let out = env.json(&[
        "pack",
        "call",
        "acme.state.memory",
        r#"get("greeting")"#,
        "--grant",
        "kv",
    ]);
    assert_eq!(
        out["calls"][0]["result"],
        "ok(some({value: [104, 105, 33], generation: 2}))"
    );

    // Without the grant the host import is denied with the capability named.
    let out = env.json(&["pack", "call", "acme.state.memory", r#"get("greeting")"#]);
    let denied = out["calls"][0]["result"].as_str().unwrap();
    assert!(
        denied.starts_with("err(denied(") && denied.contains("kv"),
        "{denied}"
    );
    assert_eq!(out["denials"].as_array().unwrap().len(), 1);
}
