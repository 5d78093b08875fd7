//! The per-instance state a wasmtime `Store` carries.

use std::sync::Arc;

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::p2::pipe::MemoryOutputPipe;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::capabilities::http::HttpHooks;
use super::capabilities::log::Budget;
use super::{Granter, Services};

/// Everything host imports need while a pack runs.
pub(crate) struct StoreData {
    pub(crate) wasi: WasiCtx,
    pub(crate) table: ResourceTable,
    pub(crate) http: WasiHttpCtx,
    pub(crate) http_hooks: HttpHooks,
    pub(crate) limiter: Limiter,
    pub(crate) granter: Arc<Granter>,
    pub(crate) services: Services,
    pub(crate) stderr: MemoryOutputPipe,
    pub(crate) stdout: MemoryOutputPipe,
    pub(crate) log_budget: Budget,
}

impl WasiView for StoreData {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for StoreData {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.http_hooks,
        }
    }
}

/// Memory and table limits for one instance. Records which limit was hit so
/// the trap that follows can be reported as "memory limit", not as a bare
/// `unreachable`.
pub(crate) struct Limiter {
    pub(crate) memory_bytes: usize,
    pub(crate) hit: Option<String>,
}

/// Table elements any one table may hold.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.memory_bytes {
            self.hit = Some(format!(
                "memory limit of {} MiB (it asked to grow from {} to {} MiB)",
                self.memory_bytes >> 20,
                current >> 20,
                desired >> 20
            ));
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > MAX_TABLE_ELEMENTS {
            self.hit = Some(format!("table limit of {MAX_TABLE_ELEMENTS} elements"));
            return Ok(false);
        }
        Ok(true)
    }

    fn instances(&self) -> usize {
        64
    }

    fn tables(&self) -> usize {
        64
    }

    fn memories(&self) -> usize {
        16
    }
}
