//! Turning traps and limit hits into errors that name the pack and the limit.

use wasmtime::Trap;

use super::deadline::DeadlinePassed;
use super::store_data::StoreData;
use super::{HostBug, Limits, PackLabel};
use crate::error::{Error, Kind};

/// The last part of what the pack wrote to stderr (a Rust panic message
/// lands there), for the error message.
fn stderr_tail(data: &StoreData) -> Option<String> {
    let bytes = data.stderr.contents();
    let text = String::from_utf8_lossy(&bytes);
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
    let message = match (trap, &data.limiter.hit) {
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
        (None, None) => format!("{pack} failed in {op}: {err:#}"),
    };
    let hint = match trap {
        Some(Trap::Interrupt) => {
            "if the pack legitimately needs longer, raise ENVPACK_CALL_TIMEOUT_MS; otherwise report it to the pack's author"
        }
        _ if data.limiter.hit.is_some() => {
            "if the pack legitimately needs more memory, raise ENVPACK_MEMORY_MB; otherwise report it to the pack's author"
        }
        _ => "this is a bug in the pack; report it to the pack's author (run with -v for details)",
    };
    tracing::debug!(error = ?err, "pack fault");
    Error::new(Kind::PackFault, message).hint(hint)
}
