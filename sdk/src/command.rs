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
    ///
    /// ```
    /// use envpack_sdk::Args;
    /// let args = Args::from_pairs([("tag", vec!["a".to_string(), "b".to_string()])]);
    /// assert_eq!(args.all("tag").len(), 2);
    /// ```
    pub fn from_pairs<N: Into<String>>(pairs: impl IntoIterator<Item = (N, Vec<String>)>) -> Self {
        Self(pairs.into_iter().map(|(n, v)| (n.into(), v)).collect())
    }

    /// The first value of `name`, if given.
    ///
    /// ```
    /// let args = envpack_sdk::Args::from_pairs([("env", vec!["dev".to_string()])]);
    /// assert_eq!(args.get("env"), Some("dev"));
    /// assert_eq!(args.get("other"), None);
    /// ```
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).and_then(|v| v.first()).map(String::as_str)
    }

    /// Every value of `name` (empty when not given).
    ///
    /// ```
    /// let args = envpack_sdk::Args::from_pairs([("key", vec!["a".to_string(), "b".to_string()])]);
    /// assert_eq!(args.all("key"), ["a", "b"]);
    /// assert!(args.all("none").is_empty());
    /// ```
    pub fn all(&self, name: &str) -> &[String] {
        self.0.get(name).map(Vec::as_slice).unwrap_or_default()
    }

    /// Whether the flag `name` was given.
    ///
    /// ```
    /// let args = envpack_sdk::Args::from_pairs([("force", vec!["true".to_string()])]);
    /// assert!(args.flag("force"));
    /// assert!(!args.flag("quiet"));
    /// ```
    pub fn flag(&self, name: &str) -> bool {
        self.get(name) == Some("true")
    }

    /// The value of a required argument; the host already checked it is
    /// there, so a missing one is reported as invalid input.
    ///
    /// ```
    /// let args = envpack_sdk::Args::from_pairs([("url", vec!["http://x".to_string()])]);
    /// assert_eq!(args.required("url")?, "http://x");
    /// assert!(args.required("missing").is_err());
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
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
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Output {
    /// Text shown to a person.
    pub text: String,
    /// The same result as a JSON document.
    pub json: Option<String>,
}

impl Output {
    /// Text output only.
    ///
    /// ```
    /// let out = envpack_sdk::Output::text("done");
    /// assert_eq!(out.json, None);
    /// ```
    pub fn text(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            json: None,
        }
    }

    /// Adds a JSON rendering.
    ///
    /// ```
    /// let out = envpack_sdk::Output::text("ok").with_json("{}");
    /// assert_eq!(out.json.as_deref(), Some("{}"));
    /// ```
    pub fn with_json(mut self, json: impl Into<String>) -> Self {
        self.json = Some(json.into());
        self
    }

    /// `value` as the result: pretty-printed JSON as the text people see,
    /// compact JSON for `envpack --json` (feature `serde`).
    ///
    /// ```
    /// #[derive(serde::Serialize)]
    /// struct Stats { keys: u32 }
    /// let out = envpack_sdk::Output::json(&Stats { keys: 3 })?;
    /// assert_eq!(out.json.as_deref(), Some(r#"{"keys":3}"#));
    /// assert!(out.text.contains("\"keys\": 3"));
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    #[cfg(feature = "serde")]
    pub fn json<T: serde::Serialize + ?Sized>(value: &T) -> Result<Self, crate::Error> {
        let fail = |e: serde_json::Error| {
            crate::Error::internal(format!("cannot render the result as JSON: {e}"))
        };
        Ok(Self {
            text: serde_json::to_string_pretty(value).map_err(fail)?,
            json: Some(serde_json::to_string(value).map_err(fail)?),
        })
    }
}
