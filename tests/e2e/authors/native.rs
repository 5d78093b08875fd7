//! Plain `cargo test` in a generated pack crate runs the pack's logic on
//! the build machine, against the SDK's fake host: a scripted HTTP response
//! and a secret reach the pack, and a test that expects otherwise fails.

use envpack_e2e::{Env, repo_root};

use super::{BIN, cargo_test, edit, pack_build, try_cargo_test};

#[test]
fn cargo_test_runs_pack_logic_natively_with_the_fake_host() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    let target = repo_root().join("target/e2e-scaffold");
    env.json(&[
        "pack",
        "new",
        "probe",
        "--slot",
        "command",
        "--namespace",
        "acme",
        "--dir",
        work.path().to_str().unwrap(),
    ]);
    let krate = work.path().join("probe");
    let cargo = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains("[dev-dependencies]") && cargo.contains(r#"features = ["testing"]"#),
        "the fake host is a dev-dependency: {cargo}"
    );

    // As generated: both tests pass, natively (no rust-lld error).
    let out = cargo_test(&krate, &target);
    for test in [
        "tests::info_counts_runs_in_kv ... ok",
        "tests::status_sends_the_token_and_reports_the_answer ... ok",
    ] {
        assert!(out.contains(test), "{test} missing:\n{out}");
    }

    // A native link of the cdylib itself (what `cargo build`, and
    // `cargo test` of a crate that is also an rlib, do) works too: the
    // component glue, whose symbol names rust-lld's version script cannot
    // hold, is not emitted outside wasm32.
    let out = std::process::Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--offline", "--target-dir"])
        .arg(&target)
        .current_dir(&krate)
        .env_remove("CARGO_BUILD_TARGET")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "native cargo build failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The scripted response is what the pack reports: script another and
    // the test's expectation fails, naming what the pack saw.
    let lib = krate.join("src/lib.rs");
    edit(&lib, r#"200, "all good\n""#, r#"200, "degraded\n""#);
    let (ok, out) = try_cargo_test(&krate, &target);
    assert!(!ok, "a changed response must fail the test:\n{out}");
    assert!(
        out.contains("https://api.example.com/status: degraded"),
        "{out}"
    );
    edit(&lib, r#"200, "degraded\n""#, r#"200, "all good\n""#);

    // The secret is what the host attached: give another and the header
    // check fails, showing the token the pack's request carried.
    edit(
        &lib,
        r#".secret("API_TOKEN", "s3cr3t")"#,
        r#".secret("API_TOKEN", "other")"#,
    );
    let (ok, out) = try_cargo_test(&krate, &target);
    assert!(!ok, "a changed secret must fail the test:\n{out}");
    assert!(out.contains("Bearer other"), "{out}");

    // The same crate, unchanged but for that edit, still builds for wasm32
    // (the testing feature is a dev-dependency only) and its pack file
    // carries no fake host.
    let built = pack_build(&env, &krate, &target);
    let bytes = std::fs::read(built["path"].as_str().unwrap()).unwrap();
    let has = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
    assert!(!has(b"FakeHost"), "the pack file contains the fake host");
}
