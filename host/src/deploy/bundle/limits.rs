//! How much a bundle may hold, and which entry names it may use.
//!
//! Checked at `bundle verify` (and so at every deploy and promote, which
//! verify first) against the manifest before any entry is read, so a
//! hostile bundle is refused for what it declares, not after it has been
//! inflated. Everything extraction needs is checked here too: a bundle that
//! verifies can be extracted.

use crate::error::{Error, Result};

/// The longest path component any common filesystem accepts (`NAME_MAX`).
pub const NAME_MAX: usize = 255;

/// Bundle size limits; defaults in [`Limits::default`], each changed by an
/// environment variable ([`Limits::from_env`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Total unpacked bytes of all entries (`ENVPACK_BUNDLE_MAX_BYTES`).
    pub max_bytes: u64,
    /// Unpacked bytes of one entry (`ENVPACK_BUNDLE_MAX_ENTRY_BYTES`).
    pub max_entry_bytes: u64,
    /// Number of entries, directories included (`ENVPACK_BUNDLE_MAX_ENTRIES`).
    pub max_entries: u64,
    /// Bytes of one entry path, `payload/` included (`ENVPACK_BUNDLE_MAX_PATH`).
    pub max_path: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_bytes: 4 << 30,
            max_entry_bytes: 1 << 30,
            max_entries: 10_000,
            max_path: 1024,
        }
    }
}

impl Limits {
    /// The defaults, changed by `ENVPACK_BUNDLE_MAX_BYTES`,
    /// `ENVPACK_BUNDLE_MAX_ENTRY_BYTES`, `ENVPACK_BUNDLE_MAX_ENTRIES` and
    /// `ENVPACK_BUNDLE_MAX_PATH`; a value that is not a positive number is
    /// refused rather than ignored.
    pub fn from_env() -> Result<Self> {
        let mut l = Self::default();
        read_var("ENVPACK_BUNDLE_MAX_BYTES", &mut l.max_bytes)?;
        read_var("ENVPACK_BUNDLE_MAX_ENTRY_BYTES", &mut l.max_entry_bytes)?;
        read_var("ENVPACK_BUNDLE_MAX_ENTRIES", &mut l.max_entries)?;
        read_var("ENVPACK_BUNDLE_MAX_PATH", &mut l.max_path)?;
        Ok(l)
    }
}

impl Limits {
    /// The largest bundle file (compressed) that can hold what the limits
    /// allow: the payload stored uncompressed, plus deflate's framing, tar
    /// headers and padding for every entry, plus the manifest. Anything
    /// larger is refused before it is read into memory.
    pub fn max_file_bytes(&self) -> u64 {
        self.max_bytes
            .saturating_add(self.max_bytes / 64)
            .saturating_add(self.max_entries.saturating_mul(4096))
            .saturating_add(64 << 20)
    }
}

fn read_var(name: &str, into: &mut u64) -> Result<()> {
    let Some(raw) = std::env::var_os(name) else {
        return Ok(());
    };
    let text = raw.to_string_lossy();
    match text.trim().parse::<u64>() {
        Ok(n) if n > 0 => {
            *into = n;
            Ok(())
        }
        _ => Err(
            Error::invalid(format!("{name}={text:?} is not a positive whole number"))
                .hint(format!("unset {name}")),
        ),
    }
}

/// Characters that reorder or hide text when a name is shown: the Unicode
/// bidirectional embeddings, overrides and isolates, and invisible marks.
fn is_deceptive(c: char) -> bool {
    matches!(c,
        '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'
        | '\u{061C}' | '\u{FEFF}')
}

/// Whether an entry path is one extraction can write and a terminal shows
/// as it is: no control characters, no bidi overrides, every component at
/// most [`NAME_MAX`] bytes, the whole at most `max_path` bytes. `Err` says
/// which rule it breaks.
pub fn check_entry_name(path: &str, max_path: u64) -> std::result::Result<(), String> {
    if let Some(c) = path.chars().find(|c| c.is_control()) {
        return Err(format!(
            "entry {path:?} contains the control character {c:?}; names must be printable"
        ));
    }
    if let Some(c) = path.chars().find(|c| is_deceptive(*c)) {
        return Err(format!(
            "entry {path:?} contains {:?} (U+{:04X}), which reorders or hides text when shown",
            c, c as u32
        ));
    }
    if let Some(long) = path.split('/').find(|s| s.len() > NAME_MAX) {
        return Err(format!(
            "entry {:?}... has a path component of {} bytes; at most {NAME_MAX} are allowed",
            long.chars().take(40).collect::<String>(),
            long.len()
        ));
    }
    if path.len() as u64 > max_path {
        return Err(format!(
            "entry {:?}... has a path of {} bytes; at most {max_path} are allowed (ENVPACK_BUNDLE_MAX_PATH)",
            path.chars().take(40).collect::<String>(),
            path.len()
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        for ok in [
            "payload/a.txt",
            "payload/été/ü",
            &format!("payload/{}", "a".repeat(255)),
        ] {
            assert!(check_entry_name(ok, 1024).is_ok(), "{ok}");
        }
        let long = format!("payload/{}", "a".repeat(256));
        let deep = format!("payload/{}", ["b"; 600].join("/"));
        for bad in [
            "payload/a\u{1b}[2J",
            "payload/a\nb",
            "payload/a\rb",
            "payload/gpj.\u{202E}exe",
            "payload/\u{2066}x",
            long.as_str(),
            deep.as_str(),
        ] {
            assert!(check_entry_name(bad, 1024).is_err(), "{bad:?}");
        }
    }
}
