//! # envpack-sdk
//!
//! Everything you need to write an envpack pack in Rust: one trait per slot
//! ([`StatePack`], [`SecretsPack`], [`TelemetryPack`], [`DeployerPack`],
//! [`KineticPack`]) and one for packs that only add commands
//! ([`CommandPack`]), one export macro per slot, and typed helpers for the host imports ([`log`],
//! [`config`], [`kv`], [`secret`], [`http`], [`net`]). You never write WIT glue.
//!
//! A pack is a `cdylib` crate built for `wasm32-wasip2` with a `pack.toml`
//! next to its `Cargo.toml`; `envpack pack build` builds it and embeds the
//! manifest.
//!
//! ```no_run
//! use std::cell::RefCell;
//! use std::collections::BTreeMap;
//! use envpack_sdk::{Error, StatePack, state::{Entry, Expect}};
//!
//! #[derive(Default)]
//! struct Memory(RefCell<BTreeMap<String, Entry>>);
//!
//! impl StatePack for Memory {
//!     fn get(&self, key: String) -> Result<Option<Entry>, Error> {
//!         Ok(self.0.borrow().get(&key).cloned())
//!     }
//!     fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
//!         let mut map = self.0.borrow_mut();
//!         let current = map.get(&key).map(|e| e.generation);
//!         envpack_sdk::state::check_expect(&key, current, expect.as_ref())?;
//!         let generation = current.unwrap_or(0) + 1;
//!         map.insert(key, Entry { value, generation });
//!         Ok(generation)
//!     }
//!     fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
//!         let mut map = self.0.borrow_mut();
//!         let current = map.get(&key).map(|e| e.generation);
//!         envpack_sdk::state::check_expect(&key, current, expect.as_ref())?;
//!         Ok(map.remove(&key).is_some())
//!     }
//!     fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
//!         Ok(self.0.borrow().keys().filter(|k| k.starts_with(&prefix)).cloned().collect())
//!     }
//! }
//!
//! envpack_sdk::export_state!(Memory);
//! ```
//!
//! ## Features
//! - `testing`: `testing::FakeHost`, an in-process fake
//!   host so plain `cargo test` runs a pack's logic natively (enable it in
//!   `[dev-dependencies]`).
//! - `serde`: `Serialize` and `Deserialize` for the public records (state
//!   entries, telemetry events, levels, deployer and Kinetic records,
//!   [`Error`], [`Output`]), with Rust's names for fields and variants, and
//!   [`Output::json`].
//!
//! ```
//! # #[cfg(feature = "serde")] {
//! use envpack_sdk::{Level, telemetry::Event};
//! let event = Event { name: "a.b".into(), level: Level::Warn, timestamp_ms: 1, attributes: vec![] };
//! let text = serde_json::to_string(&event).expect("serialize");
//! assert_eq!(text, r#"{"name":"a.b","level":"Warn","timestamp_ms":1,"attributes":[]}"#);
//! let back: Event = serde_json::from_str(&text).expect("deserialize");
//! assert_eq!(back.level, Level::Warn);
//! # }
//! ```
//!
//! ## Instances and state
//! The host creates a fresh instance of your pack for each operation (each
//! CLI command, each deployment step), so in-memory state lives only as long
//! as that operation. Keep anything durable in [`kv`]. Slot trait methods take
//! `&self`: use `RefCell` / `Cell` for in-memory state (packs are
//! single-threaded).

#![warn(missing_docs)]

pub mod clock;
mod command;
mod error;
#[cfg(not(target_arch = "wasm32"))]
mod fake;
mod host;
pub mod http;
mod imports;
pub mod kinetic;
mod level;
pub mod net;
mod slots;
#[cfg(all(feature = "testing", not(target_arch = "wasm32")))]
pub mod testing;

#[doc(hidden)]
pub mod __wit;

pub use command::{Args, Output};
pub use imports::{config, kv, log, process, secret};
pub use kinetic::KineticPack;
pub use slots::{
    CommandPack, DeployerPack, SecretsPack, StatePack, TelemetryPack, deployer, state, telemetry,
};

/// The error every pack function returns: one variant per kind of failure
/// the host understands. See the variants for what each means.
///
/// ```
/// use envpack_sdk::Error;
/// let e = Error::not_found(format!("no secret named {:?}", "API_KEY"));
/// assert!(matches!(e, Error::NotFound(_)));
/// ```
pub use __wit::greentic::envpack::types::Error;

/// Severity of a log line or telemetry event. Shown and parsed as its
/// lowercase name (`Display`, `FromStr`), ordered by severity.
///
/// ```
/// use envpack_sdk::Level;
/// let min: Level = "warn".parse()?;
/// assert!(Level::Error >= min && Level::Info < min);
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
pub use __wit::greentic::envpack::types::Level;

/// Ordered key/value pairs.
///
/// ```
/// let attrs: envpack_sdk::Attributes = vec![("revision".into(), "r1".into())];
/// assert_eq!(attrs[0].0, "revision");
/// ```
pub type Attributes = Vec<(String, String)>;

/// The WIT API version this SDK implements, read at build time from the
/// WIT package it binds (`package greentic:envpack@0.2.0;`); `envpack pack
/// build` reads it from the stamp the export macros place in the pack.
///
/// ```
/// assert!(envpack_sdk::API_VERSION.starts_with("0."));
/// ```
pub const API_VERSION: &str = env!("ENVPACK_WIT_API_VERSION");

#[doc(hidden)]
pub const __API_VERSION_LEN: usize = API_VERSION.len();

#[doc(hidden)]
pub const fn __api_version_bytes() -> [u8; __API_VERSION_LEN] {
    __bytes(API_VERSION)
}

/// A string's bytes as an array of its length, for link sections.
#[doc(hidden)]
pub const fn __bytes<const N: usize>(s: &str) -> [u8; N] {
    let src = s.as_bytes();
    let mut out = [0u8; N];
    let mut i = 0;
    while i < src.len() && i < N {
        out[i] = src[i];
        i += 1;
    }
    out
}

#[doc(hidden)]
pub const __SDK_VERSION: &str = env!("CARGO_PKG_VERSION");

#[doc(hidden)]
pub const __SDK_VERSION_LEN: usize = __SDK_VERSION.len();

#[doc(hidden)]
pub const fn __sdk_version_bytes() -> [u8; __SDK_VERSION_LEN] {
    __bytes(__SDK_VERSION)
}

/// Places the API and SDK version stamps in the pack; used by the export
/// macros.
#[doc(hidden)]
#[macro_export]
macro_rules! __stamp {
    () => {
        #[unsafe(link_section = "envpack:api-version")]
        #[used]
        static __ENVPACK_API_VERSION: [u8; $crate::__API_VERSION_LEN] =
            $crate::__api_version_bytes();
        #[unsafe(link_section = "envpack:sdk-version")]
        #[used]
        static __ENVPACK_SDK_VERSION: [u8; $crate::__SDK_VERSION_LEN] =
            $crate::__sdk_version_bytes();
    };
}
