//! Reads the API version the SDK implements from the WIT package it binds
//! (`package greentic:envpack@X.Y.Z;` in `wit/v<version>/`, vendored in the
//! crate so it builds outside the envpack repository), so the stamp the
//! export macros place in every pack can never disagree with the WIT.
//!
//! Inside the repository the vendored copy must equal the frozen
//! `../wit/v<version>/` it was copied from; a drift fails the build and
//! says how to copy it again.

use std::path::Path;

/// The WIT folder `src/__wit.rs` generates its bindings from.
const WIT_DIR: &str = "wit/v0.2.0";

/// The repository's copy of the same folder, when the SDK is built in the
/// repository.
const REPO_WIT_DIR: &str = "../wit/v0.2.0";

fn main() {
    let dir = Path::new(WIT_DIR);
    println!("cargo:rerun-if-changed={WIT_DIR}");
    let mut version = None;
    let entries = std::fs::read_dir(dir)
        .unwrap_or_else(|e| panic!("cannot read the WIT folder {}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "wit") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        for line in text.lines() {
            if let Some(rest) = line.trim().strip_prefix("package greentic:envpack@") {
                version = Some(rest.trim_end_matches(';').trim().to_string());
            }
        }
    }
    let version = version.unwrap_or_else(|| {
        panic!(
            "no `package greentic:envpack@<version>;` line in {}",
            dir.display()
        )
    });
    let folder = dir.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    assert_eq!(
        folder,
        format!("v{version}"),
        "the WIT folder {WIT_DIR} declares package version {version}; folder and package must agree"
    );
    check_vendored_copy(dir);
    println!("cargo:rustc-env=ENVPACK_WIT_API_VERSION={version}");
}

/// Inside the repository (its `wit/` next to `sdk/`, and the repository's
/// `Cargo.toml` naming `sdk` a member), every `.wit` file of the vendored
/// copy equals the repository's and none is missing.
fn check_vendored_copy(vendored: &Path) {
    let repo = Path::new(REPO_WIT_DIR);
    let in_repo = std::fs::read_to_string("../Cargo.toml")
        .is_ok_and(|t| t.contains("[workspace]") && t.contains("\"sdk\""));
    if !in_repo || !repo.is_dir() {
        return;
    }
    println!("cargo:rerun-if-changed={REPO_WIT_DIR}");
    let names = |d: &Path| -> Vec<String> {
        let mut v: Vec<String> = std::fs::read_dir(d)
            .map(|r| {
                r.flatten()
                    .filter_map(|e| e.file_name().into_string().ok())
                    .filter(|n| n.ends_with(".wit"))
                    .collect()
            })
            .unwrap_or_default();
        v.sort();
        v
    };
    let (ours, theirs) = (names(vendored), names(repo));
    let differs = ours != theirs
        || theirs
            .iter()
            .any(|n| std::fs::read(vendored.join(n)).ok() != std::fs::read(repo.join(n)).ok());
    assert!(
        !differs,
        "sdk/{WIT_DIR} is not a copy of {}: the SDK vendors the frozen WIT it binds; help: rm -r sdk/{WIT_DIR} && cp -r wit/{} sdk/wit/",
        &REPO_WIT_DIR[3..],
        folder_name(repo)
    );
}

fn folder_name(p: &Path) -> String {
    p.file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string()
}
