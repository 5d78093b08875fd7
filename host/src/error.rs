//! The host's error type: what failed, why, and how to fix it.
//!
//! Every error carries a [`Kind`] (which decides the exit code and the
//! `error.kind` of the JSON envelope), a lowercase message naming the
//! offending value, and an optional hint: usually the command that fixes it.

use std::fmt;

/// What kind of failure, as scripts see it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Kind {
    /// Malformed input: a bad descriptor, manifest, file or argument.
    InvalidInput,
    /// Something named does not exist.
    NotFound,
    /// A capability or policy refused the operation.
    Denied,
    /// The operation conflicts with current state.
    Conflict,
    /// A file or pack does not match its recorded digest.
    Integrity,
    /// A pack trapped, hit a limit or ran past its deadline.
    PackFault,
    /// A deadline passed.
    Timeout,
    /// A dependency is unreachable.
    Unavailable,
    /// Checks ran and found problems (`env doctor`).
    ChecksFailed,
    /// The deployer could not say what runs (`observe`, `drift`).
    Unobservable,
    /// A bug or an unexpected environment problem.
    Internal,
}

impl Kind {
    /// The stable name used in JSON output.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::InvalidInput => "invalid-input",
            Kind::NotFound => "not-found",
            Kind::Denied => "denied",
            Kind::Conflict => "conflict",
            Kind::Integrity => "integrity",
            Kind::PackFault => "pack-fault",
            Kind::Timeout => "timeout",
            Kind::Unavailable => "unavailable",
            Kind::ChecksFailed => "checks-failed",
            Kind::Unobservable => "unobservable",
            Kind::Internal => "internal",
        }
    }

    /// The process exit code, documented in `docs/cli-reference.md`.
    pub fn exit_code(self) -> u8 {
        match self {
            Kind::Internal => 1,
            Kind::InvalidInput => 2,
            Kind::NotFound => 3,
            Kind::Denied => 4,
            Kind::Conflict => 5,
            Kind::Integrity => 6,
            Kind::PackFault => 7,
            Kind::Timeout => 8,
            Kind::Unavailable => 9,
            Kind::ChecksFailed => 10,
            // As `terraform plan -detailed-exitcode`: 0 in sync, 2 drift
            // (a successful report), 1 could not tell.
            Kind::Unobservable => 1,
        }
    }
}

/// A host error.
#[derive(Debug, Clone)]
pub struct Error {
    kind: Kind,
    message: String,
    hint: Option<String>,
    details: Option<serde_json::Value>,
}

/// Result with the host [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// An error of `kind`.
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
            hint: None,
            details: None,
        }
    }

    /// Attaches structured details (e.g. every finding of a failed check)
    /// for the JSON envelope's `error.details`.
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }

    /// The structured details, if any.
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }

    /// Adds how to fix it.
    pub fn hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    /// Prefixes the message with what was being done.
    pub fn context(mut self, what: impl fmt::Display) -> Self {
        self.message = format!("{what}: {}", self.message);
        self
    }

    /// The kind.
    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The message without the hint.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The message with its hint as a trailing `help: ...`, for places that
    /// keep an error as one line of text (a revision's reason, a step's
    /// outcome) and must not lose the fix.
    pub fn message_and_hint(&self) -> String {
        match &self.hint {
            Some(h) => format!("{}; help: {h}", self.message),
            None => self.message.clone(),
        }
    }

    /// The hint, if any.
    pub fn hint_text(&self) -> Option<&str> {
        self.hint.as_deref()
    }

    /// Shorthand constructors.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Kind::InvalidInput, message)
    }

    /// Something does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Kind::NotFound, message)
    }

    /// Refused by a capability or policy.
    pub fn denied(message: impl Into<String>) -> Self {
        Self::new(Kind::Denied, message)
    }

    /// Conflicts with current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(Kind::Conflict, message)
    }

    /// Does not match its digest.
    pub fn integrity(message: impl Into<String>) -> Self {
        Self::new(Kind::Integrity, message)
    }

    /// A dependency (a tool, a server) is unreachable or missing.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(Kind::Unavailable, message)
    }

    /// Unexpected.
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Kind::Internal, message)
    }

    /// Appends `more` to the message (after what failed, what it means).
    pub fn and(mut self, more: impl fmt::Display) -> Self {
        self.message = format!("{}{more}", self.message);
        self
    }

    /// A filesystem operation on `path` failed. The OS errors an operator
    /// can fix get their own kind and a hint; the rest are `internal`.
    pub fn io(what: &str, path: &std::path::Path, err: std::io::Error) -> Self {
        use std::io::ErrorKind as E;
        let shown = path.display();
        let dir = path
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(path)
            .display();
        match err.kind() {
            E::NotFound => Self::new(Kind::NotFound, format!("cannot {what} {shown}: {err}")),
            E::PermissionDenied => {
                Self::new(Kind::Denied, format!("cannot {what} {shown}: {err}"))
                    .hint(format!("ls -ld {dir}"))
            }
            E::StorageFull | E::QuotaExceeded | E::FileTooLarge => Self::new(
                Kind::Unavailable,
                format!("cannot {what} {shown}: the disk is full ({err})"),
            )
            .hint(format!(
                "free space on the filesystem holding {dir} (df -h {dir}), then run the command again"
            )),
            E::InvalidFilename => Self::new(
                Kind::InvalidInput,
                format!(
                    "cannot {what} {shown}: a file name or the whole path is too long for the filesystem ({err})"
                ),
            )
            .hint("use shorter names (at most 255 bytes per path component)"),
            E::ReadOnlyFilesystem => Self::new(
                Kind::Denied,
                format!("cannot {what} {shown}: the filesystem is read-only ({err})"),
            )
            .hint(format!(
                "point ENVPACK_HOME at a writable directory, or remount {dir} read-write"
            )),
            _ => Self::new(Kind::Internal, format!("cannot {what} {shown}: {err}")),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

impl From<envpack_descriptor::DescriptorError> for Error {
    fn from(e: envpack_descriptor::DescriptorError) -> Self {
        Error::invalid(e.to_string())
    }
}

impl From<envpack_manifest::CapabilityError> for Error {
    fn from(e: envpack_manifest::CapabilityError) -> Self {
        Error::invalid(e.to_string())
    }
}

impl From<envpack_manifest::SectionError> for Error {
    fn from(e: envpack_manifest::SectionError) -> Self {
        Error::invalid(e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{Error as IoError, ErrorKind as E};
    use std::path::Path;

    /// The OS errors an operator can fix map to kinds with hints, never to
    /// a bare `internal` with an errno (Linux errno values).
    #[cfg(target_os = "linux")]
    #[test]
    fn io_errors_are_typed() {
        let p = Path::new("/home/x/envs/dev/env.json");
        let full = Error::io("write", p, IoError::from_raw_os_error(28));
        assert_eq!(full.kind(), Kind::Unavailable);
        assert!(full.message().contains("the disk is full"), "{full}");
        assert!(
            full.hint_text()
                .is_some_and(|h| h.contains("df -h /home/x/envs/dev"))
        );
        let long = Error::io("write", p, IoError::from_raw_os_error(36));
        assert_eq!(long.kind(), Kind::InvalidInput);
        assert!(long.message().contains("too long"), "{long}");
        let ro = Error::io("write", p, IoError::from_raw_os_error(30));
        assert_eq!(ro.kind(), Kind::Denied);
        assert!(ro.message().contains("read-only"), "{ro}");
        assert_eq!(
            Error::io("read", p, IoError::from(E::NotFound)).kind(),
            Kind::NotFound
        );
        assert_eq!(
            Error::io("read", p, IoError::other("x")).kind(),
            Kind::Internal
        );
    }
}
