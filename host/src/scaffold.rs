//! `envpack pack new`: a pack crate that builds, installs, runs and passes
//! `cargo test` as generated, one template per slot and one for
//! command-only packs (`scaffold/<slot>.rs.tmpl`).
//!
//! `envpack-sdk` is not on crates.io, so the crate depends on it by path
//! (and by its version, for when it is in a registry): `--sdk-path` (an
//! envpack checkout's `sdk/`, or an unpacked `envpack-sdk-X.Y.Z.crate`),
//! else the `sdk/` of an envpack checkout that contains the new crate, else
//! the checkout this binary was built from (when it is still there).
//! Nothing else is guessed: without one the command fails and says which
//! flag to pass.

use std::path::{Component, Path, PathBuf};

use envpack_descriptor::{PackId, Slot};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::fsutil;

/// What to generate.
#[derive(Clone, Debug)]
pub struct NewOptions {
    /// The pack's name (the last part of its descriptor, and the crate's
    /// directory).
    pub name: String,
    /// The slot it fills.
    pub slot: Slot,
    /// The descriptor's namespace.
    pub namespace: String,
    /// Where the crate's directory is created.
    pub parent: PathBuf,
    /// The SDK's directory, when given.
    pub sdk_path: Option<PathBuf>,
}

/// What was generated.
#[derive(Clone, Debug, Serialize)]
pub struct Scaffold {
    /// The pack's id (`namespace.slot.name`).
    pub pack: String,
    /// The crate's directory.
    pub dir: PathBuf,
    /// The files written, relative to `dir`.
    pub files: Vec<String>,
    /// The SDK the crate depends on.
    pub sdk: PathBuf,
    /// How that SDK was found.
    pub sdk_found: &'static str,
    /// The command the pack declares.
    pub command: String,
}

/// Generates the crate.
pub fn new_pack(opts: &NewOptions) -> Result<Scaffold> {
    if opts.slot == Slot::Kinetic {
        return Err(Error::invalid(
            "`pack new` has no kinetic template yet; choose deployer, secrets, telemetry, state or command",
        ));
    }
    let id = PackId::new(&opts.namespace, opts.slot, &opts.name)?;
    let dir = absolute(&opts.parent)?.join(&opts.name);
    if dir.exists() {
        return Err(
            Error::conflict(format!("{} already exists", dir.display())).hint(format!(
                "choose another name, or remove {} first",
                dir.display()
            )),
        );
    }
    let (sdk, sdk_found) = find_sdk(opts.sdk_path.as_deref(), &dir)?;
    let sdk_version = sdk_version(&sdk);
    let files = render(&id, &dir, &sdk, sdk_version.as_deref());
    fsutil::create_dir_all(&dir.join("src"))?;
    let mut written = Vec::new();
    for (name, text) in &files {
        fsutil::write_atomic(&dir.join(name), text.as_bytes())?;
        written.push((*name).to_string());
    }
    Ok(Scaffold {
        pack: id.to_string(),
        dir,
        files: written,
        sdk,
        sdk_found,
        command: format!("{} info", opts.name),
    })
}

fn absolute(p: &Path) -> Result<PathBuf> {
    std::path::absolute(p).map_err(|e| Error::io("resolve", p, e))
}

/// The version in the SDK's `Cargo.toml` (its first `version = "..."`
/// line, which is the package's in the repository and in a packaged crate);
/// `None` for an SDK that inherits its version from a workspace (older
/// checkouts), which is then depended on by path alone.
fn sdk_version(sdk: &Path) -> Option<String> {
    let text = std::fs::read_to_string(sdk.join("Cargo.toml")).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("version = \""))
        .and_then(|rest| rest.split('"').next())
        .map(str::to_string)
}

/// Whether `dir` holds the envpack SDK crate.
fn is_sdk(dir: &Path) -> bool {
    std::fs::read_to_string(dir.join("Cargo.toml"))
        .is_ok_and(|t| t.lines().any(|l| l.trim() == "name = \"envpack-sdk\""))
}

/// The SDK the new crate at `dir` depends on, and how it was found.
fn find_sdk(given: Option<&Path>, dir: &Path) -> Result<(PathBuf, &'static str)> {
    if let Some(p) = given {
        let p = absolute(p)?;
        if !is_sdk(&p) {
            return Err(Error::invalid(format!(
                "--sdk-path {}: no Cargo.toml of envpack-sdk there",
                p.display()
            ))
            .hint("pass the sdk/ directory of an envpack checkout, or an unpacked envpack-sdk-X.Y.Z.crate (cargo package -p envpack-sdk)"));
        }
        return Ok((p, "--sdk-path"));
    }
    if let Some(root) = dir.ancestors().skip(1).find(|a| is_sdk(&a.join("sdk"))) {
        return Ok((
            root.join("sdk"),
            "the envpack checkout containing the new crate",
        ));
    }
    let built = Path::new(env!("CARGO_MANIFEST_DIR")).join("../sdk");
    if is_sdk(&built) {
        let built = built.canonicalize().unwrap_or(built);
        return Ok((built, "the envpack checkout this binary was built from"));
    }
    Err(Error::unavailable(
        "cannot find envpack-sdk, which is not on crates.io: the new crate must depend on it by path",
    )
    .hint("pass the SDK of an envpack checkout: envpack pack new NAME --slot SLOT --sdk-path PATH/TO/envpack/sdk"))
}

/// `to` relative to `from` when they share a root, else `to` itself.
fn relative(from: &Path, to: &Path) -> PathBuf {
    let (f, t): (Vec<_>, Vec<_>) = (from.components().collect(), to.components().collect());
    let common = f.iter().zip(&t).take_while(|(a, b)| a == b).count();
    if common <= 1 {
        return to.to_path_buf();
    }
    let mut out: PathBuf = f[common..].iter().map(|_| Component::ParentDir).collect();
    out.extend(&t[common..]);
    out
}

/// `my-hook` -> `MyHook` (a type name; a leading digit gets `Pack`).
fn type_name(name: &str) -> String {
    let camel: String = name
        .split('-')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let mut c = p.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect();
    if camel.starts_with(|c: char| c.is_ascii_digit()) {
        format!("Pack{camel}")
    } else {
        camel
    }
}

/// The files of the crate, by path relative to `dir`.
fn render(
    id: &PackId,
    dir: &Path,
    sdk: &Path,
    sdk_version: Option<&str>,
) -> Vec<(&'static str, String)> {
    let slot = id.slot();
    let lib = match slot {
        Slot::State => include_str!("scaffold/state.rs.tmpl"),
        Slot::Secrets => include_str!("scaffold/secrets.rs.tmpl"),
        Slot::Telemetry => include_str!("scaffold/telemetry.rs.tmpl"),
        Slot::Command => include_str!("scaffold/command.rs.tmpl"),
        _ => include_str!("scaffold/deployer.rs.tmpl"),
    };
    let sdk_dep = relative(dir, sdk);
    let crate_name = if id.name().starts_with(|c: char| c.is_ascii_digit()) {
        format!("pack-{}", id.name())
    } else {
        id.name().to_string()
    };
    let fill = |t: &str| {
        t.replace("{{descriptor}}", &id.to_string())
            .replace("{{name}}", id.name())
            .replace("{{Type}}", &type_name(id.name()))
            .replace("{{crate}}", &crate_name)
            .replace("{{slot}}", slot.as_str())
            .replace(
                "{{sdk_dep}}",
                &match sdk_version {
                    Some(v) => format!("version = \"{v}\", path = \"{}\"", sdk_dep.display()),
                    None => format!("path = \"{}\"", sdk_dep.display()),
                },
            )
            .replace("{{sdk_version}}", sdk_version.unwrap_or("X.Y.Z"))
            .replace("{{sdk}}", &sdk_dep.display().to_string())
            .replace("{{sdk_abs}}", &sdk.display().to_string())
    };
    let caps = match slot {
        Slot::State | Slot::Telemetry => "log = true\n",
        // The operator picks the service (`--grant http:HOST`) and sets
        // base_url and the API_TOKEN secret.
        Slot::Command => {
            "log = true\nkv = true\nconfig = [\"base_url\"]\ncredentials = [\"API_TOKEN\"]\nhttp = [\"*\"]\n"
        }
        _ => "log = true\nkv = true\n",
    };
    let arg = match slot {
        Slot::State => {
            "\nargs = [{ name = \"prefix\", kind = \"option\", help = \"only count keys starting with this\" }]"
        }
        Slot::Telemetry => {
            "\nargs = [{ name = \"message\", kind = \"option\", help = \"what to print\" }]"
        }
        _ => "",
    };
    let more = match slot {
        Slot::Command => {
            "\n[[commands]]\nname = \"{{name}} status\"\nabout = \"Ask the service at base_url for its status, with the API_TOKEN secret\"\nlong_about = \"Examples:\\n  envpack env config dev {{descriptor}} base_url https://api.example.com\\n  envpack --env dev {{name}} status\"\n"
        }
        _ => "",
    };
    let pack_toml = format!(
        "{}\n[capabilities]\n{caps}\n[[commands]]\nname = \"{{{{name}}}} info\"\nabout = \"Say what this pack is and holds\"\nlong_about = \"Examples:\\n  envpack --env dev {{{{name}}}} info\"{arg}\n{more}",
        include_str!("scaffold/pack.toml.tmpl")
    );
    vec![
        ("Cargo.toml", fill(include_str!("scaffold/Cargo.toml.tmpl"))),
        ("pack.toml", fill(&pack_toml)),
        ("src/lib.rs", fill(lib)),
        ("README.md", fill(include_str!("scaffold/README.md.tmpl"))),
        (".gitignore", "/target\n".to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_paths() {
        assert_eq!(type_name("my-hook"), "MyHook");
        assert_eq!(type_name("9lives"), "Pack9lives");
        assert_eq!(
            relative(Path::new("/r/packs/new"), Path::new("/r/sdk")),
            PathBuf::from("../../sdk")
        );
        assert_eq!(
            relative(Path::new("/a/x"), Path::new("/b/sdk")),
            PathBuf::from("/b/sdk")
        );
    }
}
