//! `process`: revision processes for deployers (capability `process`).
//!
//! | manifest requests | operator granted | any `process` call                                     |
//! |-------------------|------------------|--------------------------------------------------------|
//! | `process`         | `process`        | allowed; programs only from the revision's payload dir |
//! | `process`         | -                | `denied`                                               |
//! | -                 | `process`        | `denied`                                               |
//!
//! Outside an environment (`pack call`) every call is `unavailable`. Which
//! programs may run, and where, is decided by the [`ProcessHost`]: the local
//! runtime (`crate::local`) confines them to the revision's payload.

use envpack_manifest::Capability;
use serde::Serialize;

use super::Granter;
use crate::runtime::{HostError, PackError, PackErrorKind, PackLabel};

/// What a deployer asks to start.
#[derive(Clone, Debug)]
pub struct ProcessSpec {
    /// Revision id.
    pub revision: String,
    /// Program (relative to the payload) and arguments.
    pub argv: Vec<String>,
    /// Extra environment.
    pub env: Vec<(String, String)>,
}

/// What runs for a revision.
#[derive(Clone, Debug, Serialize)]
pub struct ProcessInfo {
    /// Revision id.
    pub revision: String,
    /// OS process id.
    pub pid: u32,
    /// Loopback port.
    pub port: u16,
    /// Whether it still runs.
    pub running: bool,
    /// Last output lines.
    pub output_tail: String,
    /// The bundle id of its payload.
    pub bundle: String,
    /// Its exit status, once it exited by itself and the host saw it.
    pub exit_code: Option<i32>,
}

/// Runs revision processes for a deployer.
pub trait ProcessHost: Send + Sync {
    /// Starts a revision's process.
    fn start(&self, pack: &PackLabel, spec: &ProcessSpec) -> Result<ProcessInfo, HostError>;
    /// Stops it; `true` when one was running.
    fn stop(&self, pack: &PackLabel, revision: &str) -> Result<bool, HostError>;
    /// Its state, if one was started.
    fn status(&self, pack: &PackLabel, revision: &str) -> Result<Option<ProcessInfo>, HostError>;
    /// Every started process.
    fn list(&self, pack: &PackLabel) -> Result<Vec<ProcessInfo>, HostError>;
}

/// No processes: every call is `unavailable`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoProcesses;

fn none<T>() -> Result<T, HostError> {
    Err(PackError::new(
        PackErrorKind::Unavailable,
        "revision processes exist only inside an environment (run the pack through an environment's deployer)",
    )
    .into())
}

impl ProcessHost for NoProcesses {
    fn start(&self, _: &PackLabel, _: &ProcessSpec) -> Result<ProcessInfo, HostError> {
        none()
    }
    fn stop(&self, _: &PackLabel, _: &str) -> Result<bool, HostError> {
        none()
    }
    fn status(&self, _: &PackLabel, _: &str) -> Result<Option<ProcessInfo>, HostError> {
        none()
    }
    fn list(&self, _: &PackLabel) -> Result<Vec<ProcessInfo>, HostError> {
        none()
    }
}

/// `process.start`, checked.
pub(crate) fn start(
    granter: &Granter,
    host: &dyn ProcessHost,
    spec: &ProcessSpec,
) -> Result<ProcessInfo, HostError> {
    granter.check(&Capability::Process)?;
    host.start(granter.pack(), spec)
}

/// `process.stop`, checked.
pub(crate) fn stop(
    granter: &Granter,
    host: &dyn ProcessHost,
    revision: &str,
) -> Result<bool, HostError> {
    granter.check(&Capability::Process)?;
    host.stop(granter.pack(), revision)
}

/// `process.status`, checked.
pub(crate) fn status(
    granter: &Granter,
    host: &dyn ProcessHost,
    revision: &str,
) -> Result<Option<ProcessInfo>, HostError> {
    granter.check(&Capability::Process)?;
    host.status(granter.pack(), revision)
}

/// `process.list`, checked.
pub(crate) fn list(
    granter: &Granter,
    host: &dyn ProcessHost,
) -> Result<Vec<ProcessInfo>, HostError> {
    granter.check(&Capability::Process)?;
    host.list(granter.pack())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::{denied, granter};

    /// The table above; with no process host every allowed call is
    /// `unavailable`, never `denied`.
    #[test]
    fn allows() {
        for (requested, granted, want) in [
            (&["process"][..], &["process"][..], true),
            (&["process"][..], &[][..], false),
            (&[][..], &["process"][..], false),
        ] {
            let g = granter(requested, granted);
            let spec = ProcessSpec {
                revision: "r1".into(),
                argv: vec!["./run".into()],
                env: vec![],
            };
            let calls = [
                denied(&start(&g, &NoProcesses, &spec)),
                denied(&stop(&g, &NoProcesses, "r1")),
                denied(&status(&g, &NoProcesses, "r1")),
                denied(&list(&g, &NoProcesses)),
            ];
            assert_eq!(calls, [!want; 4], "{requested:?} x {granted:?}");
        }
    }
}
