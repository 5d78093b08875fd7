//! `envpack pack build`: compile a pack crate for `wasm32-wasip2` and embed
//! its manifest.
//!
//! The manifest is assembled from `pack.toml` (descriptor, description,
//! capabilities, commands), the crate version from `cargo metadata`, and the
//! API version `envpack-sdk` stamped into the component. The result is one
//! self-describing `.wasm` file, identified by its sha256.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use envpack_manifest::{
    Digest, PackManifest, PackToml, embed_manifest, exported_interfaces, read_api_stamp,
    read_sdk_stamp,
};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil;
use crate::types::Reporter;

/// The target packs are built for.
pub const TARGET: &str = "wasm32-wasip2";

/// Options for [`build`].
#[derive(Clone, Debug)]
pub struct BuildOptions {
    /// The pack crate directory (holding Cargo.toml and pack.toml).
    pub dir: PathBuf,
    /// Where to write the pack file; default `<dir>/target/envpack`.
    pub out_dir: Option<PathBuf>,
    /// Build with the dev profile instead of release.
    pub debug: bool,
    /// Stamp a dev version, `<version>-dev.<hex>` where hex begins the
    /// sha256 of the component and pack.toml: a new version for every change, which no
    /// requirement without a pre-release ever selects (`envpack pack dev`).
    pub dev: bool,
    /// Cargo's target directory; default cargo's own choice.
    pub target_dir: Option<PathBuf>,
    /// Pass `--quiet` to cargo.
    pub quiet: bool,
}

/// What was built.
#[derive(Clone, Debug, Serialize)]
pub struct Built {
    /// The pack file.
    pub path: PathBuf,
    /// Its digest.
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
    /// Its manifest.
    pub manifest: PackManifest,
}

#[derive(serde::Deserialize)]
struct Metadata {
    packages: Vec<MetaPackage>,
}

#[derive(serde::Deserialize)]
struct MetaPackage {
    name: String,
    version: semver::Version,
    manifest_path: PathBuf,
}

#[derive(serde::Deserialize)]
struct Message {
    reason: String,
    #[serde(default)]
    manifest_path: Option<PathBuf>,
    #[serde(default)]
    filenames: Vec<PathBuf>,
}

fn cargo() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    // A pack build is its own cargo invocation; flags meant for whatever
    // invoked envpack (a build script, a test run) must not leak into it.
    for var in [
        "RUSTFLAGS",
        "CARGO_ENCODED_RUSTFLAGS",
        "CARGO_BUILD_TARGET",
        "CARGO_MAKEFLAGS",
        "CARGO_PRIMARY_PACKAGE",
        "CARGO_TARGET_DIR",
    ] {
        cmd.env_remove(var);
    }
    cmd
}

/// Fails early, with the fix, when the wasm target is not installed.
fn check_target() -> Result<()> {
    let out = Command::new(std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into()))
        .args(["--print", "sysroot"])
        .output()
        .map_err(|e| {
            Error::unavailable(format!("cannot run rustc to find the Rust toolchain: {e}"))
                .hint("install Rust with rustup (https://rustup.rs)")
        })?;
    let sysroot = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !sysroot.join("lib/rustlib").join(TARGET).exists() {
        return Err(Error::unavailable(format!(
            "the Rust target {TARGET} is not installed in {}",
            sysroot.display()
        ))
        .hint(format!("rustup target add {TARGET}")));
    }
    Ok(())
}

/// Builds the pack crate in `opts.dir` and writes the pack file.
pub fn build(opts: &BuildOptions, reporter: &dyn Reporter) -> Result<Built> {
    let dir = opts
        .dir
        .canonicalize()
        .map_err(|e| Error::io("open pack directory", &opts.dir, e))?;
    let cargo_toml = dir.join("Cargo.toml");
    let pack_toml_path = dir.join("pack.toml");
    if !cargo_toml.exists() {
        return Err(Error::not_found(format!(
            "{} has no Cargo.toml, so it is not a pack crate",
            dir.display()
        ))
        .hint("run `envpack pack build` in a pack crate's directory, or pass its path"));
    }
    if !pack_toml_path.exists() {
        return Err(Error::not_found(format!(
            "{} has no pack.toml describing the pack",
            dir.display()
        ))
        .hint("create pack.toml with [pack] descriptor and description; see docs/pack-author-guide.md"));
    }
    let pack_toml = PackToml::load(&pack_toml_path).map_err(|e| Error::invalid(e.to_string()))?;
    check_target()?;

    let package = crate_package(&cargo_toml)?;
    let building = reporter.start(format!("building {} for {TARGET}", package.name));
    let wasm_path = cargo_build(opts, &cargo_toml, &package.name);
    drop(building);
    let wasm_path = wasm_path?;
    let component = std::fs::read(&wasm_path).map_err(|e| Error::io("read", &wasm_path, e))?;
    let version = if opts.dev {
        // pack.toml too: a change to the manifest alone is a new build.
        let toml =
            std::fs::read(&pack_toml_path).map_err(|e| Error::io("read", &pack_toml_path, e))?;
        dev_version(
            &package.version,
            &Digest::of(&[component.as_slice(), &toml].concat()),
        )
    } else {
        package.version
    };
    finish(
        &component,
        &pack_toml,
        &pack_toml_path,
        &version,
        &dir,
        opts.out_dir.as_deref(),
    )
}

/// `1.2.0` -> `1.2.0-dev.<12 hex of digest>` (`1.2.0-rc.1` ->
/// `1.2.0-rc.1.dev.<hex>`). An all-digit hex with a leading zero is not a
/// valid identifier, so it then gets a `g` in front.
pub fn dev_version(version: &semver::Version, digest: &Digest) -> semver::Version {
    let hex = digest.short();
    let base = if version.pre.is_empty() {
        "dev".to_string()
    } else {
        format!("{}.dev", version.pre)
    };
    let pre = semver::Prerelease::new(&format!("{base}.{hex}"))
        .or_else(|_| semver::Prerelease::new(&format!("{base}.g{hex}")))
        .unwrap_or(semver::Prerelease::EMPTY);
    semver::Version {
        pre,
        build: semver::BuildMetadata::EMPTY,
        ..version.clone()
    }
}

/// Whether `version` was stamped by [`dev_version`].
pub fn is_dev_version(version: &semver::Version) -> bool {
    let pre = version.pre.as_str();
    pre.starts_with("dev.") || pre.contains(".dev.")
}

/// The crate's name and version, from cargo itself (which handles workspace
/// inheritance).
fn crate_package(cargo_toml: &Path) -> Result<MetaPackage> {
    let meta = cargo()
        .args([
            "metadata",
            "--no-deps",
            "--format-version",
            "1",
            "--manifest-path",
        ])
        .arg(cargo_toml)
        .output()
        .map_err(|e| Error::unavailable(format!("cannot run cargo: {e}")))?;
    if !meta.status.success() {
        return Err(Error::invalid(format!(
            "cargo metadata failed for {}: {}",
            cargo_toml.display(),
            String::from_utf8_lossy(&meta.stderr).trim()
        )));
    }
    let meta: Metadata = serde_json::from_slice(&meta.stdout)
        .map_err(|e| Error::internal(format!("cannot read cargo metadata: {e}")))?;
    meta.packages
        .into_iter()
        .find(|p| p.manifest_path == cargo_toml)
        .ok_or_else(|| {
            Error::invalid(format!(
                "cargo does not list a package at {}",
                cargo_toml.display()
            ))
        })
}

/// Runs `cargo build` for the pack's target and returns the component it
/// produced.
fn cargo_build(opts: &BuildOptions, cargo_toml: &Path, name: &str) -> Result<PathBuf> {
    let mut cmd = cargo();
    cmd.args([
        "build",
        "--lib",
        "--target",
        TARGET,
        "--message-format=json-render-diagnostics",
    ])
    .arg("--manifest-path")
    .arg(cargo_toml)
    .stdout(Stdio::piped())
    .stderr(if opts.quiet {
        Stdio::piped()
    } else {
        Stdio::inherit()
    });
    if !opts.debug {
        cmd.arg("--release");
    }
    if opts.quiet {
        cmd.arg("--quiet");
    }
    if let Some(t) = &opts.target_dir {
        cmd.arg("--target-dir").arg(t);
    }
    let output = cmd
        .output()
        .map_err(|e| Error::unavailable(format!("cannot run cargo: {e}")))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(Error::invalid(format!(
            "cargo failed to build {} for {TARGET}{}",
            name,
            if stderr.trim().is_empty() {
                String::new()
            } else {
                format!(":\n{}", stderr.trim())
            }
        ))
        .hint("fix the compile errors above, then rerun `envpack pack build`"));
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Message>(l).ok())
        .filter(|m| {
            m.reason == "compiler-artifact" && m.manifest_path.as_deref() == Some(cargo_toml)
        })
        .flat_map(|m| m.filenames)
        .find(|f| f.extension().is_some_and(|e| e == "wasm"))
        .ok_or_else(|| {
            Error::invalid(format!("building {} produced no .wasm file", name))
                .hint("set `[lib] crate-type = [\"cdylib\"]` in the pack's Cargo.toml")
        })
}

/// Validates a freshly built component and writes the pack file with its
/// manifest embedded. Shared by `pack build` and the build script that
/// embeds the default packs.
pub fn finish(
    component: &[u8],
    pack_toml: &PackToml,
    pack_toml_path: &Path,
    version: &semver::Version,
    dir: &Path,
    out_dir: Option<&Path>,
) -> Result<Built> {
    let api = read_api_stamp(component).map_err(|e| Error::invalid(e.to_string()))?;
    let sdk = read_sdk_stamp(component).map_err(|e| Error::invalid(e.to_string()))?;
    let manifest = pack_toml
        .to_manifest(pack_toml_path, version, api, sdk)
        .map_err(|e| Error::invalid(e.to_string()))?;
    if manifest.slot() == envpack_descriptor::Slot::Command && manifest.commands.is_empty() {
        return Err(Error::invalid(format!(
            "{} is a command-only pack but {} declares no [[commands]]: it would add nothing",
            manifest.descriptor,
            pack_toml_path.display()
        ))
        .hint("declare its commands in pack.toml ([[commands]] name = \"...\", about = \"...\")"));
    }
    let exports = exported_interfaces(component).map_err(|e| Error::invalid(e.to_string()))?;
    for iface in [manifest.slot().as_str(), "command"] {
        let want = format!("greentic:envpack/{iface}@{}", manifest.api_version);
        if !exports.contains(&want) {
            return Err(Error::invalid(format!(
                "the component does not export {want}, but pack.toml declares a {} pack (it exports: {})",
                manifest.slot(),
                if exports.is_empty() { "nothing".to_string() } else { exports.join(", ") }
            ))
            .hint(format!(
                "export it with `envpack_sdk::export_{}!(YourType);`, or fix the slot in pack.toml's descriptor",
                manifest.slot()
            )));
        }
    }
    let pack = embed_manifest(component, &manifest).map_err(|e| Error::invalid(e.to_string()))?;
    let out_dir = out_dir.map_or_else(|| dir.join("target/envpack"), Path::to_path_buf);
    let d = &manifest.descriptor;
    let path = out_dir.join(format!("{}-{}.wasm", d.id(), d.version()));
    fsutil::write_atomic(&path, &pack)?;
    Ok(Built {
        digest: Digest::of(&pack),
        size: pack.len() as u64,
        path,
        manifest,
    })
}
