//! Capability checks: one [`Granter`] per instance, asked at every host import.
//!
//! A call is allowed when the pack's manifest requests a capability covering
//! it AND the operator granted one covering it. Anything else is `denied`,
//! with a message naming the capability and how to grant it, and recorded so
//! the host can report it even if the pack swallows the error.
//!
//! One file per capability, as Spin's factors: each defines the small trait
//! its data comes through ([`config::ConfigSource`], [`kv::KvStore`],
//! [`secrets::SecretSource`], [`process::ProcessHost`], [`log::LogSink`]),
//! the checked operation the version modules call, and its allow/deny table
//! as a unit test. [`Services`] bundles one implementation of each for an
//! instance; whoever builds the instance (the environment session, `pack
//! call`, a benchmark) chooses them.

pub mod config;
pub mod credentials;
pub mod http;
pub mod kv;
pub mod log;
pub mod process;
pub mod secrets;
pub mod socket;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use envpack_manifest::{Capability, Grants};

use super::slots::telemetry::{EventBuffer, TelemetryEvent};
use super::{Level, PackError, PackErrorKind, PackLabel};

/// Where each host import of one instance gets and puts its data. The
/// default has no kv store, no processes, no config, no secrets, and logs
/// through `tracing`.
#[derive(Clone)]
pub struct Services {
    /// `config`.
    pub config: Arc<dyn config::ConfigSource>,
    /// `secrets-access`.
    pub secrets: Arc<dyn secrets::SecretSource>,
    /// `kv`.
    pub kv: Arc<dyn kv::KvStore>,
    /// `process`.
    pub processes: Arc<dyn process::ProcessHost>,
    /// `log`.
    pub log: Arc<dyn log::LogSink>,
}

impl Default for Services {
    fn default() -> Self {
        Self {
            config: Arc::new(config::NoConfig),
            secrets: Arc::new(secrets::NoSecrets),
            kv: Arc::new(kv::NoKv),
            processes: Arc::new(process::NoProcesses),
            log: Arc::new(log::TracingLog),
        }
    }
}

impl std::fmt::Debug for Services {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Services").finish_non_exhaustive()
    }
}

/// Decides, for one pack instance, which capability uses are allowed.
#[derive(Debug)]
pub struct Granter {
    pack: PackLabel,
    requested: Grants,
    granted: Grants,
    grant_hint: String,
    denials: Mutex<Vec<Denial>>,
    events: Option<Arc<EventBuffer>>,
    /// Denials so far, and those not logged at `warn` since the last
    /// [`take_quiet`](Self::take_quiet).
    warned: AtomicU64,
    quiet: AtomicU64,
}

/// Denials per instance logged one by one at `warn`; the rest are counted
/// and summarised after each call.
pub const LOUD_DENIALS: u64 = 10;

/// A refused capability use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denial {
    /// What the pack tried to use.
    pub capability: Capability,
    /// Whether its manifest requests it (so only the grant is missing).
    pub requested: bool,
    /// The message returned to the pack.
    pub message: String,
}

impl Granter {
    /// A granter for `pack`. `grant_hint` is the command that grants a
    /// capability, with `{cap}` where the capability goes.
    pub fn new(
        pack: PackLabel,
        requested: Grants,
        granted: Grants,
        grant_hint: impl Into<String>,
    ) -> Self {
        Self {
            pack,
            requested,
            granted,
            grant_hint: grant_hint.into(),
            denials: Mutex::new(Vec::new()),
            events: None,
            warned: AtomicU64::new(0),
            quiet: AtomicU64::new(0),
        }
    }

    /// Also records each denial as a `capability.denied` telemetry event.
    pub fn with_events(mut self, events: Arc<EventBuffer>) -> Self {
        self.events = Some(events);
        self
    }

    /// Grants exactly what the manifest requests (used by `pack call
    /// --grant-requested` and by tests).
    pub fn requested_only(pack: PackLabel, requested: Grants) -> Self {
        Self::new(pack, requested.clone(), requested, "")
    }

    /// The pack.
    pub fn pack(&self) -> &PackLabel {
        &self.pack
    }

    /// Checks one use of a capability.
    pub fn check(&self, used: &Capability) -> Result<(), PackError> {
        let requested = self.requested.covers(used);
        let message = if !requested {
            format!(
                "{} may not use capability \"{used}\": its manifest does not request it, and a pack only ever gets what its manifest requests (add it to the pack's pack.toml and rebuild)",
                self.pack
            )
        } else if !self.granted.covers(used) {
            let hint = self.grant_hint.replace("{cap}", &used.to_string());
            if hint.is_empty() {
                format!("capability \"{used}\" is not granted to {}", self.pack)
            } else {
                format!(
                    "capability \"{used}\" is not granted to {}; help: {hint}",
                    self.pack
                )
            }
        } else {
            return Ok(());
        };
        if self.warned.fetch_add(1, Ordering::Relaxed) < LOUD_DENIALS {
            tracing::warn!(pack = %self.pack.descriptor, capability = %used, "denied: {message}");
        } else {
            self.quiet.fetch_add(1, Ordering::Relaxed);
            tracing::debug!(pack = %self.pack.descriptor, capability = %used, "denied: {message}");
        }
        if let Ok(mut denials) = self.denials.lock() {
            // Bounded: a pack looping on a denied call must not grow this.
            if denials.len() < 64 {
                denials.push(Denial {
                    capability: used.clone(),
                    requested,
                    message: message.clone(),
                });
                if let Some(events) = &self.events {
                    events.host(TelemetryEvent::now(
                        "capability.denied",
                        Level::Warn,
                        vec![
                            ("pack".into(), self.pack.descriptor.to_string()),
                            ("capability".into(), used.to_string()),
                            ("requested".into(), requested.to_string()),
                        ],
                    ));
                }
            }
        }
        Err(PackError::new(PackErrorKind::Denied, message))
    }

    /// Whether a use would be allowed, without recording a denial (for a
    /// check that tries several forms of one use before refusing).
    pub fn allows(&self, used: &Capability) -> bool {
        self.requested.covers(used) && self.granted.covers(used)
    }

    /// The socket targets this instance may reach, `(host, port)`: each
    /// granted pattern a request covers, and each requested pattern a grant
    /// covers (`socket:*` on either side leaves the other's).
    pub(crate) fn socket_grants(&self) -> Vec<(String, Option<u16>)> {
        let narrowed = |from: &Grants, by: &Grants| {
            from.iter()
                .filter(|c| matches!(c, Capability::Socket(_)) && by.covers(c))
                .cloned()
                .collect::<Vec<_>>()
        };
        let mut both = narrowed(&self.granted, &self.requested);
        both.extend(narrowed(&self.requested, &self.granted));
        let both: Grants = both.into_iter().collect();
        both.iter()
            .filter_map(|c| match c {
                Capability::Socket(h) => Some((h.host().to_string(), h.port())),
                _ => None,
            })
            .collect()
    }

    /// Denials not logged one by one since the last call, reset.
    pub(crate) fn take_quiet(&self) -> u64 {
        self.quiet.swap(0, Ordering::Relaxed)
    }

    /// Every denial so far.
    pub fn denials(&self) -> Vec<Denial> {
        self.denials.lock().map(|d| d.clone()).unwrap_or_default()
    }
}

/// Helpers for the capability tables.
#[cfg(test)]
pub(crate) mod table {
    use super::*;

    pub(crate) fn label() -> PackLabel {
        PackLabel {
            descriptor: "acme.state.memory@1.2.0".parse().expect("d"),
            digest: envpack_manifest::Digest::of(b"x"),
        }
    }

    pub(crate) fn grants(list: &[&str]) -> Grants {
        list.iter().map(|c| c.parse().expect("cap")).collect()
    }

    /// A granter for one row: what the manifest requests and what the
    /// operator granted.
    pub(crate) fn granter(requested: &[&str], granted: &[&str]) -> Granter {
        Granter::new(label(), grants(requested), grants(granted), "")
    }

    /// Whether a result is the `denied` case.
    pub(crate) fn denied<T>(r: &Result<T, super::super::HostError>) -> bool {
        matches!(
            r,
            Err(super::super::HostError::Pack(PackError {
                kind: PackErrorKind::Denied,
                ..
            }))
        )
    }
}

#[cfg(test)]
mod tests {
    use super::table::{grants, label};
    use super::*;

    /// The allowed/denied table for requested x granted, mirrored in
    /// docs/pack-author-guide.md.
    #[test]
    fn allows_only_requested_and_granted() {
        let g = Granter::new(
            label(),
            grants(&["log", "http:*.example.com", "secret:API_KEY"]),
            grants(&["log", "http:api.example.com", "secret:*", "kv"]),
            "envpack env bind dev state acme.state.memory@1.2.0 --grant {cap}",
        );
        let cases = [
            ("log", true),
            ("http:api.example.com:443", true),
            ("http:other.example.com:443", false), // requested, not granted
            ("http:evil.com:443", false),          // neither
            ("secret:API_KEY", true),
            ("secret:OTHER", false), // granted by *, but not requested
            ("kv", false),           // granted, not requested
        ];
        for (cap, want) in cases {
            let cap: Capability = cap.parse().expect("cap");
            assert_eq!(g.check(&cap).is_ok(), want, "{cap}");
        }
        let denials = g.denials();
        assert_eq!(denials.len(), 4);
        assert!(denials[0].requested);
        assert!(
            denials[0]
                .message
                .contains("--grant http:other.example.com:443"),
            "{}",
            denials[0].message
        );
        assert!(!denials[1].requested);
        assert!(denials[1].message.contains("does not request"));
    }
}
