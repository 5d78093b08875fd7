//! Builds the first-party packs in `packs/` for wasm32-wasip2 and embeds
//! them in the binary as the default environment's packs.
//!
//! Packs are built from source on every machine (no prebuilt binaries in the
//! repository), in a target directory of their own so this nested cargo never
//! waits on the lock of the build that runs this script.

use std::path::{Path, PathBuf};
use std::process::Command;

const TARGET: &str = "wasm32-wasip2";
/// The first pack of each slot is the one new environments bind; the rest
/// are installed too, for `env bind` (the Kubernetes deployer).
const PACKS: &[&str] = &[
    "deployer-local-process",
    "deployer-k8s",
    "secrets-dev-store",
    "telemetry-stdout",
    "state-fs",
    // Embedded and installed like the others, but bound to no slot by
    // default: operators bind it to Kinetic environments.
    "kinetic-rest",
    // Likewise: state on a Redis server, and secrets sealed with age, for
    // environments a team shares.
    "state-redis",
    "secrets-sealed",
];

fn main() {
    let manifest_dir = PathBuf::from(env("CARGO_MANIFEST_DIR"));
    let root = manifest_dir
        .parent()
        .expect("host/ has a parent")
        .to_path_buf();
    let out_dir = PathBuf::from(env("OUT_DIR"));
    for watched in [
        "packs",
        "sdk/src",
        "sdk/wit",
        "sdk/build.rs",
        "sdk/Cargo.toml",
        "wit",
    ] {
        println!("cargo:rerun-if-changed={}", root.join(watched).display());
    }
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=ENVPACK_SKIP_DEFAULT_PACKS");

    // Fuzzing builds (fuzz/.cargo/config.toml) exercise the parsers only;
    // they skip the nested wasm build and embed no default packs.
    if std::env::var_os("ENVPACK_SKIP_DEFAULT_PACKS").is_some_and(|v| v == "1") {
        let empty = "/// The default packs: none in this build (ENVPACK_SKIP_DEFAULT_PACKS=1).\npub const DEFAULT_PACKS: &[(&str, &[u8])] = &[];\n";
        std::fs::write(out_dir.join("default_packs.rs"), empty)
            .unwrap_or_else(|e| fail(&format!("cannot write default_packs.rs: {e}")));
        return;
    }

    ensure_target();
    let target_dir = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target"))
        .join("embedded-packs");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let status = Command::new(&cargo)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            TARGET,
            "--manifest-path",
        ])
        .arg(root.join("packs/Cargo.toml"))
        .arg("--target-dir")
        .arg(&target_dir)
        // Flags for the host build (coverage, sanitizers) must not reach
        // the wasm build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_TARGET")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("RUSTC_WRAPPER")
        .env_remove("RUSTC_WORKSPACE_WRAPPER")
        .status()
        .unwrap_or_else(|e| fail(&format!("cannot run cargo to build the default packs: {e}")));
    if !status.success() {
        fail(
            "building the default packs in packs/ for wasm32-wasip2 failed (see the errors above)",
        );
    }

    let mut generated = String::from(
        "/// The default packs: (pack id, pack file bytes).\npub const DEFAULT_PACKS: &[(&str, &[u8])] = &[\n",
    );
    for pack in PACKS {
        let dir = root.join("packs").join(pack);
        let component_path = target_dir
            .join(TARGET)
            .join("release")
            .join(format!("{}.wasm", pack.replace('-', "_")));
        let component = std::fs::read(&component_path)
            .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", component_path.display())));
        let pack_toml_path = dir.join("pack.toml");
        let pack_toml = envpack_manifest::PackToml::load(&pack_toml_path)
            .unwrap_or_else(|e| fail(&e.to_string()));
        let version = crate_version(&dir.join("Cargo.toml"));
        let api =
            envpack_manifest::read_api_stamp(&component).unwrap_or_else(|e| fail(&e.to_string()));
        let sdk =
            envpack_manifest::read_sdk_stamp(&component).unwrap_or_else(|e| fail(&e.to_string()));
        let manifest = pack_toml
            .to_manifest(&pack_toml_path, &version, api, sdk)
            .unwrap_or_else(|e| fail(&e.to_string()));
        let bytes = envpack_manifest::embed_manifest(&component, &manifest)
            .unwrap_or_else(|e| fail(&e.to_string()));
        let file = out_dir.join(format!("{}.wasm", manifest.descriptor.id()));
        std::fs::write(&file, bytes)
            .unwrap_or_else(|e| fail(&format!("cannot write {}: {e}", file.display())));
        generated.push_str(&format!(
            "    ({:?}, include_bytes!({:?})),\n",
            manifest.descriptor.id().to_string(),
            file.display().to_string()
        ));
    }
    generated.push_str("];\n");
    std::fs::write(out_dir.join("default_packs.rs"), generated)
        .unwrap_or_else(|e| fail(&format!("cannot write default_packs.rs: {e}")));
}

fn env(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| fail(&format!("{name} is not set")))
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

fn crate_version(cargo_toml: &Path) -> semver::Version {
    let text = std::fs::read_to_string(cargo_toml)
        .unwrap_or_else(|e| fail(&format!("cannot read {}: {e}", cargo_toml.display())));
    let value: toml::Value = toml::from_str(&text)
        .unwrap_or_else(|e| fail(&format!("{} is not valid TOML: {e}", cargo_toml.display())));
    value
        .get("package")
        .and_then(|p| p.get("version"))
        .and_then(|v| v.as_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| {
            fail(&format!(
                "{} has no literal [package] version",
                cargo_toml.display()
            ))
        })
}

/// The default packs need the wasm32-wasip2 standard library. Machines set
/// up with rustup but without the target get it added here, once, instead of
/// failing the build with a missing-std error.
fn ensure_target() {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let sysroot = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .ok()
        .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()));
    if sysroot.is_some_and(|s| s.join("lib/rustlib").join(TARGET).exists()) {
        return;
    }
    println!(
        "cargo:warning=installing the {TARGET} target with rustup (needed to build the default packs)"
    );
    let ok = Command::new("rustup")
        .args(["target", "add", TARGET])
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        fail(&format!(
            "the Rust target {TARGET} is not installed and `rustup target add {TARGET}` failed; install it and rebuild"
        ));
    }
}
