//! An environment's mode (seed 003's parity ladder): where its revisions
//! run. Config and secrets mean the same in every mode; only transport and
//! placement differ, and those belong to the deployer pack the mode asks
//! for. `local` runs revisions as processes on this machine for the fast
//! loop; `kubernetes` runs them on a cluster for production-shaped
//! validation. Other modes name the deployer target they expect, so a new
//! mode ships as a pack, never as a core change.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where an environment's revisions run. Lowercase words joined by `-`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Mode(String);

/// One mode envpack knows, with the deployer pack that serves it.
#[derive(Clone, Copy, Debug)]
pub struct KnownMode {
    /// The mode's name.
    pub name: &'static str,
    /// The `target` the deployer's `describe` reports.
    pub target: &'static str,
    /// The deployer requirement to bind for it.
    pub deployer: &'static str,
    /// The grants to bind it with: exactly what it needs, with
    /// placeholders where only the operator knows the value (a remote
    /// deployer's API server and token secret).
    pub grants: &'static str,
    /// What it is for.
    pub purpose: &'static str,
}

/// The modes of the ladder, fastest first.
pub const KNOWN: [KnownMode; 2] = [
    KnownMode {
        name: "local",
        target: "local-process",
        deployer: "greentic.deployer.local-process@^0.1",
        grants: "--grant-requested",
        purpose: "processes on this machine: the fast loop",
    },
    KnownMode {
        name: "kubernetes",
        target: "kubernetes",
        deployer: "greentic.deployer.k8s@^1",
        grants: "--grant http:<API_SERVER_HOST:PORT> --grant credential:<TOKEN_SECRET> --grant log --grant kv --grant config:*",
        purpose: "a Kubernetes cluster: production-shaped validation",
    },
];

/// The command that binds the deployer `mode` needs in `env`.
pub fn bind_command(env: &str, mode: &Mode) -> String {
    match mode.known() {
        Some(k) => format!(
            "envpack env bind {env} deployer {} {}",
            k.deployer, k.grants
        ),
        None => format!("envpack env bind {env} deployer <DEPLOYER FOR {mode}> --grant <CAP>"),
    }
}

impl Mode {
    /// `local`, the default.
    pub fn local() -> Self {
        Mode("local".into())
    }

    /// The mode's name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// What envpack knows of this mode, if it is one of [`KNOWN`].
    pub fn known(&self) -> Option<&'static KnownMode> {
        KNOWN.iter().find(|k| k.name == self.0)
    }

    /// The deployer target this mode expects: a known mode's, or the
    /// mode's own name for any other.
    pub fn target(&self) -> &str {
        self.known().map_or(self.as_str(), |k| k.target)
    }

    /// Whether a deployer reporting `target` serves this mode.
    pub fn served_by(&self, target: &str) -> bool {
        self.target() == target
    }
}

impl Default for Mode {
    fn default() -> Self {
        Self::local()
    }
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for Mode {
    type Error = Error;

    fn try_from(s: String) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 40
            && s.starts_with(|c: char| c.is_ascii_lowercase())
            && !s.ends_with('-')
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if !ok {
            let names: Vec<&str> = KNOWN.iter().map(|k| k.name).collect();
            return Err(Error::invalid(format!(
                "mode {s:?} is not a lowercase word (letters, digits, '-'), such as {}",
                names.join(" or ")
            )));
        }
        Ok(Mode(s))
    }
}

impl From<Mode> for String {
    fn from(m: Mode) -> String {
        m.0
    }
}

impl std::str::FromStr for Mode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        Mode::try_from(s.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_parse_and_name_their_target() {
        let table = [
            ("local", Some("local-process")),
            ("kubernetes", Some("kubernetes")),
            ("nomad", Some("nomad")),
            ("edge-2", Some("edge-2")),
            ("", None),
            ("Local", None),
            ("-x", None),
            ("x-", None),
            ("a b", None),
            ("2x", None),
        ];
        for (text, target) in table {
            let parsed = text.parse::<Mode>().ok();
            assert_eq!(parsed.as_ref().map(|m| m.target()), target, "{text:?}");
        }
        assert!(Mode::local().served_by("local-process"));
        assert!(!Mode::local().served_by("kubernetes"));
    }
}
