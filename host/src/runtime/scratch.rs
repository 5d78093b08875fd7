//! The scratch quota: how many bytes a pack may write into `/scratch`.
//!
//! WASI file writes go either through a descriptor (`descriptor.write`) or
//! through an output stream the descriptor hands out (`write-via-stream`,
//! `append-via-stream`). Those three are replaced: a direct write is charged
//! before it runs, and every file stream handed out is wrapped in a
//! [`Charged`] stream that charges each write. Charges are conservative (an
//! overwrite counts again) and start from what the directory holds when a
//! file stream is handed out. A write that does not fit fails with the `io::Error`
//! kind `StorageFull`, which WASI reports as `insufficient-space`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use bytes::Bytes;
use wasmtime::StoreContextMut;
use wasmtime::component::{Linker, Resource};
use wasmtime_wasi::WasiView;
use wasmtime_wasi::filesystem::Descriptor;
use wasmtime_wasi::filesystem::WasiFilesystemView;
use wasmtime_wasi::p2::bindings::sync::filesystem::types::{ErrorCode, HostDescriptor};
use wasmtime_wasi::p2::{DynOutputStream, FsError, OutputStream, Pollable, StreamError};

use super::store_data::StoreData;

/// Bytes a pack may keep in `/scratch`, unless configured:
/// `ENVPACK_SCRATCH_QUOTA_MB`.
pub const DEFAULT_QUOTA: u64 = 256 << 20;

/// The `wasi:filesystem/types` interface as this wasmtime links it.
const TYPES: &str = "wasi:filesystem/types@0.2.12";

/// What one instance may still write into its scratch directory.
#[derive(Debug)]
pub(crate) struct Quota {
    dir: PathBuf,
    limit: u64,
    used: AtomicU64,
}

impl Quota {
    /// A quota of `limit` bytes for `dir`, counting what it holds now.
    pub(crate) fn new(dir: &Path, limit: u64) -> Arc<Self> {
        Arc::new(Self {
            dir: dir.to_path_buf(),
            limit,
            used: AtomicU64::new(crate::fsutil::tree_size(dir)),
        })
    }

    /// Counts again what the directory holds (a file opened for writing
    /// may just have been truncated or removed).
    fn measure(&self) {
        self.used
            .store(crate::fsutil::tree_size(&self.dir), Ordering::Release);
    }

    /// Takes `n` bytes, or refuses with the error a write returns.
    fn charge(&self, n: u64) -> std::io::Result<()> {
        self.used
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |used| {
                used.checked_add(n).filter(|after| *after <= self.limit)
            })
            .map(|_| ())
            .map_err(|used| {
                tracing::warn!(
                    "a pack reached its scratch quota of {} MiB ({} MiB used); raise ENVPACK_SCRATCH_QUOTA_MB if it needs more",
                    self.limit >> 20,
                    used >> 20
                );
                std::io::Error::new(
                    std::io::ErrorKind::StorageFull,
                    format!("scratch quota of {} MiB is full", self.limit >> 20),
                )
            })
    }
}

/// A file stream whose writes are charged to a [`Quota`].
struct Charged {
    inner: DynOutputStream,
    quota: Arc<Quota>,
}

#[wasmtime_wasi::async_trait]
impl OutputStream for Charged {
    fn write(&mut self, bytes: Bytes) -> Result<(), StreamError> {
        self.quota
            .charge(bytes.len() as u64)
            .map_err(|e| StreamError::LastOperationFailed(e.into()))?;
        self.inner.write(bytes)
    }

    fn flush(&mut self) -> Result<(), StreamError> {
        self.inner.flush()
    }

    fn check_write(&mut self) -> Result<usize, StreamError> {
        self.inner.check_write()
    }

    async fn cancel(&mut self) {
        self.inner.cancel().await;
    }
}

#[wasmtime_wasi::async_trait]
impl Pollable for Charged {
    async fn ready(&mut self) {
        self.inner.ready().await;
    }
}

/// The quota of the instance in `store`, if its scratch is bounded.
fn quota_of(store: &StoreContextMut<'_, StoreData>) -> Option<Arc<Quota>> {
    store.data().scratch_quota.clone()
}

/// A filesystem result as the WIT function returns it: the error code for
/// the guest, or a trap.
fn to_wit<T>(r: Result<T, FsError>) -> wasmtime::Result<Result<T, ErrorCode>> {
    match r {
        Ok(v) => Ok(Ok(v)),
        Err(e) => Ok(Err(e.downcast()?.into())),
    }
}

/// Wraps the stream `r` hands out in a [`Charged`] one.
fn charge_stream(
    store: &mut StoreContextMut<'_, StoreData>,
    r: Result<Resource<DynOutputStream>, FsError>,
) -> wasmtime::Result<Result<Resource<DynOutputStream>, ErrorCode>> {
    if let (Ok(stream), Some(quota)) = (&r, quota_of(store)) {
        quota.measure();
        let slot = store.data_mut().ctx().table.get_mut(stream)?;
        let inner = std::mem::replace(slot, Box::new(wasmtime_wasi::p2::pipe::SinkOutputStream));
        *slot = Box::new(Charged { inner, quota });
    }
    to_wit(r)
}

/// Replaces the file-writing functions in `linker` with charged ones.
pub(crate) fn charge_writes(linker: &mut Linker<StoreData>) -> wasmtime::Result<()> {
    linker.allow_shadowing(true);
    let mut types = linker.instance(TYPES)?;
    types.func_wrap(
        "[method]descriptor.write",
        |mut store: StoreContextMut<'_, StoreData>,
         (fd, buf, offset): (Resource<Descriptor>, Vec<u8>, u64)| {
            if let Some(quota) = quota_of(&store)
                && quota.charge(buf.len() as u64).is_err()
            {
                return Ok((Err(ErrorCode::InsufficientSpace),));
            }
            let r = store.data_mut().filesystem().write(fd, buf, offset);
            Ok((to_wit(r)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.write-via-stream",
        |mut store: StoreContextMut<'_, StoreData>, (fd, offset): (Resource<Descriptor>, u64)| {
            let r = store.data_mut().filesystem().write_via_stream(fd, offset);
            Ok((charge_stream(&mut store, r)?,))
        },
    )?;
    types.func_wrap(
        "[method]descriptor.append-via-stream",
        |mut store: StoreContextMut<'_, StoreData>, (fd,): (Resource<Descriptor>,)| {
            let r = store.data_mut().filesystem().append_via_stream(fd);
            Ok((charge_stream(&mut store, r)?,))
        },
    )?;
    linker.allow_shadowing(false);
    Ok(())
}
