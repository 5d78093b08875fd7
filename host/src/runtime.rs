//! The sandboxed WebAssembly runtime.
//!
//! One [`Runtime`] per process holds the wasmtime `Engine` and one `Linker`
//! per supported API version. Packs are compiled once, at install, into a
//! precompiled artifact keyed by the pack digest and the engine's
//! compatibility hash ([`Runtime::precompile`]); commands only ever load that
//! artifact ([`Runtime::load_artifact`]) and instantiate it from an
//! `InstancePre` ([`LoadedPack::instantiate`]), one `Store` per instance.
//!
//! - [`wit`](self) (private): the versioned boundary. Generated bindings live
//!   there, one module per API version; nothing else sees them.
//! - [`slots`]: one typed client per slot (`instance.state()?.get(..)`), and
//!   the domain types each slot exchanges.
//! - [`capabilities`]: one file per host import, each with its trait (where
//!   the data comes from) and its allow/deny table.
//!
//! The sandbox: WASI with nothing inherited (no env vars, no args, no stdin,
//! no sockets, no files except a per-pack scratch directory); outbound HTTP
//! only to granted hosts; a memory limit per instance; a deadline per call
//! enforced with epoch interruption; a bounded wasm stack. A trap or limit hit
//! becomes a [`Kind::PackFault`] error naming the pack and the limit, and the
//! instance is discarded.
//!
//! This layer imports nothing from environments, deployments or the CLI.

pub mod capabilities;
mod capture;
mod deadline;
mod dynamic;
mod engine;
mod fault;
mod instance;
pub mod placeholder;
mod scratch;
pub mod slots;
mod store_data;
mod wit;

pub use crate::types::PackLabel;
pub use capabilities::{Denial, Granter, Services};
pub use engine::{Limits, Runtime};
pub use instance::{InstanceContext, LoadedPack, PackInstance};
pub use wit::ApiVersion;

use crate::error::{Error, Kind};

/// An error a pack returned, or a host import returns to a pack: the cases
/// of the WIT `error` variant, which a pack can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PackError {
    /// The WIT error case.
    pub kind: PackErrorKind,
    /// Its message.
    pub message: String,
}

/// The cases of the WIT `error` variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PackErrorKind {
    /// `invalid-input`
    InvalidInput,
    /// `not-found`
    NotFound,
    /// `denied`
    Denied,
    /// `conflict`
    Conflict,
    /// `unavailable`
    Unavailable,
    /// `timeout`
    Timeout,
    /// `internal`
    Internal,
}

/// The one mapping from host error kinds to the WIT cases a pack sees when a
/// host import fails (for example when the state pack behind `kv` fails).
/// Kinds the WIT has no case for become `unavailable`: to the calling pack,
/// a broken or tampered dependency is one it cannot use right now.
impl From<Kind> for PackErrorKind {
    fn from(kind: Kind) -> Self {
        match kind {
            Kind::InvalidInput => Self::InvalidInput,
            Kind::NotFound => Self::NotFound,
            Kind::Denied => Self::Denied,
            Kind::Conflict => Self::Conflict,
            Kind::Timeout => Self::Timeout,
            Kind::Internal | Kind::ChecksFailed => Self::Internal,
            Kind::Unobservable => Self::Unavailable,
            Kind::Unavailable | Kind::PackFault | Kind::Integrity => Self::Unavailable,
        }
    }
}

/// The one mapping from the WIT cases a pack returns to host error kinds.
impl From<PackErrorKind> for Kind {
    fn from(kind: PackErrorKind) -> Self {
        match kind {
            PackErrorKind::InvalidInput => Self::InvalidInput,
            PackErrorKind::NotFound => Self::NotFound,
            PackErrorKind::Denied => Self::Denied,
            PackErrorKind::Conflict => Self::Conflict,
            PackErrorKind::Unavailable => Self::Unavailable,
            PackErrorKind::Timeout => Self::Timeout,
            PackErrorKind::Internal => Self::Internal,
        }
    }
}

impl PackError {
    /// An error of `kind`.
    pub fn new(kind: PackErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Converts into a host error attributed to `pack`, in environment
    /// `env` when it runs in one: `<env>` is replaced by its name, and a
    /// trailing `help: COMMAND` becomes the error's hint
    /// ([`placeholder`]).
    pub fn into_host(self, pack: &PackLabel, env: Option<&crate::types::EnvName>) -> Error {
        let message = placeholder::fill(self.message, env);
        let (message, hint) = placeholder::split_hint(&message);
        let err = Error::new(self.kind.into(), format!("{pack}: {message}"));
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

impl From<Error> for PackError {
    fn from(e: Error) -> Self {
        PackError::new(e.kind().into(), e.message().to_string())
    }
}

/// What a host import returns: an error the pack can act on (a WIT
/// variant), or a host bug, which traps the call (wasmtime's trappable-error
/// split). A trap from a host bug is reported as an internal error of the
/// host, never blamed on the pack.
#[derive(Debug)]
pub enum HostError {
    /// Returned to the pack as the WIT `error`.
    Pack(PackError),
    /// A bug in the host: traps the call.
    Bug(String),
}

impl From<PackError> for HostError {
    fn from(e: PackError) -> Self {
        HostError::Pack(e)
    }
}

impl From<Error> for HostError {
    fn from(e: Error) -> Self {
        HostError::Pack(e.into())
    }
}

/// The trap a host bug raises; [`fault`] recognises it.
#[derive(Debug)]
pub(crate) struct HostBug(pub(crate) String);

impl std::fmt::Display for HostBug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "host bug: {}", self.0)
    }
}

impl std::error::Error for HostBug {}

/// Log and event severity.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// Trace.
    Trace,
    /// Debug.
    Debug,
    /// Info.
    Info,
    /// Warning.
    Warn,
    /// Error.
    Error,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every WIT case survives pack -> host -> pack; host kinds without a
    /// WIT case map as documented.
    #[test]
    fn error_kinds_map_in_one_place() {
        use PackErrorKind as P;
        for p in [
            P::InvalidInput,
            P::NotFound,
            P::Denied,
            P::Conflict,
            P::Unavailable,
            P::Timeout,
            P::Internal,
        ] {
            assert_eq!(P::from(Kind::from(p)), p);
        }
        assert_eq!(P::from(Kind::Integrity), P::Unavailable);
        assert_eq!(P::from(Kind::PackFault), P::Unavailable);
        assert_eq!(P::from(Kind::ChecksFailed), P::Internal);
    }
}
