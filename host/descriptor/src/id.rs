//! The versionless pack identity `namespace.slot.name` and the validation
//! shared by every parser.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DescriptorError, Segment, Subject};
use crate::slot::Slot;

/// The maximum length in bytes of a namespace or name.
///
/// Ids end up in file names, cache keys and log lines; a bound keeps them
/// readable and well under common path-component limits.
pub const MAX_SEGMENT_LEN: usize = 64;

/// A pack's identity without a version: `namespace.slot.name`.
///
/// Namespace and name match `[a-z0-9][a-z0-9-]*` and are at most
/// [`MAX_SEGMENT_LEN`] bytes; the slot is one of the known [`Slot`]s. The
/// fields are private so a `PackId` is always valid.
///
/// `Ord` compares namespace, then slot (in [`Slot::ALL`] order), then name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
// Going through the string form means serde applies the same validation as
// `FromStr`, and the JSON stays the human-readable `"a.state.b"`.
#[serde(try_from = "String", into = "String")]
pub struct PackId {
    namespace: String,
    slot: Slot,
    name: String,
}

impl PackId {
    /// Builds an id from its parts, validating namespace and name.
    pub fn new(namespace: &str, slot: Slot, name: &str) -> Result<PackId, DescriptorError> {
        let input = format!("{namespace}.{slot}.{name}");
        check_segment(Subject::PackId, &input, Segment::Namespace, namespace)?;
        check_segment(Subject::PackId, &input, Segment::Name, name)?;
        Ok(PackId {
            namespace: namespace.to_owned(),
            slot,
            name: name.to_owned(),
        })
    }

    /// The publisher's namespace, e.g. `greentic`.
    pub fn namespace(&self) -> &str {
        &self.namespace
    }

    /// The slot the pack fills.
    pub fn slot(&self) -> Slot {
        self.slot
    }

    /// The pack's name, e.g. `k8s`.
    pub fn name(&self) -> &str {
        &self.name
    }
}

impl fmt::Display for PackId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.namespace, self.slot, self.name)
    }
}

impl FromStr for PackId {
    type Err = DescriptorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        check_outer(Subject::PackId, s)?;
        parse_identity(Subject::PackId, s, s)
    }
}

impl TryFrom<String> for PackId {
    type Error = DescriptorError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl TryFrom<&str> for PackId {
    type Error = DescriptorError;

    fn try_from(value: &str) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl From<PackId> for String {
    fn from(id: PackId) -> String {
        id.to_string()
    }
}

/// Rejects empty input and surrounding whitespace before anything else, so
/// `" a.state.b"` is reported as a whitespace problem rather than as a bad
/// character in the namespace.
pub(crate) fn check_outer(subject: Subject, input: &str) -> Result<(), DescriptorError> {
    if input.is_empty() {
        return Err(DescriptorError::Empty {
            subject,
            input: String::new(),
        });
    }
    if input.trim() != input {
        return Err(DescriptorError::Whitespace {
            subject,
            input: input.to_owned(),
        });
    }
    Ok(())
}

/// Splits `input` into the identity and the text after `@`, if any.
///
/// Splits at the last `@`: versions and requirements never contain one, so
/// a stray `@` lands in the name and is reported as a bad character there.
pub(crate) fn split_version(input: &str) -> (&str, Option<&str>) {
    match input.rsplit_once('@') {
        Some((identity, version)) => (identity, Some(version)),
        None => (input, None),
    }
}

/// Parses the identity part of `input`; errors quote the whole `input`.
pub(crate) fn parse_identity(
    subject: Subject,
    input: &str,
    identity: &str,
) -> Result<PackId, DescriptorError> {
    if identity.is_empty() {
        return Err(DescriptorError::Empty {
            subject,
            input: input.to_owned(),
        });
    }
    let segments: Vec<&str> = identity.split('.').collect();
    let [namespace, slot, name] = segments.as_slice() else {
        return Err(DescriptorError::SegmentCount {
            subject,
            input: input.to_owned(),
            identity: identity.to_owned(),
            found: segments.len(),
        });
    };
    // Segments are checked left to right so the first problem the user sees
    // is the leftmost one.
    check_segment(subject, input, Segment::Namespace, namespace)?;
    if slot.is_empty() {
        return Err(DescriptorError::EmptySegment {
            subject,
            input: input.to_owned(),
            segment: Segment::Slot,
        });
    }
    let slot = Slot::parse_in(subject, input, slot)?;
    check_segment(subject, input, Segment::Name, name)?;
    Ok(PackId {
        namespace: (*namespace).to_owned(),
        slot,
        name: (*name).to_owned(),
    })
}

/// Checks a namespace or name against `[a-z0-9][a-z0-9-]*` and the length
/// limit.
fn check_segment(
    subject: Subject,
    input: &str,
    segment: Segment,
    value: &str,
) -> Result<(), DescriptorError> {
    if value.is_empty() {
        return Err(DescriptorError::EmptySegment {
            subject,
            input: input.to_owned(),
            segment,
        });
    }
    // Characters before length: a bad character is the more specific
    // diagnosis, and it must not be masked when it also makes the segment
    // too long.
    let bad = value.char_indices().find(|&(index, ch)| {
        let allowed = ch.is_ascii_lowercase() || ch.is_ascii_digit() || (ch == '-' && index > 0);
        !allowed
    });
    if let Some((index, ch)) = bad {
        return Err(DescriptorError::InvalidChar {
            subject,
            input: input.to_owned(),
            segment,
            value: value.to_owned(),
            ch,
            index,
        });
    }
    if value.len() > MAX_SEGMENT_LEN {
        return Err(DescriptorError::TooLong {
            subject,
            input: input.to_owned(),
            segment,
            len: value.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accessors() {
        let id: PackId = "greentic.deployer.k8s".parse().expect("valid id");
        assert_eq!(id.namespace(), "greentic");
        assert_eq!(id.slot(), Slot::Deployer);
        assert_eq!(id.name(), "k8s");
        assert_eq!(id.to_string(), "greentic.deployer.k8s");
        assert_eq!(PackId::try_from("greentic.deployer.k8s"), Ok(id.clone()));
        assert_eq!(
            PackId::try_from("greentic.deployer.k8s".to_owned()),
            Ok(id.clone())
        );
        assert_eq!(PackId::new("greentic", Slot::Deployer, "k8s"), Ok(id));
    }

    #[test]
    fn new_validates_parts() {
        let err = PackId::new("a.b", Slot::State, "c").expect_err("dot in namespace");
        assert!(matches!(
            err,
            DescriptorError::InvalidChar {
                ch: '.',
                segment: Segment::Namespace,
                ..
            }
        ));
        let err = PackId::new("a", Slot::State, "").expect_err("empty name");
        assert!(matches!(
            err,
            DescriptorError::EmptySegment {
                segment: Segment::Name,
                ..
            }
        ));
    }

    #[test]
    fn a_pack_id_has_no_version() {
        let err = "a.state.b@1"
            .parse::<PackId>()
            .expect_err("version not allowed");
        assert!(matches!(err, DescriptorError::InvalidChar { ch: '@', .. }));
        // The dots of a full version add segments.
        let err = "a.state.b@1.0.0"
            .parse::<PackId>()
            .expect_err("version not allowed");
        assert!(matches!(
            err,
            DescriptorError::SegmentCount { found: 5, .. }
        ));
    }
}
