//! An exact pack identity, `namespace.slot.name@1.2.3`.

use std::fmt;
use std::str::FromStr;

use semver::{BuildMetadata, Op, Version, VersionReq};
use serde::{Deserialize, Serialize};

use crate::error::{DescriptorError, Subject};
use crate::id::{PackId, check_outer, parse_identity, split_version};
use crate::slot::Slot;

/// One concrete pack: a [`PackId`] and an exact semver [`Version`].
///
/// The version may carry pre-release and build metadata as semver allows
/// (`a.state.b@1.0.0-beta.1+abc`). `Ord` compares the id, then the version
/// (semver order, which also orders build metadata so `Ord` agrees with
/// `Eq`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Descriptor {
    id: PackId,
    version: Version,
}

impl Descriptor {
    /// Pairs an id with a version; both are already valid, so this cannot
    /// fail.
    pub fn new(id: PackId, version: Version) -> Descriptor {
        Descriptor { id, version }
    }

    /// The versionless identity.
    pub fn id(&self) -> &PackId {
        &self.id
    }

    /// The exact version.
    pub fn version(&self) -> &Version {
        &self.version
    }

    /// Shortcut for `self.id().namespace()`.
    pub fn namespace(&self) -> &str {
        self.id.namespace()
    }

    /// Shortcut for `self.id().slot()`.
    pub fn slot(&self) -> Slot {
        self.id.slot()
    }

    /// Shortcut for `self.id().name()`.
    pub fn name(&self) -> &str {
        self.id.name()
    }
}

impl fmt::Display for Descriptor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.id, self.version)
    }
}

impl FromStr for Descriptor {
    type Err = DescriptorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const SUBJECT: Subject = Subject::Descriptor;
        check_outer(SUBJECT, s)?;
        let (identity, version) = split_version(s);
        let id = parse_identity(SUBJECT, s, identity)?;
        let Some(text) = version else {
            return Err(DescriptorError::NotExact {
                subject: SUBJECT,
                input: s.to_owned(),
                version: None,
                suggestion: suggest_exact(&id, None),
            });
        };
        match Version::parse(text) {
            Ok(version) => Ok(Descriptor { id, version }),
            Err(reason) => {
                // A requirement such as `^1.2` or `1` is the likeliest mistake
                // (it is valid in a requirement), so it gets its own message
                // with a concrete fix. Whitespace around an otherwise exact
                // version is not a requirement, so semver's reason (the
                // unexpected space) is the better explanation there.
                let is_requirement = Version::parse(text.trim()).is_err();
                match VersionReq::parse(text) {
                    Ok(req) if is_requirement => Err(DescriptorError::NotExact {
                        subject: SUBJECT,
                        input: s.to_owned(),
                        version: Some(text.to_owned()),
                        suggestion: suggest_exact(&id, Some(&req)),
                    }),
                    _ => Err(DescriptorError::InvalidVersion {
                        subject: SUBJECT,
                        input: s.to_owned(),
                        version: text.to_owned(),
                        reason: reason.to_string(),
                    }),
                }
            }
        }
    }
}

/// A descriptor to suggest in place of a non-exact one.
///
/// For a single lower-bound comparator (`^1.2`, `~1`, `>=1.2`, `=1.2`,
/// `1.*`) the lowest version it accepts is what the user most likely meant;
/// anything else gets a generic `1.0.0`.
fn suggest_exact(id: &PackId, req: Option<&VersionReq>) -> String {
    let from_req = req.and_then(|req| match req.comparators.as_slice() {
        [c] if matches!(
            c.op,
            Op::Exact | Op::Caret | Op::Tilde | Op::GreaterEq | Op::Wildcard
        ) =>
        {
            Some(Version {
                major: c.major,
                minor: c.minor.unwrap_or(0),
                patch: c.patch.unwrap_or(0),
                pre: c.pre.clone(),
                build: BuildMetadata::EMPTY,
            })
        }
        _ => None,
    });
    let version = from_req.unwrap_or_else(|| Version::new(1, 0, 0));
    format!("{id}@{version}")
}

impl TryFrom<String> for Descriptor {
    type Error = DescriptorError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for Descriptor {
    type Error = DescriptorError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Descriptor> for String {
    fn from(d: Descriptor) -> String {
        d.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_err(s: &str) -> DescriptorError {
        s.parse::<Descriptor>().expect_err(s)
    }

    #[test]
    fn accessors() {
        let d: Descriptor = "greentic.deployer.k8s@1.2.3-rc.1+sha.5"
            .parse()
            .expect("valid");
        assert_eq!(d.namespace(), "greentic");
        assert_eq!(d.slot(), Slot::Deployer);
        assert_eq!(d.name(), "k8s");
        assert_eq!(d.version().to_string(), "1.2.3-rc.1+sha.5");
        assert_eq!(d.id().to_string(), "greentic.deployer.k8s");
        assert_eq!(d.to_string(), "greentic.deployer.k8s@1.2.3-rc.1+sha.5");
        assert_eq!(Descriptor::new(d.id().clone(), d.version().clone()), d);
    }

    #[test]
    fn ord_is_id_then_version() {
        let mut v: Vec<Descriptor> = ["b.state.x@1.0.0", "a.state.x@2.0.0", "a.state.x@1.10.0"]
            .iter()
            .map(|s| s.parse().expect("valid"))
            .collect();
        v.sort();
        let sorted: Vec<String> = v.iter().map(ToString::to_string).collect();
        assert_eq!(
            sorted,
            ["a.state.x@1.10.0", "a.state.x@2.0.0", "b.state.x@1.0.0"]
        );
    }

    #[test]
    fn not_exact_suggests_a_version() {
        let cases = [
            ("a.state.b@^1.2", Some("^1.2"), "a.state.b@1.2.0"),
            ("a.state.b@1", Some("1"), "a.state.b@1.0.0"),
            (
                "a.state.b@~1.2.3-rc.1",
                Some("~1.2.3-rc.1"),
                "a.state.b@1.2.3-rc.1",
            ),
            ("a.state.b@<2", Some("<2"), "a.state.b@1.0.0"),
            ("a.state.b@*", Some("*"), "a.state.b@1.0.0"),
            ("a.state.b", None, "a.state.b@1.0.0"),
        ];
        for (input, version, suggestion) in cases {
            match parse_err(input) {
                DescriptorError::NotExact {
                    version: v,
                    suggestion: s,
                    ..
                } => {
                    assert_eq!(v.as_deref(), version, "{input}");
                    assert_eq!(s, suggestion, "{input}");
                }
                other => panic!("{input}: unexpected {other:?}"),
            }
        }
    }

    #[test]
    fn messages() {
        assert_eq!(
            parse_err("a..b@1.0.0").to_string(),
            r#"invalid descriptor "a..b@1.0.0": the slot segment is empty; expected "namespace.slot.name@version", e.g. "greentic.deployer.k8s@1.0.0""#
        );
        assert_eq!(
            parse_err("greentic.deploy.k8s@1.0.0").to_string(),
            r#"invalid descriptor "greentic.deploy.k8s@1.0.0": unknown slot "deploy"; expected one of deployer, secrets, telemetry, state, kinetic, command (did you mean "deployer"?)"#
        );
        assert_eq!(
            parse_err("Greentic.state.fs@1.0.0").to_string(),
            r#"invalid descriptor "Greentic.state.fs@1.0.0": the namespace "Greentic" has "G" at byte 0; expected lowercase letters, digits and "-", starting with a letter or digit"#
        );
        assert_eq!(
            parse_err("a.state.b@^1.2").to_string(),
            r#"invalid descriptor "a.state.b@^1.2": the version "^1.2" is a version requirement, not an exact version; an exact version is required, e.g. "a.state.b@1.2.0""#
        );
        assert_eq!(
            parse_err("a.state.b").to_string(),
            r#"invalid descriptor "a.state.b": the version is missing (no "@version"); an exact version is required, e.g. "a.state.b@1.0.0""#
        );
        assert_eq!(
            parse_err("a.state.b@01.0.0").to_string(),
            r#"invalid descriptor "a.state.b@01.0.0": the version "01.0.0" is not valid semver: invalid leading zero in major version number; expected an exact version such as "1.0.0""#
        );
        assert_eq!(
            parse_err(" a.state.b@1.0.0").to_string(),
            r#"invalid descriptor " a.state.b@1.0.0": it has leading or trailing whitespace; expected "a.state.b@1.0.0""#
        );
        assert_eq!(
            parse_err("a.b.c.d@1.0.0").to_string(),
            r#"invalid descriptor "a.b.c.d@1.0.0": the identity "a.b.c.d" has 4 dot-separated segments but needs exactly 3 (namespace, slot and name); expected "namespace.slot.name@version", e.g. "greentic.deployer.k8s@1.0.0""#
        );
        assert_eq!(
            parse_err(&format!("a.state.{}@1.0.0", "x".repeat(65))).to_string(),
            format!(
                r#"invalid descriptor "a.state.{}@1.0.0": the name is 65 bytes long; expected at most 64 bytes"#,
                "x".repeat(65)
            )
        );
    }

    #[test]
    fn whitespace_inside_the_version_is_invalid_not_a_requirement() {
        assert!(matches!(
            parse_err("a.state.b@ 1.0.0"),
            DescriptorError::InvalidVersion { .. }
        ));
    }
}
