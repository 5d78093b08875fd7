//! `pack.toml`: the manifest source a pack author writes next to Cargo.toml.
//!
//! ```toml
//! [pack]
//! descriptor = "acme.state.memory"   # the version comes from Cargo.toml
//! description = "Keeps state in memory."
//!
//! [capabilities]
//! log = true
//! http = ["api.example.com"]
//!
//! [[commands]]
//! name = "memory stats"
//! about = "Show how many keys are held"
//! ```

use std::path::Path;

use envpack_descriptor::{Descriptor, PackId};
use serde::Deserialize;

use crate::manifest::{
    CommandSpec, MANIFEST_FORMAT, ManifestError, PackManifest, RequestedCapabilities,
};

/// A parsed `pack.toml`.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackToml {
    /// The `[pack]` table.
    pub pack: PackSection,
    /// The `[capabilities]` table.
    #[serde(default)]
    pub capabilities: RequestedCapabilities,
    /// The `[[commands]]` array.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
}

/// The `[pack]` table.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackSection {
    /// `namespace.slot.name`, optionally with `@version`; without a version
    /// the crate's version from Cargo.toml is used.
    pub descriptor: String,
    /// One line saying what the pack does.
    pub description: String,
}

/// A `pack.toml` that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum PackTomlError {
    /// Not readable.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// Not valid TOML or unknown keys.
    #[error("{path} is not a valid pack.toml: {message}")]
    Parse {
        /// The file.
        path: String,
        /// The parser's message, with line and column.
        message: String,
    },
    /// A bad descriptor.
    #[error("{path}: {source}")]
    Descriptor {
        /// The file.
        path: String,
        /// Why.
        source: envpack_descriptor::DescriptorError,
    },
    /// The descriptor's version and Cargo.toml's disagree.
    #[error(
        "{path}: the descriptor says version {declared} but Cargo.toml says {cargo}; help: drop the \"@{declared}\" from the descriptor so the crate version is used"
    )]
    VersionMismatch {
        /// The file.
        path: String,
        /// In pack.toml.
        declared: String,
        /// In Cargo.toml.
        cargo: String,
    },
    /// The manifest does not validate.
    #[error("{path}: {source}")]
    Manifest {
        /// The file.
        path: String,
        /// Why.
        source: ManifestError,
    },
}

impl PackToml {
    /// Reads and parses `path`.
    pub fn load(path: &Path) -> Result<Self, PackTomlError> {
        let text = std::fs::read_to_string(path).map_err(|source| PackTomlError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, path)
    }

    /// Parses `text`, naming `path` in errors.
    pub fn parse(text: &str, path: &Path) -> Result<Self, PackTomlError> {
        toml::from_str(text).map_err(|e| PackTomlError::Parse {
            path: path.display().to_string(),
            message: e.to_string(),
        })
    }

    /// Builds the manifest to embed, given the crate version from Cargo.toml
    /// and the API version the SDK stamped into the component.
    pub fn to_manifest(
        &self,
        path: &Path,
        cargo_version: &semver::Version,
        api_version: semver::Version,
        sdk_version: Option<String>,
    ) -> Result<PackManifest, PackTomlError> {
        let at = || path.display().to_string();
        let descriptor = match self.pack.descriptor.split_once('@') {
            Some(_) => {
                let d: Descriptor = self
                    .pack
                    .descriptor
                    .parse()
                    .map_err(|source| PackTomlError::Descriptor { path: at(), source })?;
                if d.version() != cargo_version {
                    return Err(PackTomlError::VersionMismatch {
                        path: at(),
                        declared: d.version().to_string(),
                        cargo: cargo_version.to_string(),
                    });
                }
                d
            }
            None => {
                let id: PackId = self
                    .pack
                    .descriptor
                    .parse()
                    .map_err(|source| PackTomlError::Descriptor { path: at(), source })?;
                Descriptor::new(id, cargo_version.clone())
            }
        };
        let manifest = PackManifest {
            format: MANIFEST_FORMAT,
            descriptor,
            api_version,
            description: self.pack.description.clone(),
            sdk_version,
            capabilities: self.capabilities.clone(),
            commands: self.commands.clone(),
        };
        manifest
            .validate()
            .map_err(|source| PackTomlError::Manifest { path: at(), source })?;
        Ok(manifest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML: &str = r#"
[pack]
descriptor = "acme.state.memory"
description = "Keeps state in memory."

[capabilities]
log = true
http = ["api.example.com"]

[[commands]]
name = "memory stats"
about = "Show stats"
args = [{ name = "prefix", kind = "option" }]
"#;

    #[test]
    fn builds_manifest_with_cargo_version() {
        let p = Path::new("pack.toml");
        let t = PackToml::parse(TOML, p).expect("parse");
        let m = t
            .to_manifest(
                p,
                &semver::Version::new(1, 2, 0),
                semver::Version::new(0, 1, 0),
                None,
            )
            .expect("manifest");
        assert_eq!(m.descriptor.to_string(), "acme.state.memory@1.2.0");
        assert_eq!(m.commands[0].args[0].kind, crate::ArgKind::Option);
    }

    #[test]
    fn errors_name_the_file_and_problem() {
        let p = Path::new("x/pack.toml");
        let e = PackToml::parse("[pack]\ndescriptor = 1\n", p).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("x/pack.toml is not a valid pack.toml"),
            "{e}"
        );
        let e = PackToml::parse(&TOML.replace("log = true", "logs = true"), p).unwrap_err();
        assert!(e.to_string().contains("logs"), "{e}");
        let t = PackToml::parse(
            &TOML.replace("acme.state.memory", "acme.state.memory@2.0.0"),
            p,
        )
        .expect("parse");
        let e = t
            .to_manifest(
                p,
                &semver::Version::new(1, 2, 0),
                semver::Version::new(0, 1, 0),
                None,
            )
            .unwrap_err();
        assert!(e.to_string().contains("Cargo.toml says 1.2.0"), "{e}");
    }
}
