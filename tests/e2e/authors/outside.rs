//! `envpack-sdk` outside this repository: `cargo package -p envpack-sdk`
//! makes a self-contained crate (its WIT vendored), and a pack created in a
//! temporary directory, depending on nothing but the unpacked `.crate`,
//! passes `cargo test`, builds for wasm32-wasip2 and installs, binds and
//! runs with the real `envpack`.

use std::process::Command;

use envpack_e2e::{Env, repo_root};

use super::{BIN, cargo_test, pack_build};

#[test]
fn a_pack_outside_the_repository_uses_the_packaged_sdk() {
    let target = repo_root().join("target/e2e-scaffold");
    // Packaged and verified (built from the packaged files alone), offline.
    let out = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args([
            "package",
            "-p",
            "envpack-sdk",
            "--offline",
            "--allow-dirty",
            "--target-dir",
        ])
        .arg(&target)
        .current_dir(repo_root())
        .env("CARGO_TERM_COLOR", "never")
        .output()
        .unwrap();
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "cargo package failed:\n{log}");
    assert!(
        log.contains("Verifying envpack-sdk"),
        "not verified:\n{log}"
    );
    let sdk_toml = std::fs::read_to_string(repo_root().join("sdk/Cargo.toml")).unwrap();
    let version = sdk_toml
        .lines()
        .find_map(|l| l.strip_prefix("version = \""))
        .and_then(|r| r.split('"').next())
        .unwrap();
    let crate_file = target.join(format!("package/envpack-sdk-{version}.crate"));
    assert!(crate_file.is_file(), "{}", crate_file.display());

    // Unpacked far from the repository: nothing in it points back.
    let outside = tempfile::tempdir().unwrap();
    assert!(!outside.path().starts_with(repo_root()));
    let status = Command::new("tar")
        .arg("xzf")
        .arg(&crate_file)
        .arg("-C")
        .arg(outside.path())
        .status()
        .unwrap();
    assert!(status.success());
    let sdk = outside.path().join(format!("envpack-sdk-{version}"));
    assert!(
        sdk.join("wit/v0.2.0/worlds.wit").is_file(),
        "the WIT is vendored"
    );
    let packaged = std::fs::read_to_string(sdk.join("Cargo.toml")).unwrap();
    assert!(
        !packaged.contains("workspace = true") && !packaged.contains("../"),
        "the packaged manifest stands alone:\n{packaged}"
    );

    let env = Env::new(BIN);
    let made = env.json(&[
        "pack",
        "new",
        "outsider",
        "--slot",
        "command",
        "--namespace",
        "thirdparty",
        "--dir",
        outside.path().to_str().unwrap(),
        "--sdk-path",
        sdk.to_str().unwrap(),
    ]);
    assert_eq!(made["sdk_found"], "--sdk-path", "{made}");
    let krate = outside.path().join("outsider");
    let cargo = std::fs::read_to_string(krate.join("Cargo.toml")).unwrap();
    assert!(
        cargo.contains(&format!(
            r#"envpack-sdk = {{ version = "{version}", path = "../envpack-sdk-{version}" }}"#
        )),
        "{cargo}"
    );

    // Its unit tests pass natively with the packaged SDK's fake host.
    let tested = cargo_test(&krate, &target);
    assert!(tested.contains("test result: ok. 2 passed"), "{tested}");

    // It builds for wasm32-wasip2, installs, binds and runs.
    let built = pack_build(&env, &krate, &target);
    assert_eq!(built["manifest"]["sdk_version"], version, "{built}");
    env.json(&["pack", "install", built["path"].as_str().unwrap()]);
    env.json(&["env", "init", "dev"]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "command",
        "thirdparty.command.outsider@^0.1",
        "--grant-requested",
    ]);
    let said = env.ok(&["--env", "dev", "outsider", "info"]);
    assert!(
        said.contains("thirdparty.command.outsider has run 1 time(s)"),
        "{said}"
    );
}
