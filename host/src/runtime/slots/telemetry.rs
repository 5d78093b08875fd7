//! The `telemetry` slot: where host events go.

use crate::error::Result;
use crate::runtime::Level;
use crate::runtime::instance::Calls;
use crate::runtime::wit::TelemetryGuest;

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

impl TelemetryEvent {
    /// An event named `name`, stamped now.
    pub fn now(name: &str, level: Level, attributes: Vec<(String, String)>) -> Self {
        Self {
            name: name.into(),
            level,
            timestamp_ms: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_millis() as u64),
            attributes,
        }
    }
}

/// Calls a telemetry pack.
pub struct TelemetryClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn TelemetryGuest,
}

impl<'a> TelemetryClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn TelemetryGuest) -> Self {
        Self { calls, guest }
    }

    /// `telemetry.emit`, then `telemetry.flush`.
    pub fn emit(&mut self, events: &[TelemetryEvent]) -> Result<()> {
        self.calls
            .call("telemetry.emit", |s| self.guest.emit(s, events))
    }
}
