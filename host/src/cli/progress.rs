//! What the library reports while it works, on stderr: a spinner for long
//! work (only on a terminal), and what telemetry packs print.

use std::io::IsTerminal;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressStyle};

use crate::types::{ProgressGuard, Reporter};

/// The CLI's reporter.
#[derive(Clone, Copy, Debug, Default)]
pub struct Terminal;

struct Spinner(ProgressBar);

impl ProgressGuard for Spinner {}

impl Drop for Spinner {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}

impl Reporter for Terminal {
    fn start(&self, message: String) -> Box<dyn ProgressGuard> {
        Box::new(Spinner(spinner(message)))
    }

    fn pack_output(&self, text: &str) {
        use std::io::Write;
        let text = crate::text::for_terminal(text);
        let _ = write!(std::io::stderr().lock(), "{text}");
    }
}

/// A spinner with `message`; hidden when stderr is not a terminal or output
/// is JSON.
pub fn spinner(message: String) -> ProgressBar {
    if !std::io::stderr().is_terminal() || std::env::var_os("ENVPACK_NO_PROGRESS").is_some() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new_spinner();
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} {elapsed}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(message);
    bar.enable_steady_tick(Duration::from_millis(100));
    bar
}
