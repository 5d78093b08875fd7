//! Warming a revision: polling the deployer's health check until healthy
//! or the warm deadline.

use std::time::{Duration, Instant};

use crate::runtime::slots::deployer::{DeployerClient, HealthStatus, RevisionRef};

fn warm_timeout() -> Duration {
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

/// Polls health with backoff until healthy; the error says why not.
pub(crate) fn warm(deployer: &mut DeployerClient<'_>, r: &RevisionRef) -> Result<(), String> {
    let timeout = warm_timeout();
    let deadline = Instant::now() + timeout;
    let mut wait = Duration::from_millis(50);
    loop {
        let last = match deployer.health(r) {
            Ok(h) if h.status == HealthStatus::Healthy => return Ok(()),
            Ok(h) => format!("health check says {:?}: {}", h.status, h.message),
            Err(e) => format!("health check failed: {}", e.message()),
        };
        if Instant::now() >= deadline {
            return Err(format!(
                "not healthy within {} ms; last {last}",
                timeout.as_millis()
            ));
        }
        std::thread::sleep(wait);
        wait = (wait * 2).min(Duration::from_millis(500));
    }
}
