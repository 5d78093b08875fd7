//! `log`: structured log lines from packs (capability `log`).
//!
//! | manifest requests | operator granted | `write`                    |
//! |-------------------|------------------|----------------------------|
//! | `log`             | `log`            | line goes to the operator  |
//! | `log`             | -                | `denied`, line dropped     |
//! | -                 | any              | `denied`, line dropped     |
//!
//! Lines are truncated at 8 KiB, and capped per call both in number and in
//! bytes ([`MAX_BYTES_PER_CALL`]), so a pack cannot flood the terminal or
//! the telemetry pack; what is dropped is counted and summarised.

use envpack_manifest::Capability;

use super::Granter;
use crate::runtime::{HostError, Level, PackLabel};

/// Longest message kept, in bytes.
pub const MAX_LINE: usize = 8 * 1024;

/// Where pack log lines go.
pub trait LogSink: Send + Sync {
    /// One line from `pack`.
    fn write(&self, pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]);
}

/// Lines go to `tracing`, attributed to the pack.
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLog;

impl LogSink for TracingLog {
    fn write(&self, pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
        emit(pack, level, message, fields);
    }
}

/// Writes a pack's log line through `tracing`, attributed to the pack.
pub fn emit(pack: &PackLabel, level: Level, message: &str, fields: &[(String, String)]) {
    // Pack text, one line each, never raw to a terminal.
    let message = crate::text::one_line(message);
    let fields = fields
        .iter()
        .map(|(k, v)| format!("{}={:?}", crate::text::one_line(k), v))
        .collect::<Vec<_>>()
        .join(" ");
    let pack = &pack.descriptor;
    match level {
        Level::Trace => tracing::trace!(target: "pack", %pack, "{message} {fields}"),
        Level::Debug => tracing::debug!(target: "pack", %pack, "{message} {fields}"),
        Level::Info => tracing::info!(target: "pack", %pack, "{message} {fields}"),
        Level::Warn => tracing::warn!(target: "pack", %pack, "{message} {fields}"),
        Level::Error => tracing::error!(target: "pack", %pack, "{message} {fields}"),
    }
}

/// Bytes of log text (messages and fields) a pack may write per call.
pub const MAX_BYTES_PER_CALL: usize = 256 * 1024;

/// The per-call line and byte budget of one instance.
#[derive(Debug)]
pub(crate) struct Budget {
    pub(crate) left: u32,
    pub(crate) bytes_left: usize,
    pub(crate) dropped: u32,
}

impl Budget {
    /// A fresh budget of `lines` lines and [`MAX_BYTES_PER_CALL`] bytes.
    pub(crate) fn new(lines: u32) -> Self {
        Self {
            left: lines,
            bytes_left: MAX_BYTES_PER_CALL,
            dropped: 0,
        }
    }
}

/// `log.write`, checked and bounded.
pub(crate) fn write(
    granter: &Granter,
    sink: &dyn LogSink,
    budget: &mut Budget,
    level: Level,
    mut message: String,
    fields: Vec<(String, String)>,
) -> Result<(), HostError> {
    granter.check(&Capability::Log)?;
    if budget.left == 0 {
        budget.dropped += 1;
        return Ok(());
    }
    truncate(&mut message, MAX_LINE);
    let fields: Vec<(String, String)> = fields
        .into_iter()
        .take(32)
        .map(|(mut k, mut v)| {
            truncate(&mut k, 128);
            truncate(&mut v, 1024);
            (k, v)
        })
        .collect();
    let size = message.len() + fields.iter().map(|(k, v)| k.len() + v.len()).sum::<usize>();
    if size > budget.bytes_left {
        budget.left = 0;
        budget.dropped += 1;
        return Ok(());
    }
    budget.left -= 1;
    budget.bytes_left -= size;
    sink.write(granter.pack(), level, &message, &fields);
    Ok(())
}

/// Truncates at a char boundary at or below `max` bytes.
pub(crate) fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut cut = max;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
        s.push('…');
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::runtime::capabilities::table::{denied, granter};

    #[derive(Default)]
    struct Lines(Mutex<Vec<String>>);

    impl LogSink for Lines {
        fn write(&self, _: &PackLabel, _: Level, message: &str, _: &[(String, String)]) {
            self.0.lock().expect("lines").push(message.to_string());
        }
    }

    #[test]
    fn truncates_on_char_boundary() {
        let mut s = "ééé".to_string();
        super::truncate(&mut s, 3);
        assert_eq!(s, "é…");
    }

    /// The table above, and the per-call budget.
    #[test]
    fn allows() {
        for (requested, granted, want) in [
            (&["log"][..], &["log"][..], true),
            (&["log"][..], &[][..], false),
            (&[][..], &["log"][..], false),
        ] {
            let sink = Lines::default();
            let mut budget = Budget::new(10);
            let r = write(
                &granter(requested, granted),
                &sink,
                &mut budget,
                Level::Info,
                "hello".into(),
                vec![],
            );
            assert_eq!(!denied(&r), want, "{requested:?} x {granted:?}");
            assert_eq!(sink.0.lock().expect("lines").len(), usize::from(want));
        }
        let sink = Lines::default();
        let mut budget = Budget::new(2);
        let g = granter(&["log"], &["log"]);
        for _ in 0..5 {
            assert!(write(&g, &sink, &mut budget, Level::Info, "x".into(), vec![]).is_ok());
        }
        assert_eq!(
            (sink.0.lock().expect("lines").len(), budget.dropped),
            (2, 3)
        );
        // The byte budget: 40 KiB lines stop at 256 KiB.
        let sink = Lines::default();
        let mut budget = Budget::new(1000);
        let fields: Vec<(String, String)> = (0..32)
            .map(|i| (format!("k{i}"), "v".repeat(1024)))
            .collect();
        for _ in 0..100 {
            let r = write(
                &g,
                &sink,
                &mut budget,
                Level::Info,
                "x".repeat(8192),
                fields.clone(),
            );
            assert!(r.is_ok());
        }
        let kept = sink.0.lock().expect("lines").len();
        assert!((5..=7).contains(&kept), "{kept} lines kept");
        assert_eq!(budget.dropped as usize, 100 - kept);
    }
}
