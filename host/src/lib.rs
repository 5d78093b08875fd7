//! envpack-host: resolves descriptors such as `greentic.deployer.k8s@1.0.0`
//! to sandboxed WebAssembly packs and runs them; the library behind the
//! `envpack` binary.
//!
//! Layers point down (`docs/design/003-core-layout.md`):
//!
//! - [`cli`]: the `envpack` command line, thin: one file per command, each
//!   calling one library operation.
//! - [`deploy`], [`truth`], [`local`], [`env`]: the deployment verbs,
//!   observation and drift, the local runtime (processes and the ingress),
//!   environments and their sessions.
//! - [`backend`], [`runtime`], [`store`], [`packs`]: the storage seam, the
//!   sandboxed Wasm runtime, the content-addressed pack store, and the
//!   operations tying store and runtime together.
//! - [`types`], [`error`], [`fsutil`], [`home`], and the `descriptor` and
//!   `manifest` crates underneath.

pub mod actor;
pub mod backend;
pub mod builder;
pub mod cli;
pub mod conformance;
pub mod deploy;
pub mod devloop;
pub mod env;
pub mod error;
pub mod fsutil;
pub mod home;
pub mod local;
pub mod packs;
pub mod registry;
pub mod runtime;
pub mod scaffold;
pub mod store;
pub mod text;
pub mod truth;
pub mod types;

pub use envpack_descriptor as descriptor;
pub use envpack_manifest as manifest;
