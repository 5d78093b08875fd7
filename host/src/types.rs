//! Small types every layer shares: the runtime, the store, environments and
//! deployments all name packs and bundle sources the same way. Nothing here
//! depends on any other module of the host.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

mod oci_ref;
pub use oci_ref::{OciRef, PackOrigin, SCHEME as OCI_SCHEME};

/// The pack as named in messages: descriptor and digest.
#[derive(Clone, Debug)]
pub struct PackLabel {
    /// The pack's descriptor.
    pub descriptor: envpack_descriptor::Descriptor,
    /// The pack file's digest.
    pub digest: envpack_manifest::Digest,
}

impl fmt::Display for PackLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pack {}", self.descriptor)
    }
}

/// An environment name: `[a-z0-9][a-z0-9-]*`, at most 64 characters.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct EnvName(String);

impl fmt::Debug for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl EnvName {
    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for EnvName {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let ok = !s.is_empty()
            && s.len() <= 64
            && s.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
            && s.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
        if ok {
            Ok(Self(s.to_string()))
        } else {
            Err(Error::invalid(format!(
                "invalid environment name {s:?}: expected lowercase letters, digits and '-', starting with a letter or digit, at most 64 characters (e.g. \"staging\")"
            )))
        }
    }
}

impl TryFrom<String> for EnvName {
    type Error = Error;

    fn try_from(value: String) -> Result<Self> {
        value.parse()
    }
}

impl From<EnvName> for String {
    fn from(value: EnvName) -> Self {
        value.0
    }
}

impl fmt::Display for EnvName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Where a release bundle was built from; environments allow some kinds.
#[derive(
    Clone,
    Copy,
    Debug,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    clap::ValueEnum,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum SourceKind {
    /// A feature branch.
    FeatureBranch,
    /// The main branch.
    Main,
    /// A release tag.
    ReleaseTag,
}

impl SourceKind {
    /// All kinds.
    pub const ALL: [SourceKind; 3] = [
        SourceKind::FeatureBranch,
        SourceKind::Main,
        SourceKind::ReleaseTag,
    ];

    /// The kebab-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::FeatureBranch => "feature-branch",
            SourceKind::Main => "main",
            SourceKind::ReleaseTag => "release-tag",
        }
    }
}

impl fmt::Display for SourceKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What library code has to tell the operator while it works. Library code
/// never prints: the CLI implements this (a spinner on a terminal, pack
/// output on stderr); tests and libraries use [`Silent`].
pub trait Reporter: Send + Sync {
    /// Long work named `message` starts (compiling a pack, building one,
    /// deploying a bundle); the returned guard ends it.
    fn start(&self, message: String) -> Box<dyn ProgressGuard>;
    /// What a telemetry pack printed, for the operator's terminal.
    fn pack_output(&self, text: &str);
}

/// Ends one piece of long work when dropped.
pub trait ProgressGuard {}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

struct NoGuard;

impl ProgressGuard for NoGuard {}

impl Reporter for Silent {
    fn start(&self, _message: String) -> Box<dyn ProgressGuard> {
        Box::new(NoGuard)
    }

    fn pack_output(&self, _text: &str) {}
}

/// A share of traffic: `99%`, `99.5%` (at most two decimals) or `9950bps`,
/// as basis points from 0 to 10,000. The error says what is wrong.
pub fn basis_points(w: &str) -> std::result::Result<u32, &'static str> {
    let bps: u64 = if let Some(n) = w.strip_suffix("bps") {
        n.parse()
            .map_err(|_| "basis points must be a whole number from 0 to 10000")?
    } else if let Some(p) = w.strip_suffix('%') {
        let (whole, frac) = p.split_once('.').unwrap_or((p, ""));
        if frac.len() > 2 || whole.is_empty() || !frac.chars().all(|c| c.is_ascii_digit()) {
            return Err("percent takes at most two decimals, e.g. 99.25%");
        }
        let whole: u64 = whole
            .parse()
            .map_err(|_| "percent must be a number from 0 to 100")?;
        let frac: u64 = format!("{frac:0<2}").parse().unwrap_or(0);
        whole
            .checked_mul(100)
            .and_then(|w| w.checked_add(frac))
            .ok_or("percent is too large")?
    } else {
        return Err("the weight needs a unit: % or bps");
    };
    if bps > 10_000 {
        return Err("a single weight cannot exceed 100% (10000bps)");
    }
    Ok(bps as u32)
}

/// Basis points as people read them: `100%`, `99.5%`, `0.25%`.
pub fn percent(bps: u32) -> String {
    let text = format!("{}.{:02}", bps / 100, bps % 100);
    let text = text.trim_end_matches('0').trim_end_matches('.');
    format!("{text}%")
}

#[cfg(test)]
mod percent_tests {
    #[test]
    fn percents_read_back() {
        for (bps, text) in [
            (10_000, "100%"),
            (9_950, "99.5%"),
            (25, "0.25%"),
            (0, "0%"),
            (100, "1%"),
        ] {
            assert_eq!(super::percent(bps), text);
            assert_eq!(super::basis_points(text), Ok(bps));
        }
    }
}
