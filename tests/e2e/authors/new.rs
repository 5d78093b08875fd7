//! `envpack pack new`: for every slot and for a command-only pack, the
//! generated crate passes plain `cargo test` (natively, with the SDK's fake
//! host), builds, installs, binds into an environment and runs its command
//! as generated.

use std::path::Path;

use envpack_e2e::{Env, repo_root};

use super::BIN;

#[test]
fn a_new_pack_of_every_slot_builds_binds_and_runs() {
    let env = Env::new(BIN);
    let work = tempfile::tempdir().unwrap();
    let dir = work.path().to_str().unwrap();
    let target = repo_root().join("target/e2e-scaffold");
    env.json(&["env", "init", "dev"]);
    for (slot, says) in [
        ("state", "holds 0 key(s)"),
        ("secrets", "keeps 0 secret(s)"),
        ("telemetry", "hello from acme.telemetry.my-telemetry"),
        ("deployer", "records revisions"),
        ("command", "has run 1 time(s)"),
    ] {
        let name = format!("my-{slot}");
        let made = env.json(&[
            "pack",
            "new",
            &name,
            "--slot",
            slot,
            "--namespace",
            "acme",
            "--dir",
            dir,
        ]);
        let crate_dir = Path::new(dir).join(&name);
        for file in [
            "Cargo.toml",
            "pack.toml",
            "src/lib.rs",
            "README.md",
            ".gitignore",
        ] {
            assert!(crate_dir.join(file).is_file(), "{file} missing: {made}");
        }
        let lib = std::fs::read_to_string(crate_dir.join("src/lib.rs")).unwrap();
        assert!(lib.contains("#[test]"), "no unit test in {name}");
        // Plain `cargo test`, natively: no rust-lld error, the unit tests
        // pass (the export macro compiles to nothing outside wasm32).
        let tested = super::cargo_test(&crate_dir, &target);
        assert!(tested.contains("test result: ok"), "{name}: {tested}");
        let built = env.json(&[
            "pack",
            "build",
            crate_dir.to_str().unwrap(),
            "--target-dir",
            target.to_str().unwrap(),
        ]);
        env.json(&["pack", "install", built["path"].as_str().unwrap()]);
        let descriptor = format!("acme.{slot}.{name}@0.1.0");
        env.json(&["env", "bind", "dev", slot, &descriptor, "--grant-requested"]);

        let out = env.ok(&["--env", "dev", &name, "info"]);
        assert!(out.contains(says), "{name} info said: {out}");
    }

    // Inside this repository the crate depends on its sdk/ by a relative
    // path (no build needed to check that).
    let inside = repo_root().join("target/e2e-scaffold-inside");
    let _ = std::fs::remove_dir_all(&inside);
    let made = env.json(&[
        "pack",
        "new",
        "inside",
        "--slot",
        "state",
        "--dir",
        inside.to_str().unwrap(),
    ]);
    assert_eq!(
        made["sdk_found"], "the envpack checkout containing the new crate",
        "{made}"
    );
    let cargo = std::fs::read_to_string(inside.join("inside/Cargo.toml")).unwrap();
    assert!(
        cargo.contains(r#"envpack-sdk = { version = "0.1.0", path = "../../../sdk" }"#),
        "{cargo}"
    );
    std::fs::remove_dir_all(&inside).unwrap();

    // The directory exists now: a conflict, naming it.
    let error = env.fails(
        5,
        &["pack", "new", "my-state", "--slot", "state", "--dir", dir],
    );
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("already exists"),
        "{error}"
    );
    // An SDK path that holds no SDK is refused.
    let error = env.fails(
        2,
        &[
            "pack",
            "new",
            "other",
            "--slot",
            "state",
            "--dir",
            dir,
            "--sdk-path",
            dir,
        ],
    );
    assert!(
        error["message"].as_str().unwrap().contains("envpack-sdk"),
        "{error}"
    );
}
