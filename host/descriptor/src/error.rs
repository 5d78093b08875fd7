//! The error type shared by every parser in this crate.

use std::fmt;

use crate::id::MAX_SEGMENT_LEN;
use crate::slot::Slot;

/// What was being parsed when an error occurred.
///
/// It picks the wording ("invalid descriptor", "invalid requirement", ...)
/// and the example shown in the message, so that a user who typed a
/// requirement is not told to write an exact version.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Subject {
    /// A versionless [`PackId`](crate::PackId), `namespace.slot.name`.
    PackId,
    /// An exact [`Descriptor`](crate::Descriptor), `namespace.slot.name@1.2.3`.
    Descriptor,
    /// A [`Requirement`](crate::Requirement), `namespace.slot.name@^1.2`.
    Requirement,
    /// A bare [`Slot`] name such as `deployer`.
    Slot,
}

impl Subject {
    /// The noun used in messages, e.g. `"descriptor"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Subject::PackId => "pack id",
            Subject::Descriptor => "descriptor",
            Subject::Requirement => "requirement",
            Subject::Slot => "slot",
        }
    }
}

impl fmt::Display for Subject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One of the three dot-separated parts of a pack identity.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Segment {
    /// The first part, the publisher's namespace.
    Namespace,
    /// The second part, one of the known [`Slot`]s.
    Slot,
    /// The third part, the pack's name within namespace and slot.
    Name,
}

impl Segment {
    /// The segment's name as used in messages, e.g. `"namespace"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Segment::Namespace => "namespace",
            Segment::Slot => "slot",
            Segment::Name => "name",
        }
    }
}

impl fmt::Display for Segment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a pack id, descriptor, requirement or slot failed to parse.
///
/// Each variant is one kind of mistake, so callers can match on it; every
/// variant carries the full offending `input` and the [`Subject`] that was
/// being parsed. The `Display` text is meant for end users.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum DescriptorError {
    /// The input, or the identity before `@`, is empty.
    #[error("invalid {subject} {input:?}: {}; expected {}", EmptyWhat(.input), Form(*.subject))]
    Empty {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
    },

    /// The input starts or ends with whitespace.
    #[error("invalid {subject} {input:?}: {}", WhitespaceHint(*.subject, .input))]
    Whitespace {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
    },

    /// The identity does not have exactly three dot-separated segments.
    #[error(
        "invalid {subject} {input:?}: the identity {identity:?} has {found} dot-separated segment{} \
         but needs exactly 3 (namespace, slot and name); expected {}",
        if *.found == 1 { "" } else { "s" },
        Form(*.subject)
    )]
    SegmentCount {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The part of the input before `@`.
        identity: String,
        /// How many segments it has.
        found: usize,
    },

    /// One of namespace, slot or name is empty.
    #[error("invalid {subject} {input:?}: the {segment} segment is empty; expected {}", Form(*.subject))]
    EmptySegment {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The empty segment.
        segment: Segment,
    },

    /// The namespace or name contains a character outside `[a-z0-9-]`, or
    /// starts with `-`.
    #[error(
        "invalid {subject} {input:?}: the {segment} {value:?} has {} at byte {index}; \
         expected lowercase letters, digits and \"-\", starting with a letter or digit",
        QuotedChar(*.ch)
    )]
    InvalidChar {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The segment holding the bad character.
        segment: Segment,
        /// The segment's text.
        value: String,
        /// The first bad character.
        ch: char,
        /// Its byte offset within `value`.
        index: usize,
    },

    /// The namespace or name is longer than [`MAX_SEGMENT_LEN`] bytes.
    #[error(
        "invalid {subject} {input:?}: the {segment} is {len} bytes long; expected at most {MAX_SEGMENT_LEN} bytes"
    )]
    TooLong {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The segment that is too long.
        segment: Segment,
        /// Its length in bytes.
        len: usize,
    },

    /// The slot segment is not one of the known slots.
    #[error(
        "invalid {subject} {input:?}: unknown slot {slot:?}; expected one of {}{}",
        SlotList,
        DidYouMean(*.suggestion)
    )]
    UnknownSlot {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The unrecognised slot text.
        slot: String,
        /// The closest known slot, if any is close enough to suggest.
        suggestion: Option<Slot>,
    },

    /// The text after `@` is not a semver version (nor a version
    /// requirement, which would be [`DescriptorError::NotExact`]).
    #[error(
        "invalid {subject} {input:?}: the version {version:?} is not valid semver: {reason}; \
         expected an exact version such as \"1.0.0\""
    )]
    InvalidVersion {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The text after `@`.
        version: String,
        /// Semver's explanation. Kept as text because `semver::Error` is not
        /// `PartialEq` and exposes nothing more to match on.
        reason: String,
    },

    /// A descriptor has no version, or a version requirement where an exact
    /// version is needed.
    #[error(
        "invalid {subject} {input:?}: {}; an exact version is required, e.g. {suggestion:?}",
        NotExactWhat(.version.as_deref())
    )]
    NotExact {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The text after `@`, or `None` if there is no `@`.
        version: Option<String>,
        /// A corrected descriptor to show the user.
        suggestion: String,
    },

    /// The text after `@` in a requirement is not a valid version
    /// requirement.
    #[error(
        "invalid {subject} {input:?}: the version requirement {requirement:?} is not valid: {reason}; \
         expected a cargo-style requirement such as \"1.2.3\", \"^1.2\", \"~1.2\", \">=1.0, <2\" or \"*\""
    )]
    InvalidRequirement {
        /// What was being parsed.
        subject: Subject,
        /// The full input.
        input: String,
        /// The text after `@`.
        requirement: String,
        /// Semver's explanation. Kept as text because `semver::Error` is not
        /// `PartialEq` and exposes nothing more to match on.
        reason: String,
    },
}

impl DescriptorError {
    /// The full input that failed to parse.
    pub fn input(&self) -> &str {
        match self {
            DescriptorError::Empty { input, .. }
            | DescriptorError::Whitespace { input, .. }
            | DescriptorError::SegmentCount { input, .. }
            | DescriptorError::EmptySegment { input, .. }
            | DescriptorError::InvalidChar { input, .. }
            | DescriptorError::TooLong { input, .. }
            | DescriptorError::UnknownSlot { input, .. }
            | DescriptorError::InvalidVersion { input, .. }
            | DescriptorError::NotExact { input, .. }
            | DescriptorError::InvalidRequirement { input, .. } => input,
        }
    }

    /// What was being parsed.
    pub fn subject(&self) -> Subject {
        match self {
            DescriptorError::Empty { subject, .. }
            | DescriptorError::Whitespace { subject, .. }
            | DescriptorError::SegmentCount { subject, .. }
            | DescriptorError::EmptySegment { subject, .. }
            | DescriptorError::InvalidChar { subject, .. }
            | DescriptorError::TooLong { subject, .. }
            | DescriptorError::UnknownSlot { subject, .. }
            | DescriptorError::InvalidVersion { subject, .. }
            | DescriptorError::NotExact { subject, .. }
            | DescriptorError::InvalidRequirement { subject, .. } => *subject,
        }
    }
}

/// The expected shape of a [`Subject`], with an example, for the end of
/// messages.
struct Form(Subject);

impl fmt::Display for Form {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Subject::PackId => f.write_str(r#""namespace.slot.name", e.g. "greentic.deployer.k8s""#),
            Subject::Descriptor => f.write_str(
                r#""namespace.slot.name@version", e.g. "greentic.deployer.k8s@1.0.0""#,
            ),
            Subject::Requirement => f.write_str(
                r#""namespace.slot.name@requirement", e.g. "greentic.deployer.k8s@^1.2", or "namespace.slot.name" for any version"#,
            ),
            Subject::Slot => write!(f, "one of {SlotList}"),
        }
    }
}

/// Distinguishes an empty input from an input with nothing before `@`.
struct EmptyWhat<'a>(&'a str);

impl fmt::Display for EmptyWhat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            f.write_str("it is empty")
        } else {
            f.write_str("nothing comes before \"@\"")
        }
    }
}

/// Suggests the trimmed input, which is almost always what was meant.
struct WhitespaceHint<'a>(Subject, &'a str);

impl fmt::Display for WhitespaceHint<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let trimmed = self.1.trim();
        if trimmed.is_empty() {
            write!(f, "it is only whitespace; expected {}", Form(self.0))
        } else {
            write!(
                f,
                "it has leading or trailing whitespace; expected {trimmed:?}"
            )
        }
    }
}

/// Says why the version of a would-be descriptor is not exact.
struct NotExactWhat<'a>(Option<&'a str>);

impl fmt::Display for NotExactWhat<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(version) => write!(
                f,
                "the version {version:?} is a version requirement, not an exact version"
            ),
            None => f.write_str("the version is missing (no \"@version\")"),
        }
    }
}

/// A character in double quotes, escaped like a Rust string so invisible
/// characters stay visible.
struct QuotedChar(char);

impl fmt::Display for QuotedChar {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", self.0.escape_debug())
    }
}

/// The known slots, comma-separated, generated from [`Slot::ALL`] so the
/// message cannot drift from the enum.
struct SlotList;

impl fmt::Display for SlotList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, slot) in Slot::ALL.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            f.write_str(slot.as_str())?;
        }
        Ok(())
    }
}

/// `" (did you mean "x"?)"`, or nothing when there is no suggestion.
struct DidYouMean(Option<Slot>);

impl fmt::Display for DidYouMean {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(slot) => write!(f, " (did you mean {:?}?)", slot.as_str()),
            None => Ok(()),
        }
    }
}
