//! Turning traps and limit hits into errors that name the pack and the limit.

mod backtrace;

use wasmtime::{Trap, WasmBacktrace};

use super::deadline::DeadlinePassed;
use super::store_data::StoreData;
use super::{HostBug, Limits, PackLabel};
use crate::error::{Error, Kind};

/// The last part of what the pack wrote to stderr (a Rust panic message
/// lands there), for the error message.
/// Rust's advice to set `RUST_BACKTRACE` is dropped: a pack sees no
/// environment variables, and the host prints the wasm backtrace instead.
fn stderr_tail(data: &StoreData) -> Option<String> {
    let bytes = data.stderr.contents();
    let text = String::from_utf8_lossy(&bytes);
    let text: Vec<&str> = text
        .lines()
        .filter(|l| !l.contains("RUST_BACKTRACE"))
        .collect();
    let text = text.join("\n");
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    let start = text.char_indices().rev().nth(1500).map_or(0, |(i, _)| i);
    Some(text[start..].to_string())
}

/// Classifies a failed call into a pack fault.
pub(crate) fn classify(
    err: wasmtime::Error,
    data: &StoreData,
    pack: &PackLabel,
    limits: &Limits,
    op: &str,
) -> Error {
    if let Some(bug) = err.downcast_ref::<HostBug>() {
        return Error::internal(format!("{op} of {pack} failed inside the host: {bug}")).hint(
            "this is a bug in envpack, not in the pack; please report it with the output of -vv",
        );
    }
    let trap = match err.downcast_ref::<DeadlinePassed>() {
        Some(_) => Some(Trap::Interrupt),
        None => err.downcast_ref::<Trap>().copied(),
    };
    let frames = err
        .downcast_ref::<WasmBacktrace>()
        .map(backtrace::frames)
        .unwrap_or_default();
    let mut message = match (trap, &data.limiter.hit) {
        (Some(Trap::Interrupt), _) => format!(
            "{pack} ran past its deadline of {} ms in {op} and was stopped",
            limits.call_timeout.as_millis()
        ),
        (Some(Trap::StackOverflow), _) => format!(
            "{pack} overflowed its stack limit of {} KiB in {op} (runaway recursion?) and was stopped",
            limits.stack_bytes >> 10
        ),
        (_, Some(limit)) => format!("{pack} hit its {limit} in {op} and was stopped"),
        (Some(trap), None) => match stderr_tail(data) {
            Some(stderr) => format!("{pack} crashed in {op} ({trap}); it wrote:\n{stderr}"),
            None => format!("{pack} crashed in {op}: {trap}"),
        },
        (None, None) => format!("{pack} failed in {op}: {}", headline(&err)),
    };
    // A runaway recursion's thousands of frames say nothing the message
    // does not; every other fault shows where it happened.
    if !frames.is_empty() && trap != Some(Trap::StackOverflow) {
        message.push('\n');
        message.push_str(&backtrace::render(&frames, false));
    }
    let hint = match trap {
        Some(Trap::Interrupt) => {
            "if the pack legitimately needs longer, raise ENVPACK_CALL_TIMEOUT_MS; otherwise report it to the pack's author"
        }
        _ if data.limiter.hit.is_some() => {
            "if the pack legitimately needs more memory, raise ENVPACK_MEMORY_MB; otherwise report it to the pack's author"
        }
        _ if frames.is_empty() || backtrace::named(&frames) => {
            "this is a bug in the pack: report this message to the pack's author (-v logs every frame of the backtrace, -vv the raw error with code offsets)"
        }
        _ => {
            "this is a bug in the pack: report this message to the pack's author; the backtrace has no function names because the pack was built without its name section (a pack author keeps it by not setting `strip = \"symbols\"`; a build with `debug = true` adds file:line)"
        }
    };
    if !frames.is_empty() {
        tracing::info!(pack = %pack.descriptor, "{}", backtrace::render(&frames, true));
    }
    tracing::debug!(pack = %pack.descriptor, "the fault in full: {err:?}");
    Error::new(Kind::PackFault, message).hint(hint)
}

/// The error's message without the backtrace wasmtime attaches as context
/// (the message shows a shorter one).
fn headline(err: &wasmtime::Error) -> String {
    err.chain()
        .map(ToString::to_string)
        .filter(|e| !e.starts_with("error while executing at wasm backtrace"))
        .collect::<Vec<_>>()
        .join(": ")
}
