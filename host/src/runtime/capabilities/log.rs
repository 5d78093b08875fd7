//! `log`: structured log lines from packs (capability `log`).
//!
//! | manifest requests | operator granted | `write`                    |
//! |-------------------|------------------|----------------------------|
//! | `log`             | `log`            | line goes to the operator  |
//! | `log`             | -                | `denied`, line dropped     |
//! | -                 | any              | `denied`, line dropped     |
//!
//! Lines are truncated at 8 KiB and capped per call, so a pack cannot flood
//! the terminal or the telemetry pack.

use envpack_manifest::Capability;

use crate::runtime::since_v0_1::host::{log, types};
use crate::runtime::store_data::StoreData;

/// Longest message kept, in bytes.
pub const MAX_LINE: usize = 8 * 1024;

impl log::Host for StoreData {
    fn write(
        &mut self,
        level: types::Level,
        message: String,
        fields: Vec<(String, String)>,
    ) -> Result<(), types::Error> {
        self.granter.check(&Capability::Log)?;
        if self.log_lines_left == 0 {
            self.log_lines_dropped += 1;
            return Ok(());
        }
        self.log_lines_left -= 1;
        let mut message = message;
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
        self.services
            .log(&self.pack, level.into(), &message, &fields);
        Ok(())
    }
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
    #[test]
    fn truncates_on_char_boundary() {
        let mut s = "ééé".to_string();
        super::truncate(&mut s, 3);
        assert_eq!(s, "é…");
    }
}
