//! Rate-limited warnings: a flood of the same failure becomes one line per
//! interval that says how many failures it stands for.

use std::time::{Duration, Instant};

/// Admits at most one warning per interval and counts the rest.
#[derive(Debug)]
pub(crate) struct Throttle {
    every: Duration,
    last: Option<Instant>,
    suppressed: u64,
}

impl Throttle {
    /// At most one warning per `every`.
    pub(crate) fn new(every: Duration) -> Self {
        Self {
            every,
            last: None,
            suppressed: 0,
        }
    }

    /// Whether to warn about an event at `now`: `Some(n)` when a warning
    /// is due, `n` counting this event and those suppressed since the last
    /// warning; `None` when it is counted and suppressed.
    pub(crate) fn admit(&mut self, now: Instant) -> Option<u64> {
        let due = self
            .last
            .is_none_or(|last| now.saturating_duration_since(last) >= self.every);
        if !due {
            self.suppressed += 1;
            return None;
        }
        self.last = Some(now);
        Some(std::mem::take(&mut self.suppressed) + 1)
    }

    /// The events suppressed since the last warning, resetting the count
    /// (for a closing summary).
    pub(crate) fn take_suppressed(&mut self) -> u64 {
        std::mem::take(&mut self.suppressed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_warning_per_interval_counting_the_suppressed() {
        let t0 = Instant::now();
        let mut t = Throttle::new(Duration::from_secs(1));
        assert_eq!(t.admit(t0), Some(1));
        let admitted: Vec<Option<u64>> = (1..=999)
            .map(|i| t.admit(t0 + Duration::from_millis(i)))
            .collect();
        assert!(admitted.iter().all(Option::is_none));
        assert_eq!(t.admit(t0 + Duration::from_secs(1)), Some(1000));
        assert_eq!(t.admit(t0 + Duration::from_millis(1500)), None);
        assert_eq!(t.take_suppressed(), 1);
        assert_eq!(t.take_suppressed(), 0);
    }
}
