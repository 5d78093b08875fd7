//! Time, for timestamps and durations. Packs may read the clocks (WASI's
//! wall and monotonic clocks need no capability); these helpers put the
//! values in the shapes the WIT uses: milliseconds since the Unix epoch for
//! event timestamps, RFC 3339 text for people.
//!
//! ```
//! use envpack_sdk::clock;
//! let started = clock::Stopwatch::start();
//! let event_time = clock::now_ms();
//! assert!(event_time > 1_600_000_000_000);
//! assert!(clock::rfc3339(event_time).ends_with('Z'));
//! let _took = started.elapsed_ms();
//! ```

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, UTC (what `Event::timestamp_ms`
/// holds). A clock set before 1970 reads as 0.
///
/// ```
/// let a = envpack_sdk::clock::now_ms();
/// let b = envpack_sdk::clock::now_ms();
/// assert!(b + 1000 >= a);
/// ```
///
/// In a native test with a `testing::FakeHost` (feature `testing`) whose clock is set
/// (`host.set_now_ms(..)`), it reads that clock instead.
pub fn now_ms() -> u64 {
    #[cfg(not(target_arch = "wasm32"))]
    if let Some(ms) = crate::fake::now_ms() {
        return ms;
    }
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}

/// `ms` (milliseconds since the Unix epoch) as RFC 3339 UTC text with
/// milliseconds, such as `2024-05-01T12:30:00.250Z`.
///
/// ```
/// use envpack_sdk::clock::rfc3339;
/// assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
/// assert_eq!(rfc3339(1_714_566_600_250), "2024-05-01T12:30:00.250Z");
/// ```
pub fn rfc3339(ms: u64) -> String {
    let (days, rem) = (ms / 86_400_000, ms % 86_400_000);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3_600_000,
        rem / 60_000 % 60,
        rem / 1000 % 60,
        rem % 1000
    )
}

/// The current time as [`rfc3339`] text.
///
/// ```
/// assert!(envpack_sdk::clock::now_rfc3339().starts_with("20"));
/// ```
pub fn now_rfc3339() -> String {
    rfc3339(now_ms())
}

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z % 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + u64::from(m <= 2);
    (y, m, d)
}

/// Measures how long something took, on the monotonic clock (never goes
/// backwards when the wall clock is set).
///
/// ```
/// let sw = envpack_sdk::clock::Stopwatch::start();
/// let elapsed: std::time::Duration = sw.elapsed();
/// assert!(sw.elapsed_ms() >= elapsed.as_millis() as u64);
/// ```
#[derive(Clone, Copy, Debug)]
pub struct Stopwatch(Instant);

impl Stopwatch {
    /// Starts measuring now.
    ///
    /// ```
    /// let sw = envpack_sdk::clock::Stopwatch::start();
    /// # let _ = sw;
    /// ```
    pub fn start() -> Self {
        Self(Instant::now())
    }

    /// Time since [`start`](Self::start).
    ///
    /// ```
    /// let sw = envpack_sdk::clock::Stopwatch::start();
    /// assert!(sw.elapsed() < std::time::Duration::from_secs(3600));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.0.elapsed()
    }

    /// Whole milliseconds since [`start`](Self::start), for an attribute
    /// such as `duration_ms`.
    ///
    /// ```
    /// let sw = envpack_sdk::clock::Stopwatch::start();
    /// let attr = ("duration_ms".to_string(), sw.elapsed_ms().to_string());
    /// # let _ = attr;
    /// ```
    pub fn elapsed_ms(&self) -> u64 {
        u64::try_from(self.elapsed().as_millis()).unwrap_or(u64::MAX)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_across_leap_years() {
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(rfc3339(4_107_542_399_999), "2100-02-28T23:59:59.999Z");
    }
}
