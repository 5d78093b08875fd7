//! Reads the API version the SDK implements from the WIT package it binds
//! (`package greentic:envpack@X.Y.Z;` in `../wit/v<version>/`), so the stamp
//! the export macros place in every pack can never disagree with the WIT.

use std::path::Path;

/// The WIT folder `src/__wit.rs` generates its bindings from.
const WIT_DIR: &str = "../wit/v0.2.0";

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
    println!("cargo:rustc-env=ENVPACK_WIT_API_VERSION={version}");
}
