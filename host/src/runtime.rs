//! The sandboxed WebAssembly runtime.
//!
//! One [`Runtime`] per process holds the wasmtime `Engine` and a `Linker`
//! with every host import. Packs are compiled once, at install, into a
//! precompiled artifact keyed by the pack digest and the engine's
//! compatibility hash ([`Runtime::precompile`]); commands only ever load that
//! artifact ([`Runtime::load`]) and instantiate it from an `InstancePre`
//! ([`LoadedPack::instantiate`]), one `Store` per instance.
//!
//! The sandbox: WASI with nothing inherited (no env vars, no args, no stdin,
//! no sockets, no files except a per-pack scratch directory); outbound HTTP
//! only to granted hosts; a memory limit per instance; a deadline per call
//! enforced with epoch interruption; a bounded wasm stack. A trap or limit hit
//! becomes a [`Kind::PackFault`](crate::error::Kind) error naming the pack and
//! the limit, and the instance is discarded.

mod capabilities;
mod dynamic;
mod engine;
mod fault;
mod instance;
mod services;
pub mod since_v0_1;
mod store_data;

use std::fmt;

pub use capabilities::{Denial, Granter};
pub use engine::{Limits, Runtime};
pub use instance::{InstanceContext, LoadedPack, PackInstance};
pub use services::{HostServices, LocalServices, emit_log};

/// The pack as named in messages: descriptor and digest.
#[derive(Clone, Debug)]
pub struct PackLabel {
    /// The pack's descriptor.
    pub descriptor: envpack_descriptor::Descriptor,
    /// The pack file's digest.
    pub digest: envpack_manifest::Digest,
}

impl fmt::Display for PackLabel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pack {}", self.descriptor)
    }
}

/// An error a pack returned, or a host import returns to a pack.
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

impl PackError {
    /// An error of `kind`.
    pub fn new(kind: PackErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// Converts into a host error attributed to `pack`.
    pub fn into_host(self, pack: &PackLabel) -> crate::error::Error {
        use crate::error::Kind;
        let kind = match self.kind {
            PackErrorKind::InvalidInput => Kind::InvalidInput,
            PackErrorKind::NotFound => Kind::NotFound,
            PackErrorKind::Denied => Kind::Denied,
            PackErrorKind::Conflict => Kind::Conflict,
            PackErrorKind::Unavailable => Kind::Unavailable,
            PackErrorKind::Timeout => Kind::Timeout,
            PackErrorKind::Internal => Kind::Internal,
        };
        crate::error::Error::new(kind, format!("{pack}: {}", self.message))
    }
}

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

/// A value in a state pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// The bytes.
    pub value: Vec<u8>,
    /// The generation; 1 after the first write.
    pub generation: u64,
}

/// A compare-and-swap condition for state writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The key must not exist.
    Absent,
    /// The key must be at this generation.
    Generation(u64),
}

/// A structured event for the telemetry slot.
#[derive(Clone, Debug, serde::Serialize)]
pub struct TelemetryEvent {
    /// Dotted name.
    pub name: String,
    /// Severity.
    pub level: Level,
    /// Milliseconds since the Unix epoch.
    pub timestamp_ms: u64,
    /// Attributes.
    pub attributes: Vec<(String, String)>,
}

/// What a pack command printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// For people.
    pub text: String,
    /// For `--json`.
    pub json: Option<String>,
}
