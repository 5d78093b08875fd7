//! Unit tests of a pack's logic on the build machine (feature `testing`,
//! native builds only): an in-process fake of the envpack host.
//!
//! In a native build every host helper ([`log`](crate::log),
//! [`config`](crate::config), [`kv`](crate::kv), [`secret`](crate::secret),
//! [`process`](crate::process), [`http`](crate::http),
//! [`clock::now_ms`](crate::clock::now_ms)) talks to the [`FakeHost`] of the
//! current thread instead of the real imports, so the same pack code runs
//! under plain `cargo test`. Add the feature as a dev-dependency only:
//!
//! ```toml
//! [dev-dependencies]
//! envpack-sdk = { path = "...", features = ["testing"] }
//! ```
//!
//! Each test starts its own fake (tests run on threads of their own, so
//! they never share one):
//!
//! ```
//! use envpack_sdk::testing::FakeHost;
//! use envpack_sdk::{config, http, kv, log, secret, Level};
//!
//! let host = FakeHost::new();
//! host.config("base_url", "https://api.example.com")
//!     .secret("API_TOKEN", "s3cr3t")
//!     .respond("GET", "https://api.example.com/items", 200, r#"["a","b"]"#);
//!
//! // The pack's code, unchanged:
//! let base = config::require("base_url")?;
//! let resp = http::Request::get(&format!("{base}/items"))
//!     .credential_header("authorization", "Bearer {}", "API_TOKEN")
//!     .send()?;
//! kv::set("items", &resp.body)?;
//! log::info("synced", &[("status", &resp.status.to_string())]);
//!
//! // What it did:
//! let sent = &host.requests()[0];
//! assert_eq!(sent.header("authorization"), Some("Bearer s3cr3t"));
//! assert_eq!(host.kv("items").as_deref(), Some(&br#"["a","b"]"#[..]));
//! assert_eq!(host.logs()[0].level, Level::Info);
//! assert_eq!(secret::get("MISSING")?, None);
//! # Ok::<(), envpack_sdk::Error>(())
//! ```
//!
//! What the fake does not do: it grants every capability unless the test
//! [`deny`](FakeHost::deny)s one, whatever `pack.toml` requests (test the
//! manifest with `envpack pack test` and `envpack pack call`), and
//! [`process`](crate::process) only keeps a table of what was started.

use crate::http::Response;
use crate::{Error, fake};

pub use crate::fake::{LogLine, SentRequest};

/// The fake host of the current thread. [`FakeHost::new`] installs a fresh
/// one; dropping the handle removes it, so a later call without a fake says
/// so instead of reaching a previous test's state.
///
/// ```
/// let host = envpack_sdk::testing::FakeHost::new();
/// host.kv_set("cursor", b"41");
/// assert_eq!(envpack_sdk::kv::get("cursor")?, Some(b"41".to_vec()));
/// drop(host);
/// assert!(envpack_sdk::kv::get("cursor").is_err()); // no host any more
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
#[derive(Debug)]
pub struct FakeHost {
    // Bound to the thread whose fake it installed.
    _not_send: std::marker::PhantomData<*const ()>,
}

impl Default for FakeHost {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for FakeHost {
    fn drop(&mut self) {
        fake::uninstall();
    }
}

impl FakeHost {
    /// Installs a fresh fake host on this thread: no configuration, no
    /// secrets, an empty kv, no scripted responses, the real clock.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// assert_eq!(envpack_sdk::config::get("region")?, None);
    /// # drop(host);
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn new() -> Self {
        fake::install();
        Self {
            _not_send: std::marker::PhantomData,
        }
    }

    fn edit(&self, f: impl FnOnce(&mut fake::State)) -> &Self {
        // Installed by `new` and removed only by `drop`: always there.
        let _ = fake::with_state(f);
        self
    }

    fn read<R: Default>(&self, f: impl FnOnce(&fake::State) -> R) -> R {
        fake::with_state(|s| f(s)).unwrap_or_default()
    }

    /// Sets configuration `key` (what `envpack env config` sets).
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.config("region", "eu-west-1");
    /// assert_eq!(envpack_sdk::config::require("region")?, "eu-west-1");
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn config(&self, key: &str, value: &str) -> &Self {
        self.edit(|s| {
            s.config.insert(key.into(), value.into());
        })
    }

    /// Sets secret `name`, for [`secret`](crate::secret) and for credential
    /// headers ([`http::Request::credential_header`](crate::http::Request::credential_header)).
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.secret("API_TOKEN", "s3cr3t");
    /// assert_eq!(envpack_sdk::secret::require("API_TOKEN")?, "s3cr3t");
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn secret(&self, name: &str, value: &str) -> &Self {
        self.edit(|s| {
            s.secrets.insert(name.into(), value.into());
        })
    }

    /// Stores `value` under `key` in the pack's kv, as an earlier operation
    /// would have.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.kv_set("a", b"1").kv_set("b", b"2");
    /// assert_eq!(envpack_sdk::kv::list_keys("")?, ["a", "b"]);
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn kv_set(&self, key: &str, value: &[u8]) -> &Self {
        self.edit(|s| {
            s.kv.insert(key.into(), value.to_vec());
        })
    }

    /// What the pack's kv holds under `key`.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// envpack_sdk::kv::set("cursor", b"42")?;
    /// assert_eq!(host.kv("cursor"), Some(b"42".to_vec()));
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn kv(&self, key: &str) -> Option<Vec<u8>> {
        self.read(|s| s.kv.get(key).cloned())
    }

    /// Every kv key, sorted.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// envpack_sdk::kv::set("x", b"")?;
    /// assert_eq!(host.kv_keys(), ["x"]);
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn kv_keys(&self) -> Vec<String> {
        self.read(|s| s.kv.keys().cloned().collect())
    }

    /// Answers `method url` (the URL exactly as the pack writes it) with
    /// `status` and `body`. Script several answers for one request and
    /// they come in order, the last one repeating. An unscripted request
    /// fails with `unavailable`, naming it.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.respond("POST", "https://hooks.example.com/e", 503, "busy")
    ///     .respond("POST", "https://hooks.example.com/e", 202, "");
    /// let send = || envpack_sdk::http::Request::post("https://hooks.example.com/e").send();
    /// assert_eq!(send()?.status, 503);
    /// assert_eq!(send()?.status, 202);
    /// assert_eq!(send()?.status, 202);
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn respond(&self, method: &str, url: &str, status: u16, body: impl Into<Vec<u8>>) -> &Self {
        self.respond_with(
            method,
            url,
            Response {
                status,
                headers: Vec::new(),
                body: body.into(),
            },
        )
    }

    /// Answers `method url` with a whole [`Response`] (headers included).
    ///
    /// ```
    /// use envpack_sdk::http::Response;
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.respond_with("GET", "https://api.example.com/", Response {
    ///     status: 200,
    ///     headers: vec![("etag".into(), "\"v2\"".into())],
    ///     body: b"{}".to_vec(),
    /// });
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/").send()?;
    /// assert_eq!(resp.header("ETag"), Some("\"v2\""));
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn respond_with(&self, method: &str, url: &str, response: Response) -> &Self {
        self.script(method, url, Ok(response))
    }

    /// Makes `method url` fail with `error`, as a request that timed out or
    /// could not connect does.
    ///
    /// ```
    /// use envpack_sdk::Error;
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.fail("GET", "https://slow.example.com/", Error::timeout("request timed out"));
    /// let err = envpack_sdk::http::Request::get("https://slow.example.com/").send().unwrap_err();
    /// assert!(matches!(err, Error::Timeout(_)));
    /// ```
    pub fn fail(&self, method: &str, url: &str, error: Error) -> &Self {
        self.script(method, url, Err(error))
    }

    fn script(&self, method: &str, url: &str, answer: fake::Answer) -> &Self {
        self.edit(|s| {
            s.responses
                .entry((method.to_ascii_uppercase(), url.to_string()))
                .or_default()
                .push_back(answer);
        })
    }

    /// Every request the pack sent, in order, as the server saw it
    /// (credential placeholders filled in, `content-length` included).
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.respond("POST", "https://hooks.example.com/e", 200, "");
    /// envpack_sdk::http::Request::post("https://hooks.example.com/e").body(b"hi".to_vec()).send()?;
    /// let sent = &host.requests()[0];
    /// assert_eq!((sent.header("content-length"), sent.text().as_str()), (Some("2"), "hi"));
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn requests(&self) -> Vec<SentRequest> {
        self.read(|s| s.sent.clone())
    }

    /// Every log line the pack wrote, in order.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// envpack_sdk::log::warn("retrying", &[("attempt", "2")]);
    /// let line = &host.logs()[0];
    /// assert_eq!((line.message.as_str(), line.fields[0].1.as_str()), ("retrying", "2"));
    /// ```
    pub fn logs(&self) -> Vec<LogLine> {
        self.read(|s| s.logs.clone())
    }

    /// Sets the clock [`clock::now_ms`](crate::clock::now_ms) reads, in
    /// milliseconds since the Unix epoch.
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.set_now_ms(1_714_566_600_250);
    /// assert_eq!(envpack_sdk::clock::now_rfc3339(), "2024-05-01T12:30:00.250Z");
    /// host.advance_ms(750);
    /// assert_eq!(envpack_sdk::clock::now_ms(), 1_714_566_601_000);
    /// ```
    pub fn set_now_ms(&self, ms: u64) -> &Self {
        self.edit(|s| s.now_ms = Some(ms))
    }

    /// Moves the set clock forward (from the real time when none was set).
    ///
    /// ```
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.set_now_ms(0).advance_ms(1000);
    /// assert_eq!(envpack_sdk::clock::now_ms(), 1000);
    /// ```
    pub fn advance_ms(&self, ms: u64) -> &Self {
        let now = fake::now_ms().unwrap_or_else(crate::clock::now_ms);
        self.set_now_ms(now.saturating_add(ms))
    }

    /// Denies `capability` (`kv`, `log`, `config:KEY`, `secret:NAME`,
    /// `credential:NAME`, `http:HOST`, `process`) as an environment that
    /// did not grant it would: calls needing it return
    /// [`Error::Denied`](crate::Error::Denied), naming it. Everything else
    /// is allowed.
    ///
    /// ```
    /// use envpack_sdk::Error;
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// host.deny("kv");
    /// let err = envpack_sdk::kv::get("a").unwrap_err();
    /// assert!(matches!(&err, Error::Denied(m) if m.contains("\"kv\"")));
    /// ```
    pub fn deny(&self, capability: &str) -> &Self {
        self.edit(|s| {
            s.denied.insert(capability.to_string());
        })
    }

    /// What [`process::start`](crate::process::start) recorded, by revision.
    ///
    /// ```
    /// use envpack_sdk::process::{self, Spec};
    /// let host = envpack_sdk::testing::FakeHost::new();
    /// process::start(&Spec { revision: "r1".into(), argv: vec!["./run".into()], env: vec![] })?;
    /// assert!(host.processes()[0].running);
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn processes(&self) -> Vec<crate::process::Info> {
        self.read(|s| s.processes.values().cloned().collect())
    }
}
