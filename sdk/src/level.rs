//! [`Level`](crate::Level) as text: `Display` writes the lowercase name the
//! WIT uses (`trace`, `debug`, `info`, `warn`, `error`), and `FromStr`
//! reads it back, case-insensitively, with `warning` accepted for `warn`.

use std::fmt;
use std::str::FromStr;

use crate::{Error, Level};

impl Level {
    /// Every level, from least to most severe.
    ///
    /// ```
    /// use envpack_sdk::Level;
    /// assert_eq!(Level::ALL.first(), Some(&Level::Trace));
    /// assert!(Level::ALL.windows(2).all(|w| w[0] < w[1]));
    /// ```
    pub const ALL: [Level; 5] = [
        Level::Trace,
        Level::Debug,
        Level::Info,
        Level::Warn,
        Level::Error,
    ];

    /// The lowercase name.
    ///
    /// ```
    /// assert_eq!(envpack_sdk::Level::Warn.as_str(), "warn");
    /// ```
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Trace => "trace",
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warn => "warn",
            Level::Error => "error",
        }
    }
}

/// ```
/// use envpack_sdk::Level;
/// assert_eq!(Level::Info.to_string(), "info");
/// assert_eq!(format!("[{:>5}]", Level::Warn), "[ warn]");
/// ```
impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// ```
/// use envpack_sdk::Level;
/// assert_eq!("ERROR".parse::<Level>().ok(), Some(Level::Error));
/// assert_eq!("warning".parse::<Level>().ok(), Some(Level::Warn));
/// assert!("loud".parse::<Level>().is_err());
/// ```
impl FromStr for Level {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        match lower.as_str() {
            "warning" => Ok(Level::Warn),
            l => Level::ALL
                .into_iter()
                .find(|level| level.as_str() == l)
                .ok_or_else(|| {
                    Error::invalid_input(format!(
                        "unknown level {s:?}: expected trace, debug, info, warn or error"
                    ))
                }),
        }
    }
}
