//! Arguments and output of pack-contributed CLI commands.

use std::collections::BTreeMap;

/// The arguments of a command, as the host parsed them against the
/// declaration in `pack.toml`.
///
/// ```
/// use envpack_sdk::Args;
/// let args = Args::from_pairs([("name", vec!["web".to_string()]), ("force", vec!["true".into()])]);
/// assert_eq!(args.get("name"), Some("web"));
/// assert!(args.flag("force"));
/// assert!(args.get("missing").is_none());
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Args(BTreeMap<String, Vec<String>>);

impl Args {
    /// Builds arguments from name/values pairs.
    pub fn from_pairs<N: Into<String>>(pairs: impl IntoIterator<Item = (N, Vec<String>)>) -> Self {
        Self(pairs.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }

    /// The first value of `name`, if given.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of `name` (empty when not given).
    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether the flag `name` was given.
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// The value of a required argument; the host already checked it is
    /// there, so a missing one is reported as invalid input.
    pub fn required(&self, name: &str) -> Result<&str, crate::Error> {
        self.get(name)
            .ok_or_else(|| crate::Error::invalid_input(format!("missing argument {name:?}")))
    }
}

/// What a command prints: text for people, and optionally JSON for
/// `envpack --json`.
///
/// ```
/// let out = envpack_sdk::Output::text("3 keys").with_json(r#"{"keys":3}"#);
/// assert_eq!(out.text, "3 keys");
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Output {
    /// Text shown to a person.
    pub text: String,
    /// The same result as a JSON document.
    pub json: Option<String>,
}

impl Output {
    /// Text output only.
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            json: None,
        }
    }

    /// Adds a JSON rendering.
    pub fn with_json(mut self, json: impl Into<String>) -> Self {
        self.json = Some(json.into());
        self
    }
}
