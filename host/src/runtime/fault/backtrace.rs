//! The wasm backtrace of a trap, as a pack author reads it: function names
//! from the pack's name section (demangled), `file:line` where the pack
//! carries debug info, and the panic machinery folded away by default.

use wasmtime::WasmBacktrace;

/// Frames shown in an error message; `-v` logs them all.
const SHOWN: usize = 12;

/// One frame: its function and, where known, where in the source.
#[derive(Debug, PartialEq)]
pub(crate) struct Frame {
    pub(crate) function: String,
    pub(crate) named: bool,
    pub(crate) at: Option<String>,
}

/// The frames of `bt`, innermost first.
pub(crate) fn frames(bt: &WasmBacktrace) -> Vec<Frame> {
    bt.frames()
        .iter()
        .map(|f| {
            let symbol = f.symbols().first();
            let name = symbol.and_then(|s| s.name()).or(f.func_name());
            let at = symbol.and_then(|s| {
                let file = s.file()?;
                Some(match s.line() {
                    Some(line) => format!("{file}:{line}"),
                    None => file.to_string(),
                })
            });
            Frame {
                function: name.map_or_else(
                    || format!("<wasm function {}>", f.func_index()),
                    |n| format!("{:#}", rustc_demangle::demangle(n)),
                ),
                named: name.is_some(),
                at,
            }
        })
        .collect()
}

/// Whether `function` is part of how Rust panics or aborts, not where the
/// pack went wrong.
fn is_machinery(function: &str) -> bool {
    const PREFIXES: [&str; 9] = [
        "std::panicking",
        "std::panic",
        "std::sys",
        "std::process::abort",
        "core::panicking",
        "core::panic",
        "core::result::unwrap_failed",
        "core::option::",
        "__rust",
    ];
    PREFIXES.iter().any(|p| function.starts_with(p))
        || matches!(
            function,
            "rust_panic" | "rust_begin_unwind" | "abort" | "panic_abort"
        )
        || function.starts_with("<std::panicking")
}

/// The backtrace for an error message: the frames from the first that is
/// not panic machinery, at most [`SHOWN`], and a line saying what was left
/// out. `all` shows every frame.
pub(crate) fn render(frames: &[Frame], all: bool) -> String {
    let start = if all {
        0
    } else {
        frames
            .iter()
            .position(|f| !is_machinery(&f.function))
            .unwrap_or(0)
    };
    let shown = if all { frames.len() } else { SHOWN };
    let mut out = String::from("wasm backtrace (innermost call first):");
    for (i, f) in frames.iter().enumerate().skip(start).take(shown) {
        out.push_str(&format!("\n  {i:>2}: {}", f.function));
        if let Some(at) = &f.at {
            out.push_str(&format!("\n        at {at}"));
        }
    }
    let hidden = frames.len().saturating_sub(start + shown);
    if start > 0 || hidden > 0 {
        out.push_str(&format!(
            "\n  ({start} frame(s) of panic handling above and {hidden} below not shown; -v shows every frame)"
        ));
    }
    out
}

/// Whether the frames carry function names (the pack kept its name
/// section).
pub(crate) fn named(frames: &[Frame]) -> bool {
    frames.iter().any(|f| f.named)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(name: &str) -> Frame {
        Frame {
            function: name.to_string(),
            named: true,
            at: None,
        }
    }

    #[test]
    fn folds_the_panic_machinery_away() {
        let frames = vec![
            frame("__rust_start_panic"),
            frame("rust_panic"),
            frame("std::panicking::rust_panic_with_hook"),
            frame("core::panicking::panic_fmt"),
            frame("hostile::Hostile::command"),
            frame("envpack_sdk::command::run"),
        ];
        let short = render(&frames, false);
        assert!(short.contains("   4: hostile::Hostile::command"), "{short}");
        assert!(!short.contains("rust_panic"), "{short}");
        assert!(short.contains("4 frame(s) of panic handling"), "{short}");
        let all = render(&frames, true);
        assert!(all.contains("   1: rust_panic"), "{all}");
        assert!(!all.contains("not shown"), "{all}");
    }

    #[test]
    fn a_backtrace_without_machinery_starts_at_the_top() {
        let frames = vec![frame("pack::f"), frame("pack::g")];
        let short = render(&frames, false);
        assert!(short.contains("   0: pack::f\n   1: pack::g"), "{short}");
        assert!(!short.contains("not shown"), "{short}");
    }
}
