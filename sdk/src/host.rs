//! The seam between the helpers ([`log`](crate::log), [`kv`](crate::kv),
//! [`http`](crate::http), ...) and the host: the same helper code calls the
//! real imports in the `wasm32` build and the in-process fake of
//! `testing` (feature `testing`) in a native one (`cargo test`), so a pack's
//! logic runs unchanged in both.

#[cfg(target_arch = "wasm32")]
pub(crate) use crate::__wit::greentic::envpack::{config, kv, log, process, secrets_access};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use crate::fake::{config, kv, log, process, secrets_access};
