//! Bindings for API version 0.1.0 (`wit/v0.1.0`), and conversions between
//! its generated types and the host's domain types. Nothing outside this
//! module touches generated types.

wasmtime::component::bindgen!({
    path: "../wit/v0.1.0",
    world: "host-view",
});

pub use exports::greentic::envpack as guest;
pub use greentic::envpack as host;

use crate::runtime::{PackError, PackErrorKind};

impl From<host::types::Error> for PackError {
    fn from(e: host::types::Error) -> Self {
        use host::types::Error as E;
        let (kind, message) = match e {
            E::InvalidInput(m) => (PackErrorKind::InvalidInput, m),
            E::NotFound(m) => (PackErrorKind::NotFound, m),
            E::Denied(m) => (PackErrorKind::Denied, m),
            E::Conflict(m) => (PackErrorKind::Conflict, m),
            E::Unavailable(m) => (PackErrorKind::Unavailable, m),
            E::Timeout(m) => (PackErrorKind::Timeout, m),
            E::Internal(m) => (PackErrorKind::Internal, m),
        };
        PackError { kind, message }
    }
}

impl From<PackError> for host::types::Error {
    fn from(e: PackError) -> Self {
        use host::types::Error as E;
        match e.kind {
            PackErrorKind::InvalidInput => E::InvalidInput(e.message),
            PackErrorKind::NotFound => E::NotFound(e.message),
            PackErrorKind::Denied => E::Denied(e.message),
            PackErrorKind::Conflict => E::Conflict(e.message),
            PackErrorKind::Unavailable => E::Unavailable(e.message),
            PackErrorKind::Timeout => E::Timeout(e.message),
            PackErrorKind::Internal => E::Internal(e.message),
        }
    }
}

impl From<host::types::Level> for crate::runtime::Level {
    fn from(l: host::types::Level) -> Self {
        use host::types::Level as L;
        match l {
            L::Trace => Self::Trace,
            L::Debug => Self::Debug,
            L::Info => Self::Info,
            L::Warn => Self::Warn,
            L::Error => Self::Error,
        }
    }
}

impl From<crate::runtime::Level> for host::types::Level {
    fn from(l: crate::runtime::Level) -> Self {
        use crate::runtime::Level as L;
        match l {
            L::Trace => Self::Trace,
            L::Debug => Self::Debug,
            L::Info => Self::Info,
            L::Warn => Self::Warn,
            L::Error => Self::Error,
        }
    }
}

impl From<guest::state::Entry> for crate::runtime::StateEntry {
    fn from(e: guest::state::Entry) -> Self {
        Self {
            value: e.value,
            generation: e.generation,
        }
    }
}

impl From<crate::runtime::Expect> for guest::state::Expect {
    fn from(e: crate::runtime::Expect) -> Self {
        match e {
            crate::runtime::Expect::Absent => Self::Absent,
            crate::runtime::Expect::Generation(g) => Self::Generation(g),
        }
    }
}

impl From<&crate::runtime::TelemetryEvent> for guest::telemetry::Event {
    fn from(e: &crate::runtime::TelemetryEvent) -> Self {
        Self {
            name: e.name.clone(),
            level: e.level.into(),
            timestamp_ms: e.timestamp_ms,
            attributes: e.attributes.clone(),
        }
    }
}

impl From<guest::command::Output> for crate::runtime::CommandOutput {
    fn from(o: guest::command::Output) -> Self {
        Self {
            text: o.text,
            json: o.json,
        }
    }
}
