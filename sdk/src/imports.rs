//! Typed helpers for the host imports. Each needs a capability requested in
//! `pack.toml` and granted by the operator; otherwise it returns
//! [`Error::Denied`](crate::Error::Denied) naming the capability.
//!
//! In a native build (`cargo test`) the same helpers talk to the fake host
//! of `envpack_sdk::testing` (feature `testing`) instead, so unit tests run
//! the pack's own calls.

/// Structured logging (capability `log`).
///
/// ```no_run
/// envpack_sdk::log::info("deployed revision", &[("revision", "r3")]);
/// ```
pub mod log {
    use crate::Level;
    use crate::host::log as wit;

    /// Writes a log line with fields. Errors (a missing `log` grant) are
    /// ignored: logging never fails a pack.
    ///
    /// ```no_run
    /// envpack_sdk::log::write(envpack_sdk::Level::Info, "synced", &[("items", "12")]);
    /// ```
    pub fn write(level: Level, message: &str, fields: &[(&str, &str)]) {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let _ = wit::write(level, message, &fields);
    }

    /// Debug-level line.
    ///
    /// ```no_run
    /// envpack_sdk::log::debug("cache miss", &[("key", "a/b")]);
    /// ```
    pub fn debug(message: &str, fields: &[(&str, &str)]) {
        write(Level::Debug, message, fields)
    }

    /// Info-level line.
    ///
    /// ```no_run
    /// envpack_sdk::log::info("deployed", &[("revision", "r3")]);
    /// ```
    pub fn info(message: &str, fields: &[(&str, &str)]) {
        write(Level::Info, message, fields)
    }

    /// Warning.
    ///
    /// ```no_run
    /// envpack_sdk::log::warn("retrying", &[("attempt", "2")]);
    /// ```
    pub fn warn(message: &str, fields: &[(&str, &str)]) {
        write(Level::Warn, message, fields)
    }

    /// Error-level line.
    ///
    /// ```no_run
    /// envpack_sdk::log::error("upload failed", &[("status", "503")]);
    /// ```
    pub fn error(message: &str, fields: &[(&str, &str)]) {
        write(Level::Error, message, fields)
    }
}

/// Non-secret configuration set by the operator (capability `config:<key>`).
///
/// ```no_run
/// let base = envpack_sdk::config::get("base_url")?.unwrap_or_else(|| "http://localhost".into());
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub mod config {
    use crate::Error;
    use crate::host::config as wit;

    /// The value of `key`, or `None` when the operator has not set it.
    ///
    /// ```no_run
    /// let region = envpack_sdk::config::get("region")?.unwrap_or_else(|| "eu-west-1".into());
    /// # let _ = region;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn get(key: &str) -> Result<Option<String>, Error> {
        wit::get(key)
    }

    /// The value of `key`, or an error telling the operator how to set it.
    ///
    /// ```no_run
    /// let url = envpack_sdk::config::require("base_url")?;
    /// # let _ = url;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn require(key: &str) -> Result<String, Error> {
        get(key)?.ok_or_else(|| {
            Error::invalid_input(format!(
                "configuration key {key:?} is not set; help: envpack env config <env> <pack> {key} <value>"
            ))
        })
    }
}

/// The pack's private key/value store (capability `kv`).
///
/// ```no_run
/// envpack_sdk::kv::set("cursor", b"42")?;
/// assert_eq!(envpack_sdk::kv::get("cursor")?.as_deref(), Some(&b"42"[..]));
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub mod kv {
    use crate::Error;
    use crate::host::kv as wit;

    /// The value under `key`.
    ///
    /// ```no_run
    /// let cursor = envpack_sdk::kv::get("sync/cursor")?;
    /// # let _ = cursor;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        wit::get(key)
    }

    /// Stores `value` under `key`.
    ///
    /// ```no_run
    /// envpack_sdk::kv::set("sync/cursor", b"42")?;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        wit::set(key, value)
    }

    /// Removes `key`; `true` when it existed.
    ///
    /// ```no_run
    /// let existed = envpack_sdk::kv::delete("sync/cursor")?;
    /// # let _ = existed;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn delete(key: &str) -> Result<bool, Error> {
        wit::delete(key)
    }

    /// Keys starting with `prefix`, sorted.
    ///
    /// ```no_run
    /// for key in envpack_sdk::kv::list_keys("sync/")? {
    ///     envpack_sdk::log::debug("key", &[("key", &key)]);
    /// }
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn list_keys(prefix: &str) -> Result<Vec<String>, Error> {
        wit::list_keys(prefix)
    }
}

/// Named secrets from the environment (capability `secret:<name>`).
///
/// ```no_run
/// let key = envpack_sdk::secret::require("KINETIC_API_KEY")?;
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub mod secret {
    use crate::Error;
    use crate::host::secrets_access as wit;

    /// The secret's value, or `None` when the environment has none.
    ///
    /// ```no_run
    /// if let Some(token) = envpack_sdk::secret::get("API_TOKEN")? {
    ///     # let _ = token;
    /// }
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn get(name: &str) -> Result<Option<String>, Error> {
        wit::get(name)
    }

    /// The secret's value, or an error telling the operator how to set it.
    ///
    /// ```no_run
    /// let token = envpack_sdk::secret::require("API_TOKEN")?;
    /// # let _ = token;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn require(name: &str) -> Result<String, Error> {
        get(name)?.ok_or_else(|| {
            Error::not_found(format!(
                "secret {name:?} is not set; help: envpack secrets put --env <env> {name}"
            ))
        })
    }
}

/// Revision processes on this machine (capability `process`; deployers).
///
/// ```no_run
/// use envpack_sdk::process::{self, Spec};
/// let info = process::start(&Spec {
///     revision: "r1".into(),
///     argv: vec!["./serve.sh".into(), "{port}".into()],
///     env: vec![],
/// })?;
/// println!("listening on 127.0.0.1:{}", info.port);
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub mod process {
    pub use crate::__wit::greentic::envpack::process::{Info, Spec};
    use crate::Error;
    use crate::host::process as wit;

    /// Starts the revision's process.
    ///
    /// ```no_run
    /// use envpack_sdk::process::{self, Spec};
    /// let info = process::start(&Spec { revision: "r1".into(), argv: vec!["./run".into()], env: vec![] })?;
    /// # let _ = info;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn start(spec: &Spec) -> Result<Info, Error> {
        wit::start(spec)
    }

    /// Stops it; `false` when none was running.
    ///
    /// ```no_run
    /// let was_running = envpack_sdk::process::stop("r1")?;
    /// # let _ = was_running;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn stop(revision: &str) -> Result<bool, Error> {
        wit::stop(revision)
    }

    /// Its state, if it was started.
    ///
    /// ```no_run
    /// if let Some(info) = envpack_sdk::process::status("r1")? {
    ///     println!("port {}", info.port);
    /// }
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn status(revision: &str) -> Result<Option<Info>, Error> {
        wit::status(revision)
    }

    /// Every process of the environment.
    ///
    /// ```no_run
    /// let running = envpack_sdk::process::list()?.len();
    /// # let _ = running;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn list() -> Result<Vec<Info>, Error> {
        wit::list()
    }
}
