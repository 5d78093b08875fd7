//! envpack-host: resolves descriptors such as `greentic.deployer.k8s@1.0.0`
//! to sandboxed WebAssembly packs and runs them; the library behind the
//! `envpack` binary.
//!
//! - [`store`]: the content-addressed pack store.
//! - [`runtime`]: the wasmtime engine, sandbox and capability checks.
//! - [`packs`]: install, load and build operations tying the two together.
//! - [`cli`]: the `envpack` command line (thin: each command calls one
//!   library operation).

pub mod builder;
pub mod cli;
pub mod deploy;
pub mod env;
pub mod error;
pub mod fsutil;
pub mod home;
pub mod packs;
pub mod runtime;
pub mod store;

pub use envpack_descriptor as descriptor;
pub use envpack_manifest as manifest;
