//! The per-instance state a wasmtime `Store` carries.

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::ResourceLimiter;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use super::capabilities::http::HttpHooks;
use super::capabilities::log::Budget;
use super::capture::Capture;
use super::scratch::Quota;
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
    pub(crate) stderr: Capture,
    pub(crate) stdout: Capture,
    pub(crate) log_budget: Budget,
    /// When the current call must end, host waits included.
    pub(crate) deadline: Instant,
    /// What the pack may still write into `/scratch`.
    pub(crate) scratch_quota: Option<Arc<Quota>>,
}

impl StoreData {
    /// Starts a call that must end within `timeout`.
    pub(crate) fn start_call(&mut self, timeout: Duration) {
        self.deadline = Instant::now() + timeout;
        self.http_hooks.deadline = self.deadline;
    }
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

/// Memory and table limits for one instance, counted over all of its core
/// instances together: a component with many memories shares one budget.
/// Records which limit was hit so the trap that follows can be reported as
/// "memory limit", not as a bare `unreachable`.
pub(crate) struct Limiter {
    pub(crate) memory_bytes: usize,
    pub(crate) hit: Option<String>,
    /// Bytes of linear memory all memories hold now.
    memory_total: usize,
    /// Elements all tables hold now.
    table_total: usize,
}

impl Limiter {
    pub(crate) fn new(memory_bytes: usize) -> Self {
        Self {
            memory_bytes,
            hit: None,
            memory_total: 0,
            table_total: 0,
        }
    }
}

/// Table elements one instance's tables may hold together.
const MAX_TABLE_ELEMENTS: usize = 1 << 20;

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.memory_total - current.min(self.memory_total)).saturating_add(desired);
        if total > self.memory_bytes {
            self.hit = Some(format!(
                "memory limit of {} MiB for all its memories together (a memory asked to grow from {} to {} MiB, {} MiB in all)",
                self.memory_bytes >> 20,
                current >> 20,
                desired >> 20,
                total >> 20
            ));
            return Ok(false);
        }
        self.memory_total = total;
        Ok(true)
    }

    fn memory_grow_failed(&mut self, _error: wasmtime::Error) -> wasmtime::Result<()> {
        Ok(())
    }

    fn table_growing(
        &mut self,
        current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        let total = (self.table_total - current.min(self.table_total)).saturating_add(desired);
        if total > MAX_TABLE_ELEMENTS {
            self.hit = Some(format!(
                "table limit of {MAX_TABLE_ELEMENTS} elements for all its tables together"
            ));
            return Ok(false);
        }
        self.table_total = total;
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

#[cfg(test)]
mod tests {
    use wasmtime::component::{Component, Linker};
    use wasmtime::{Config, Engine, Store};

    use super::Limiter;

    /// A component of `instances` core instances, each with a memory of
    /// `mib` MiB.
    fn many_memories(instances: usize, mib: usize) -> String {
        let pages = mib * 16;
        let mut wat = format!("(component (core module $m (memory {pages}))");
        for i in 0..instances {
            wat.push_str(&format!(" (core instance $i{i} (instantiate $m))"));
        }
        wat.push(')');
        wat
    }

    fn instantiate(wat: &str, limit_mib: usize) -> (bool, Option<String>) {
        let engine = Engine::new(&Config::new()).expect("engine");
        let component = Component::new(&engine, wat).expect("component");
        let mut store = Store::new(&engine, Limiter::new(limit_mib << 20));
        store.limiter(|l| l);
        let ok = Linker::new(&engine)
            .instantiate(&mut store, &component)
            .is_ok();
        (ok, store.data().hit.clone())
    }

    /// The memory limit covers every memory of an instance together: 15
    /// core instances of 60 MiB each no longer pass a 64 MiB limit one by
    /// one.
    #[test]
    fn the_memory_limit_counts_all_memories_together() {
        let (ok, hit) = instantiate(&many_memories(15, 60), 64);
        assert!(!ok, "15 x 60 MiB instantiated under a 64 MiB limit");
        let hit = hit.expect("the limit is recorded");
        assert!(hit.contains("all its memories together"), "{hit}");
        assert_eq!(instantiate(&many_memories(3, 20), 64), (true, None));
    }
}
