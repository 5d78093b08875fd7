//! Call deadlines that hold while a pack waits in the host.
//!
//! Epoch interruption stops wasm code at its deadline, but not the host while
//! it blocks on the pack's behalf: a clock wait or a slow HTTP response would
//! hold a call until it ended on its own. Every wait a pack can start goes
//! through `wasi:io/poll` (`poll`, or `pollable.block`, which the blocking
//! stream calls, clock sleeps and HTTP futures all use), and every blocking
//! source behind a pollable is either local (files, captured stdio, which
//! are always ready) or outbound HTTP. So:
//!
//! - `poll` and `pollable.block` are replaced with versions that give up at
//!   the call's deadline and trap with [`DeadlinePassed`];
//! - outbound HTTP (its response and its connection, hence both bodies) is
//!   bounded by the same instant in [`super::capabilities::http`].
//!
//! The trap is reported like the epoch trap: "ran past its deadline".

use std::time::Instant;

use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::p2::DynPollable;
use wasmtime_wasi_io::bindings::wasi::io::poll::{Host as _, HostPollable as _};

use super::store_data::StoreData;

/// The trap raised when a host wait reaches the call's deadline.
#[derive(Debug)]
pub(crate) struct DeadlinePassed;

impl std::fmt::Display for DeadlinePassed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the call's deadline passed while the pack waited in the host")
    }
}

impl std::error::Error for DeadlinePassed {}

/// The `wasi:io/poll` interface as this wasmtime links it.
const POLL: &str = "wasi:io/poll@0.2.12";

/// Replaces `poll` and `pollable.block` in `linker` with deadline-bounded
/// versions.
pub(crate) fn bound_waits(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut poll = linker.instance(POLL)?;
    poll.func_wrap(
        "poll",
        |mut store: StoreContextMut<'_, StoreData>, (pollables,): (Vec<Resource<DynPollable>>,)| {
            let data = store.data_mut();
            let deadline = data.deadline;
            let ready = until(deadline, data.table.poll(pollables))??;
            Ok((ready,))
        },
    )?;
    poll.func_wrap(
        "[method]pollable.block",
        |mut store: StoreContextMut<'_, StoreData>, (pollable,): (Resource<DynPollable>,)| {
            let data = store.data_mut();
            let deadline = data.deadline;
            until(deadline, data.table.block(pollable))??;
            Ok(())
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}

/// Runs `wait` on the host's async runtime, giving up at `deadline`.
fn until<F: Future>(deadline: Instant, wait: F) -> wasmtime::Result<F::Output> {
    wasmtime_wasi::runtime::in_tokio(async move {
        tokio::time::timeout_at(deadline.into(), wait)
            .await
            .map_err(|_| wasmtime::Error::new(DeadlinePassed))
    })
}
