//! Making untrusted text safe for a terminal.
//!
//! Packs and payloads choose the bytes of their output, errors and log
//! lines. Printed raw, a control sequence can clear the screen, retitle the
//! window, move the cursor or (with `\r` and newlines) paint a line that
//! looks like the host's own. Everything pack- or payload-originated is
//! passed through [`for_terminal`] (or [`one_line`]) before it reaches a
//! terminal; `--json` output and files keep the raw text.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` must not reach a terminal as is: C0 controls other than
/// newline and tab, DEL, C1 controls, and the bidirectional overrides and
/// isolates that reorder what is displayed.
fn unsafe_char(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\t')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{200e}' | '\u{200f}')
}

fn escape(out: &mut String, c: char) {
    let _ = match c as u32 {
        n @ 0..=0xff => write!(out, "\\x{n:02x}"),
        n => write!(out, "\\u{{{n:04x}}}"),
    };
}

/// `text` with every unsafe character shown as a visible escape (`\x1b`,
/// `\u{202e}`); newlines and tabs are kept.
pub fn for_terminal(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            escape(&mut out, c);
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// Like [`for_terminal`], and newlines shown as `\n`, for text that must
/// stay on one line (a log line).
pub fn one_line(text: &str) -> Cow<'_, str> {
    match for_terminal(text) {
        Cow::Borrowed(t) if !t.contains('\n') => Cow::Borrowed(t),
        t => Cow::Owned(t.replace('\n', "\\n")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_act_on() {
        assert_eq!(for_terminal("plain\ttext\n"), "plain\ttext\n");
        assert!(matches!(for_terminal("ok"), Cow::Borrowed(_)));
        assert_eq!(
            for_terminal("\x1b]0;t\x07\x1b[2J\rfake"),
            "\\x1b]0;t\\x07\\x1b[2J\\x0dfake"
        );
        assert_eq!(for_terminal("a\u{9b}b\u{7f}"), "a\\x9bb\\x7f");
        assert_eq!(for_terminal("txt.\u{202e}exe"), "txt.\\u{202e}exe");
        assert_eq!(one_line("a\nerror: b"), "a\\nerror: b");
    }
}
