//! Constructors and conversions for [`Error`].

use crate::Error;

impl Error {
    /// The caller passed something malformed.
    ///
    /// ```
    /// let e = envpack_sdk::Error::invalid_input("key must not be empty");
    /// assert!(matches!(e, envpack_sdk::Error::InvalidInput(_)));
    /// ```
    pub fn invalid_input(message: impl Into<String>) -> Self {
        Error::InvalidInput(message.into())
    }

    /// The named thing does not exist.
    ///
    /// ```
    /// let e = envpack_sdk::Error::not_found(format!("no revision {:?}", "r9"));
    /// assert_eq!(e.message(), "no revision \"r9\"");
    /// ```
    pub fn not_found(message: impl Into<String>) -> Self {
        Error::NotFound(message.into())
    }

    /// A capability is missing.
    ///
    /// ```
    /// let e = envpack_sdk::Error::denied("read-only store");
    /// assert!(matches!(e, envpack_sdk::Error::Denied(_)));
    /// ```
    pub fn denied(message: impl Into<String>) -> Self {
        Error::Denied(message.into())
    }

    /// The call conflicts with the current state.
    ///
    /// ```
    /// let e = envpack_sdk::Error::conflict("key \"k\" is at generation 3, not 2");
    /// assert!(matches!(e, envpack_sdk::Error::Conflict(_)));
    /// ```
    pub fn conflict(message: impl Into<String>) -> Self {
        Error::Conflict(message.into())
    }

    /// A dependency is unreachable or failing; retrying later may work.
    ///
    /// ```
    /// let e = envpack_sdk::Error::unavailable("vault.internal answered 503");
    /// assert!(matches!(e, envpack_sdk::Error::Unavailable(_)));
    /// ```
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable(message.into())
    }

    /// A deadline passed.
    ///
    /// ```
    /// let e = envpack_sdk::Error::timeout("the rollout did not finish in 60 s");
    /// assert!(matches!(e, envpack_sdk::Error::Timeout(_)));
    /// ```
    pub fn timeout(message: impl Into<String>) -> Self {
        Error::Timeout(message.into())
    }

    /// Something the caller cannot fix.
    ///
    /// ```
    /// let e = envpack_sdk::Error::internal("stored entry is corrupt");
    /// assert!(matches!(e, envpack_sdk::Error::Internal(_)));
    /// ```
    pub fn internal(message: impl Into<String>) -> Self {
        Error::Internal(message.into())
    }

    /// The message, whatever the kind.
    ///
    /// ```
    /// assert_eq!(envpack_sdk::Error::denied("no").message(), "no");
    /// ```
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
