//! Warming a revision: polling the deployer's health check until healthy
//! or the warm deadline; for revisions this machine runs, a process that
//! exits fails the warm-up at once instead of waiting out the deadline.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::target::Target;
use crate::local::Processes;
use crate::runtime::slots::deployer::{HealthStatus, RevisionRef};

/// The default warm-up deadline: `ENVPACK_WARM_TIMEOUT_MS`, else 30 s.
pub fn default_timeout() -> Duration {
    match std::env::var("ENVPACK_WARM_TIMEOUT_MS") {
        Ok(v) => v.parse().map(Duration::from_millis).unwrap_or_else(|_| {
            tracing::warn!(
                "ENVPACK_WARM_TIMEOUT_MS={v:?} is not a number of milliseconds; using 30000"
            );
            Duration::from_secs(30)
        }),
        Err(_) => Duration::from_secs(30),
    }
}

/// How to warm revisions: the deadline, and where local processes are.
#[derive(Clone, Debug)]
pub(crate) struct Warmup {
    pub(crate) timeout: Duration,
    /// The environment's machine-local directory, when its deployer runs
    /// revisions here.
    pub(crate) local_dir: Option<PathBuf>,
}

impl Warmup {
    /// `timeout` (or the default), watching local processes when `local_dir`.
    pub(crate) fn new(timeout: Option<Duration>, local_dir: Option<PathBuf>) -> Self {
        Self {
            timeout: timeout.unwrap_or_else(default_timeout),
            local_dir,
        }
    }

    /// Why the revision cannot become healthy any more, if its process is
    /// gone.
    fn exited(&self, revision: &str) -> Option<String> {
        let dir = self.local_dir.as_ref()?;
        match Processes::new(dir).status(revision) {
            Ok(Some(p)) if !p.running => Some(match p.exit_code {
                Some(code) => format!(
                    "its process (pid {}) exited with status {code} during warm-up",
                    p.pid
                ),
                None => format!("its process (pid {}) exited during warm-up", p.pid),
            }),
            _ => None,
        }
    }

    /// Polls health with backoff until healthy; the error says why not.
    pub(crate) fn warm(&self, deployer: &mut dyn Target, r: &RevisionRef) -> Result<(), String> {
        let deadline = Instant::now() + self.timeout;
        let mut wait = Duration::from_millis(50);
        loop {
            let last = match deployer.health(r) {
                Ok(h) if h.status == HealthStatus::Healthy => return Ok(()),
                Ok(h) => format!("health check says {:?}: {}", h.status, h.message),
                Err(e) => format!("health check failed: {}", e.message()),
            };
            if let Some(why) = self.exited(&r.id) {
                return Err(format!("{why}; last {last}"));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "not healthy within {} ms; last {last}",
                    self.timeout.as_millis()
                ));
            }
            std::thread::sleep(wait);
            wait = (wait * 2).min(Duration::from_millis(500));
        }
    }
}
