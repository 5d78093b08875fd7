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

/// Where events wait for the telemetry pack, with separate budgets so a
/// noisy pack can never crowd out the host's own evidence: events that only
/// repeat what a pack said ([`pack`](Self::pack), such as `pack.log`) keep
/// at most [`PACK_EVENTS`]; host events ([`host`](Self::host): commands,
/// denials, deployments) keep up to [`HOST_EVENTS`]. What does not fit is
/// counted and reported as one summary event when drained.
#[derive(Debug, Default)]
pub struct EventBuffer(std::sync::Mutex<Buffered>);

#[derive(Debug, Default)]
struct Buffered {
    events: Vec<TelemetryEvent>,
    pack_events: usize,
    pack_dropped: u64,
    host_dropped: u64,
}

/// Pack-originated events kept per session.
pub const PACK_EVENTS: usize = 100;

/// Host events kept per session.
pub const HOST_EVENTS: usize = 10_000;

impl EventBuffer {
    fn lock(&self) -> std::sync::MutexGuard<'_, Buffered> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records a host event.
    pub fn host(&self, event: TelemetryEvent) {
        let mut b = self.lock();
        if b.events.len() - b.pack_events < HOST_EVENTS {
            b.events.push(event);
        } else {
            b.host_dropped += 1;
        }
    }

    /// Records an event that repeats what a pack said.
    pub fn pack(&self, event: TelemetryEvent) {
        let mut b = self.lock();
        if b.pack_events < PACK_EVENTS {
            b.pack_events += 1;
            b.events.push(event);
        } else {
            b.pack_dropped += 1;
        }
    }

    /// Everything recorded so far, in order, then one `events.dropped`
    /// summary if anything did not fit; the buffer is left empty.
    pub fn drain(&self) -> Vec<TelemetryEvent> {
        let mut b = std::mem::take(&mut *self.lock());
        if b.pack_dropped + b.host_dropped > 0 {
            b.events.push(TelemetryEvent::now(
                "events.dropped",
                Level::Warn,
                vec![
                    ("pack_events".into(), b.pack_dropped.to_string()),
                    ("host_events".into(), b.host_dropped.to_string()),
                ],
            ));
        }
        b.events
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
