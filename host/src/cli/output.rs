//! Output: human text by default, one versioned JSON envelope with `--json`.

use std::io::Write;

use serde::Serialize;
use serde_json::Value;

use crate::error::Error;
use crate::text::for_terminal;

/// What a command produced: text for people and a JSON value for scripts.
#[derive(Debug)]
pub struct Report {
    /// Printed on stdout without `--json`.
    pub human: String,
    /// The envelope's `result` with `--json`.
    pub json: Value,
    /// The exit code of a command that succeeded with something to report
    /// (2: `drift` found drift); 0 otherwise.
    pub exit: u8,
    /// What `-o name` prints, one per line: the ids of a list.
    pub names: Option<Vec<String>>,
    /// What `-o wide` prints: the list with every column.
    pub wide: Option<String>,
}

/// How a successful report is printed (`-o`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Tables and text for people.
    #[default]
    Human,
    /// The JSON envelope (as `--json`).
    Json,
    /// The ids of a list, one per line, for scripts.
    Name,
    /// Tables with every column.
    Wide,
}

impl Report {
    /// A report from a serialisable value and its human rendering.
    pub fn new(human: impl Into<String>, json: &impl Serialize) -> Self {
        Self::raw(
            human.into(),
            serde_json::to_value(json).unwrap_or(Value::Null),
            0,
        )
    }

    /// A report from its parts.
    pub fn raw(human: String, json: Value, exit: u8) -> Self {
        Self {
            human,
            json,
            exit,
            names: None,
            wide: None,
        }
    }

    /// The ids `-o name` prints.
    pub fn with_names(mut self, names: Vec<String>) -> Self {
        self.names = Some(names);
        self
    }

    /// The table `-o wide` prints.
    pub fn with_wide(mut self, wide: String) -> Self {
        self.wide = Some(wide);
        self
    }

    /// The same report, exiting with `code`.
    pub fn exit_with(mut self, code: u8) -> Self {
        self.exit = code;
        self
    }
}

/// `human` followed by one `warning: ...` line per warning: things that
/// went wrong after the change itself was made.
pub fn with_warnings(human: String, warnings: &[String]) -> String {
    let mut out = human;
    for w in warnings {
        out.push_str("\nwarning: ");
        out.push_str(w);
    }
    out
}

/// Prints a successful report as `format` asks; `quiet` prints nothing
/// but JSON.
pub fn print_ok(report: &Report, format: Format, quiet: bool) {
    let mut out = std::io::stdout().lock();
    let human = match format {
        Format::Json => {
            let envelope = crate::envelope::ok(report.json.clone());
            let _ = writeln!(out, "{envelope}");
            return;
        }
        _ if quiet => return,
        Format::Name => match &report.names {
            Some(names) => {
                for n in names {
                    let _ = writeln!(out, "{}", for_terminal(n));
                }
                return;
            }
            None => {
                let _ = writeln!(
                    std::io::stderr().lock(),
                    "{}: -o name prints the ids of lists; this command prints no list",
                    label("warning", "33")
                );
                &report.human
            }
        },
        Format::Wide => report.wide.as_ref().unwrap_or(&report.human),
        Format::Human => &report.human,
    };
    if !human.is_empty() {
        // Human reports carry pack and payload text: never raw to a terminal.
        let text = for_terminal(human.trim_end_matches('\n'));
        let _ = writeln!(out, "{text}");
    }
}

/// `error`, `help`, `warning` for stderr: bold and coloured on a terminal
/// unless `NO_COLOR` is set (https://no-color.org) or `TERM=dumb`.
fn label(word: &str, colour: &str) -> String {
    use std::io::IsTerminal;
    let plain = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty())
        || std::env::var("TERM").is_ok_and(|t| t == "dumb")
        || !std::io::stderr().is_terminal();
    if plain {
        word.to_string()
    } else {
        format!("\x1b[1;{colour}m{word}\x1b[0m")
    }
}

/// Prints an error: an envelope on stdout with `--json`, else
/// `error: ...` and `help: ...` on stderr.
pub fn print_err(err: &Error, json_mode: bool) {
    if json_mode {
        let envelope = crate::envelope::error(err);
        let _ = writeln!(std::io::stdout().lock(), "{envelope}");
    } else {
        let mut e = std::io::stderr().lock();
        // Messages can quote a pack: escape it, and indent continuation
        // lines so no line of it can pass for one of the host's own.
        let _ = writeln!(e, "{}: {}", label("error", "31"), indented(err.message()));
        if let Some(h) = err.hint_text() {
            let _ = writeln!(e, "{}: {}", label("help", "36"), indented(h));
        }
    }
}

/// `text` safe for a terminal, its continuation lines indented.
fn indented(text: &str) -> String {
    for_terminal(text).replace('\n', "\n  ")
}

/// Renders rows as aligned columns under a header.
pub fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut t = comfy_table::Table::new();
    t.load_style(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(header.iter().map(|h| h.to_uppercase()));
    for r in rows {
        t.add_row(r);
    }
    // comfy-table pads each cell with one space on both sides; trim the
    // outer margin so columns start at the left edge like cargo's tables.
    t.to_string()
        .lines()
        .map(|l| l.strip_prefix(' ').unwrap_or(l).trim_end().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}
