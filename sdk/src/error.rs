//! Constructors and conversions for [`Error`].

use crate::Error;

impl Error {
    /// The caller passed something malformed.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// The named thing does not exist.
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// A capability is missing.
    pub fn denied(message: impl Into<String>) -> Self {
        Error::Denied(message.into())
    }

    /// The call conflicts with the current state.
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }

    /// A dependency is unreachable or failing; retrying later may work.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// A deadline passed.
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::Timeout(message.into())
    }

    /// Something the caller cannot fix.
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The message, whatever the kind.
    pub fn message(&self) -> &str {
        match self {
            Error::InvalidInput(m)
            | Error::NotFound(m)
            | Error::Denied(m)
            | Error::Conflict(m)
            | Error::Unavailable(m)
            | Error::Timeout(m)
            | Error::Internal(m) => m,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constructors_pick_the_kind() {
        assert!(matches!(Error::conflict("x"), Error::Conflict(m) if m == "x"));
        assert_eq!(Error::timeout("slow").message(), "slow");
    }
}
