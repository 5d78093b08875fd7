//! A pack identity with a version requirement, `namespace.slot.name@^1.2`.

use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::str::FromStr;

use semver::{Comparator, Op, VersionReq};
use serde::{Deserialize, Serialize};

use crate::descriptor::Descriptor;
use crate::error::{DescriptorError, Subject};
use crate::id::{PackId, check_outer, parse_identity, split_version};

/// A [`PackId`] with a cargo-style [`VersionReq`].
///
/// `a.state.b@1.2.3` means `^1.2.3`, as in `Cargo.toml`; `^1.2`, `~1.2`,
/// `1`, `>=1.0, <2`, `=1.2.3` and `*` are all accepted, and no `@` at all
/// means any version. Pre-release versions only match as semver says: a
/// requirement must name a pre-release of the same `major.minor.patch`.
///
/// The requirement text is kept as written, with whitespace normalised, so
/// `Display` shows what the user wrote rather than semver's rewrite of it.
/// Equality, hashing and ordering use the id and that text, so `@1.2.3` and
/// `@^1.2.3` are different values even though they match the same versions.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Requirement {
    id: PackId,
    /// The normalised text after `@`, or `None` when there was no `@`.
    text: Option<String>,
    /// Parsed from `text`; kept to avoid reparsing on every match.
    req: VersionReq,
}

impl Requirement {
    /// A requirement accepting any version of `id`.
    pub fn any(id: PackId) -> Requirement {
        Requirement {
            id,
            text: None,
            req: VersionReq::STAR,
        }
    }

    /// A requirement from an id and an already-parsed version requirement.
    pub fn new(id: PackId, req: VersionReq) -> Requirement {
        Requirement {
            id,
            text: Some(req.to_string()),
            req,
        }
    }

    /// A requirement matching exactly `d`'s version (`=x.y.z`, keeping any
    /// pre-release).
    ///
    /// Semver requirements cannot name build metadata, so it is dropped and
    /// the requirement matches `d`'s version with any build metadata.
    pub fn exact(d: &Descriptor) -> Requirement {
        let v = d.version();
        // Built directly rather than by parsing `format!("={v}")`, which
        // could only fail if this code were wrong, and would then need an
        // unwrap.
        let req = VersionReq {
            comparators: vec![Comparator {
                op: Op::Exact,
                major: v.major,
                minor: Some(v.minor),
                patch: Some(v.patch),
                pre: v.pre.clone(),
            }],
        };
        Requirement {
            id: d.id().clone(),
            text: Some(req.to_string()),
            req,
        }
    }

    /// The versionless identity.
    pub fn id(&self) -> &PackId {
        &self.id
    }

    /// The version requirement; `*` when none was given.
    pub fn version_req(&self) -> &VersionReq {
        &self.req
    }

    /// Whether `d` has this id and a version this requirement accepts.
    pub fn matches(&self, d: &Descriptor) -> bool {
        d.id() == &self.id && self.req.matches(d.version())
    }

    /// The newest of `candidates` that [`matches`](Self::matches), if any.
    ///
    /// Candidates with other ids are ignored, so a whole registry listing
    /// can be passed in.
    pub fn resolve<'a, I>(&self, candidates: I) -> Option<&'a Descriptor>
    where
        I: IntoIterator<Item = &'a Descriptor>,
    {
        candidates
            .into_iter()
            .filter(|d| self.matches(d))
            .max_by(|a, b| a.version().cmp(b.version()))
    }

    /// The key for `Eq`, `Hash` and `Ord`: `req` is derived from `text`, so
    /// comparing it too would be redundant (and `VersionReq` is not `Ord`).
    fn key(&self) -> (&PackId, Option<&str>) {
        (&self.id, self.text.as_deref())
    }
}

/// Normalises the whitespace of a requirement `semver` has accepted:
/// `">= 1.0 ,<2"` becomes `">=1.0, <2"`.
///
/// Falls back to the text as written if the normalised form would parse
/// differently, so normalising can never change the meaning.
fn normalise(text: &str, req: &VersionReq) -> String {
    let normalised = text
        .split(',')
        .map(|part| part.split_whitespace().collect::<String>())
        .collect::<Vec<_>>()
        .join(", ");
    match VersionReq::parse(&normalised) {
        Ok(again) if again == *req => normalised,
        _ => text.to_owned(),
    }
}

impl PartialEq for Requirement {
    fn eq(&self, other: &Self) -> bool {
        self.key() == other.key()
    }
}

impl Eq for Requirement {}

impl Hash for Requirement {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.key().hash(state);
    }
}

impl PartialOrd for Requirement {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Requirement {
    fn cmp(&self, other: &Self) -> Ordering {
        self.key().cmp(&other.key())
    }
}

impl fmt::Display for Requirement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.text {
            Some(text) => write!(f, "{}@{}", self.id, text),
            None => write!(f, "{}", self.id),
        }
    }
}

impl FromStr for Requirement {
    type Err = DescriptorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        const SUBJECT: Subject = Subject::Requirement;
        check_outer(SUBJECT, s)?;
        let (identity, text) = split_version(s);
        let id = parse_identity(SUBJECT, s, identity)?;
        let Some(text) = text else {
            return Ok(Requirement::any(id));
        };
        let req =
            VersionReq::parse(text).map_err(|reason| DescriptorError::InvalidRequirement {
                subject: SUBJECT,
                input: s.to_owned(),
                requirement: text.to_owned(),
                reason: reason.to_string(),
            })?;
        Ok(Requirement {
            id,
            text: Some(normalise(text, &req)),
            req,
        })
    }
}

impl TryFrom<String> for Requirement {
    type Error = DescriptorError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for Requirement {
    type Error = DescriptorError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<Requirement> for String {
    fn from(r: Requirement) -> String {
        r.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(s: &str) -> Requirement {
        s.parse().expect(s)
    }

    fn descriptors(list: &[&str]) -> Vec<Descriptor> {
        list.iter().map(|s| s.parse().expect(s)).collect()
    }

    fn resolved(r: &str, candidates: &[Descriptor]) -> Option<String> {
        req(r).resolve(candidates).map(ToString::to_string)
    }

    #[test]
    fn cargo_semantics() {
        assert_eq!(
            req("a.state.b@1.2.3").version_req(),
            &VersionReq::parse("^1.2.3").expect("req")
        );
        assert_eq!(req("a.state.b").version_req(), &VersionReq::STAR);
        assert_eq!(
            req("a.state.b@=1.2.3").version_req().comparators[0].op,
            Op::Exact
        );
    }

    #[test]
    fn display_keeps_text_and_normalises_whitespace() {
        assert_eq!(req("a.state.b@1.2.3").to_string(), "a.state.b@1.2.3");
        assert_eq!(req("a.state.b").to_string(), "a.state.b");
        assert_eq!(req("a.state.b@*").to_string(), "a.state.b@*");
        assert_eq!(req("a.state.b@>=1.0,<2").to_string(), "a.state.b@>=1.0, <2");
        assert_eq!(
            req("a.state.b@>= 1.0 ,   <2").to_string(),
            "a.state.b@>=1.0, <2"
        );
        assert_eq!(req("a.state.b@ ^1.2").to_string(), "a.state.b@^1.2");
        assert_eq!(req("a.state.b@>= 1.0 ,   <2"), req("a.state.b@>=1.0, <2"));
        assert_ne!(req("a.state.b@1.2.3"), req("a.state.b@^1.2.3"));
    }

    #[test]
    fn resolve_picks_the_newest_match() {
        let c = descriptors(&[
            "a.state.b@1.0.0",
            "a.state.b@1.4.2",
            "a.state.b@1.10.0",
            "a.state.b@2.0.0",
            "a.state.b@0.9.0",
        ]);
        assert_eq!(
            resolved("a.state.b@1", &c).as_deref(),
            Some("a.state.b@1.10.0")
        );
        assert_eq!(
            resolved("a.state.b@~1.4", &c).as_deref(),
            Some("a.state.b@1.4.2")
        );
        assert_eq!(
            resolved("a.state.b@>=1.0, <1.5", &c).as_deref(),
            Some("a.state.b@1.4.2")
        );
        assert_eq!(
            resolved("a.state.b", &c).as_deref(),
            Some("a.state.b@2.0.0")
        );
        assert_eq!(
            resolved("a.state.b@=1.0.0", &c).as_deref(),
            Some("a.state.b@1.0.0")
        );
        assert_eq!(
            resolved("a.state.b@0.9", &c).as_deref(),
            Some("a.state.b@0.9.0")
        );
    }

    #[test]
    fn resolve_with_nothing_matching() {
        let c = descriptors(&["a.state.b@1.0.0", "a.state.b@2.0.0"]);
        assert_eq!(resolved("a.state.b@3", &c), None);
        assert_eq!(resolved("a.state.b@^1.1", &c), None);
        assert_eq!(resolved("a.state.b", &[]), None);
    }

    #[test]
    fn resolve_ignores_other_ids() {
        let c = descriptors(&[
            "a.state.b@1.0.0",
            "a.state.c@9.0.0",
            "z.state.b@9.0.0",
            "a.secrets.b@9.0.0",
        ]);
        assert_eq!(
            resolved("a.state.b", &c).as_deref(),
            Some("a.state.b@1.0.0")
        );
        assert!(!req("a.state.b").matches(&c[1]));
        assert!(!req("a.state.b").matches(&c[2]));
        assert!(!req("a.state.b").matches(&c[3]));
    }

    #[test]
    fn pre_releases_follow_semver() {
        let c = descriptors(&[
            "a.state.b@1.0.0",
            "a.state.b@1.1.0-beta.1",
            "a.state.b@1.1.0-beta.2",
            "a.state.b@1.2.0-alpha.1",
        ]);
        // A requirement without a pre-release never selects one, not even `*`.
        assert_eq!(
            resolved("a.state.b", &c).as_deref(),
            Some("a.state.b@1.0.0")
        );
        assert_eq!(
            resolved("a.state.b@1", &c).as_deref(),
            Some("a.state.b@1.0.0")
        );
        // Naming a pre-release opts in to pre-releases of that x.y.z only.
        assert_eq!(
            resolved("a.state.b@>=1.1.0-beta.1", &c).as_deref(),
            Some("a.state.b@1.1.0-beta.2")
        );
        assert_eq!(
            resolved("a.state.b@=1.1.0-beta.1", &c).as_deref(),
            Some("a.state.b@1.1.0-beta.1")
        );
        // A release satisfies a pre-release lower bound.
        let with_release = descriptors(&["a.state.b@1.1.0-beta.1", "a.state.b@1.1.0"]);
        assert_eq!(
            resolved("a.state.b@^1.1.0-beta.1", &with_release).as_deref(),
            Some("a.state.b@1.1.0")
        );
    }

    #[test]
    fn exact_matches_only_that_version() {
        let c = descriptors(&[
            "a.state.b@1.0.0",
            "a.state.b@1.0.1",
            "a.state.b@1.0.0-rc.1",
            "a.state.b@1.0.0+build.7",
        ]);
        let r = Requirement::exact(&c[0]);
        assert_eq!(r.to_string(), "a.state.b@=1.0.0");
        assert!(r.matches(&c[0]));
        assert!(!r.matches(&c[1]));
        assert!(!r.matches(&c[2]));
        // Build metadata is not part of version precedence.
        assert!(r.matches(&c[3]));
        let pre = Requirement::exact(&c[2]);
        assert_eq!(pre.to_string(), "a.state.b@=1.0.0-rc.1");
        assert!(pre.matches(&c[2]));
        assert_eq!(req(&pre.to_string()), pre);
    }

    #[test]
    fn constructors() {
        let id: PackId = "a.state.b".parse().expect("id");
        assert_eq!(Requirement::any(id.clone()), req("a.state.b"));
        let r = Requirement::new(id, VersionReq::parse(">=1.0, <2").expect("req"));
        assert_eq!(r, req("a.state.b@>=1.0, <2"));
    }
}
