//! The manifest embedded in every pack.

use std::collections::BTreeSet;

use envpack_descriptor::{Descriptor, Slot};
use serde::{Deserialize, Serialize};

use crate::capability::{Capability, Grants, HostPattern};

/// The manifest format this crate writes; readers refuse newer formats.
pub const MANIFEST_FORMAT: u32 = 1;

/// The WIT API version this build of envpack speaks (`wit/v0.2.0`).
pub const API_VERSION: &str = "0.2.0";

/// API versions the host can load.
pub const SUPPORTED_API: &[&str] = &["0.1.0", "0.2.0"];

/// Everything the host needs to know about a pack before running it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackManifest {
    /// Manifest format version; see [`MANIFEST_FORMAT`].
    pub format: u32,
    /// The pack's exact identity.
    pub descriptor: Descriptor,
    /// The WIT API version the pack was built against, from the SDK's stamp.
    pub api_version: semver::Version,
    /// One line saying what the pack does.
    pub description: String,
    /// The version of `envpack-sdk` that built it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sdk_version: Option<String>,
    /// The powers the pack asks for; it never gets more.
    pub capabilities: RequestedCapabilities,
    /// CLI commands the pack contributes.
    #[serde(default)]
    pub commands: Vec<CommandSpec>,
}

/// The capabilities a manifest requests, grouped by kind as in `pack.toml`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestedCapabilities {
    /// Write log lines.
    #[serde(default)]
    pub log: bool,
    /// Use the private key/value store.
    #[serde(default)]
    pub kv: bool,
    /// Start revision processes (deployers only).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub process: bool,
    /// Configuration keys read.
    #[serde(default)]
    pub config: BTreeSet<String>,
    /// Secret names read.
    #[serde(default)]
    pub secrets: BTreeSet<String>,
    /// Secret names the host attaches to outbound HTTP headers for the
    /// pack, which never reads them.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub credentials: BTreeSet<String>,
    /// Outbound HTTP host patterns.
    #[serde(default)]
    pub http: BTreeSet<String>,
    /// Outbound TCP targets (`host:port`, or `*`) over `wasi:sockets`.
    /// Left out of the JSON when empty, so packs built before it keep
    /// their bytes.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub sockets: BTreeSet<String>,
}

/// A CLI command a pack contributes: `envpack [--env E] <name> [args]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CommandSpec {
    /// Space-separated words, such as `kinetic solutions list`.
    pub name: String,
    /// One line of help.
    pub about: String,
    /// Longer help shown by `--help`, with examples.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub long_about: String,
    /// Declared arguments; the host parses and checks them.
    #[serde(default)]
    pub args: Vec<ArgSpec>,
    /// Whether the command only reads or changes something. The host
    /// confirms a mutating command on a production environment before the
    /// pack runs, gives it `--dry-run` (the pack then only plans), and
    /// audits it.
    #[serde(default, skip_serializing_if = "CommandEffect::is_read")]
    pub effect: CommandEffect,
}

/// What a pack command does to the world.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CommandEffect {
    /// Reads only; runs anywhere without confirmation.
    #[default]
    Read,
    /// Changes the target; policy-gated, dry-runnable and audited.
    Mutate,
}

impl CommandEffect {
    fn is_read(&self) -> bool {
        *self == Self::Read
    }
}

/// The argument the host gives a mutating command on a dry run (`["true"]`).
pub const DRY_RUN_ARG: &str = "dry-run";

/// One declared command argument.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ArgSpec {
    /// `[a-z][a-z0-9-]*`; options are written `--<name>`.
    pub name: String,
    /// Help text.
    #[serde(default)]
    pub help: String,
    /// How it is given on the command line.
    #[serde(default)]
    pub kind: ArgKind,
    /// Must be given.
    #[serde(default)]
    pub required: bool,
    /// May be given several times (positional: takes the rest).
    #[serde(default)]
    pub multiple: bool,
    /// Value used when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<String>,
    /// When not empty, the only accepted values.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
}

/// How an argument is given.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArgKind {
    /// By position.
    #[default]
    Positional,
    /// `--name VALUE`.
    Option,
    /// `--name`, no value.
    Flag,
}

/// A manifest that does not hold together.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The JSON could not be read.
    #[error("the pack manifest is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A newer manifest format.
    #[error(
        "the pack manifest has format {found}, but this envpack reads format {MANIFEST_FORMAT} at most; help: upgrade envpack"
    )]
    Format {
        /// The format found.
        found: u32,
    },
    /// An unsupported API version.
    #[error(
        "the pack was built against envpack API {found}, but this envpack supports {}; help: rebuild the pack with a supported envpack-sdk, or upgrade envpack",
        SUPPORTED_API.join(", ")
    )]
    Api {
        /// The version found.
        found: semver::Version,
    },
    /// A capability string that does not parse.
    #[error("the pack manifest requests an invalid capability: {0}")]
    Capability(#[from] crate::capability::CapabilityError),
    /// A command declaration problem.
    #[error("the pack manifest declares an invalid command {command:?}: {reason}")]
    Command {
        /// The command name.
        command: String,
        /// What is wrong.
        reason: String,
    },
}

impl PackManifest {
    /// The slot the pack fills.
    pub fn slot(&self) -> Slot {
        self.descriptor.slot()
    }

    /// The requested capabilities as one set.
    pub fn requested(&self) -> Grants {
        self.capabilities
            .list()
            .unwrap_or_default()
            .into_iter()
            .collect()
    }

    /// Parses a manifest from the JSON carried in a pack and validates it.
    pub fn from_json(bytes: &[u8]) -> Result<Self, ManifestError> {
        let manifest: PackManifest = serde_json::from_slice(bytes)?;
        manifest.validate()?;
        Ok(manifest)
    }

    /// The canonical JSON stored in a pack.
    pub fn to_json(&self) -> Vec<u8> {
        // Serialising plain data with string keys cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Checks everything the types alone do not.
    pub fn validate(&self) -> Result<(), ManifestError> {
        if self.format > MANIFEST_FORMAT {
            return Err(ManifestError::Format { found: self.format });
        }
        let api = self.api_version.to_string();
        if !SUPPORTED_API.contains(&api.as_str()) {
            return Err(ManifestError::Api {
                found: self.api_version.clone(),
            });
        }
        self.capabilities.list()?;
        let mut seen = BTreeSet::new();
        for cmd in &self.commands {
            cmd.validate()?;
            if !seen.insert(cmd.name.as_str()) {
                return Err(cmd.err("it is declared twice"));
            }
        }
        Ok(())
    }
}

impl RequestedCapabilities {
    /// Every requested capability, parsed.
    pub fn list(&self) -> Result<Vec<Capability>, crate::capability::CapabilityError> {
        let mut out = Vec::new();
        if self.log {
            out.push(Capability::Log);
        }
        if self.kv {
            out.push(Capability::Kv);
        }
        if self.process {
            out.push(Capability::Process);
        }
        for k in &self.config {
            out.push(format!("config:{k}").parse()?);
        }
        for k in &self.secrets {
            out.push(format!("secret:{k}").parse()?);
        }
        for k in &self.credentials {
            out.push(format!("credential:{k}").parse()?);
        }
        for h in &self.http {
            out.push(format!("http:{h}").parse()?);
        }
        for t in &self.sockets {
            out.push(format!("socket:{t}").parse()?);
        }
        Ok(out)
    }

    /// Builds the grouped form from a list of capabilities.
    pub fn from_list<'a>(caps: impl IntoIterator<Item = &'a Capability>) -> Self {
        let mut out = Self::default();
        for cap in caps {
            match cap {
                Capability::Log => out.log = true,
                Capability::Kv => out.kv = true,
                Capability::Process => out.process = true,
                Capability::Config(k) => {
                    out.config.insert(k.clone());
                }
                Capability::Secret(k) => {
                    out.secrets.insert(k.clone());
                }
                Capability::Credential(k) => {
                    out.credentials.insert(k.clone());
                }
                Capability::Http(h) => {
                    out.http.insert(HostPattern::to_string(h));
                }
                Capability::Socket(h) => {
                    out.sockets.insert(HostPattern::to_string(h));
                }
            }
        }
        out
    }
}

fn is_word(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Command words the host itself owns; a pack may not shadow them.
pub const RESERVED_COMMANDS: &[&str] = &[
    "pack",
    "env",
    "secrets",
    "state",
    "help",
    "completions",
    "bundle",
    "deploy",
    "revisions",
    "traffic",
    "promote",
    "rollback",
    "audit",
    "history",
    "serve",
    "version",
];

impl CommandSpec {
    fn err(&self, reason: &str) -> ManifestError {
        ManifestError::Command {
            command: self.name.clone(),
            reason: reason.to_string(),
        }
    }

    /// The command's words.
    pub fn words(&self) -> impl Iterator<Item = &str> {
        self.name.split(' ')
    }

    fn validate(&self) -> Result<(), ManifestError> {
        if !self.name.split(' ').all(is_word) {
            return Err(self.err(
                "each word must be lowercase letters, digits and '-', starting with a letter, separated by single spaces",
            ));
        }
        if self
            .words()
            .next()
            .is_some_and(|w| RESERVED_COMMANDS.contains(&w))
        {
            return Err(self.err("its first word is a built-in envpack command"));
        }
        let mut names = BTreeSet::new();
        let mut open_positional = false;
        for arg in &self.args {
            if !is_word(&arg.name) {
                return Err(self.err(&format!(
                    "argument {:?}: names are lowercase letters, digits and '-', starting with a letter",
                    arg.name
                )));
            }
            if !names.insert(arg.name.as_str())
                || matches!(arg.name.as_str(), "help" | "env" | "json")
                || (self.effect == CommandEffect::Mutate && arg.name == DRY_RUN_ARG)
            {
                return Err(self.err(&format!(
                    "argument {:?} is declared twice or shadows a global option",
                    arg.name
                )));
            }
            if arg.kind == ArgKind::Positional {
                if open_positional {
                    return Err(self.err(&format!(
                        "positional argument {:?} follows one that takes several values",
                        arg.name
                    )));
                }
                open_positional = arg.multiple;
            }
            if arg.kind == ArgKind::Flag && (arg.required || arg.default.is_some()) {
                return Err(self.err(&format!(
                    "flag {:?} cannot be required or have a default",
                    arg.name
                )));
            }
            if let Some(d) = &arg.default
                && !arg.values.is_empty()
                && !arg.values.contains(d)
            {
                return Err(self.err(&format!(
                    "argument {:?} has default {d:?}, which is not among its values",
                    arg.name
                )));
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> PackManifest {
        PackManifest {
            format: MANIFEST_FORMAT,
            descriptor: "acme.state.memory@1.2.0".parse().expect("descriptor"),
            api_version: semver::Version::new(0, 1, 0),
            description: "in-memory state".into(),
            sdk_version: Some("0.1.0".into()),
            capabilities: RequestedCapabilities {
                log: true,
                http: ["api.example.com".to_string()].into(),
                ..Default::default()
            },
            commands: vec![CommandSpec {
                name: "memory stats".into(),
                about: "show stats".into(),
                long_about: String::new(),
                args: vec![ArgSpec {
                    name: "prefix".into(),
                    help: String::new(),
                    kind: ArgKind::Positional,
                    required: false,
                    multiple: false,
                    default: None,
                    values: vec![],
                }],
                effect: CommandEffect::Read,
            }],
        }
    }

    #[test]
    fn json_round_trip() {
        let m = sample();
        let back = PackManifest::from_json(&m.to_json()).expect("parse");
        assert_eq!(back, m);
        assert_eq!(
            back.requested()
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            ["log", "http:api.example.com"]
        );
    }

    #[test]
    fn rejects_bad_manifests() {
        let mut m = sample();
        m.api_version = semver::Version::new(9, 0, 0);
        assert!(matches!(m.validate(), Err(ManifestError::Api { .. })));

        let mut m = sample();
        m.commands[0].name = "pack evil".into();
        assert!(m.validate().unwrap_err().to_string().contains("built-in"));

        let mut m = sample();
        m.commands[0].name = "Memory".into();
        assert!(m.validate().is_err());

        let mut m = sample();
        m.capabilities.http.insert("bad host".into());
        assert!(matches!(m.validate(), Err(ManifestError::Capability(_))));

        let mut m = sample();
        m.commands.push(m.commands[0].clone());
        assert!(m.validate().unwrap_err().to_string().contains("twice"));

        assert!(PackManifest::from_json(b"{\"format\":1}").is_err());
    }
}
