//! Packs and release bundles in OCI registries.
//!
//! A pack is pushed in the layout other Wasm tooling reads (the CNCF TAG
//! Runtime "Wasm OCI artifact": config `application/vnd.wasm.config.v0+json`,
//! one `application/wasm` layer) with the descriptor and API version in
//! the manifest's annotations; a bundle as an OCI artifact of its own type
//! with its signature beside it. Everything pulled is checked by sha256
//! against the manifest digest and each layer digest before it is used
//! ([`client`]); a pack pulled is then installed like a file (its manifest
//! read, its bytes content-addressed, precompiled) with its origin — the
//! reference and manifest digest — recorded in the store and pinned in
//! each lock that binds it, so a tag that moves is drift (`env doctor`).
//!
//! The home's registries (`registry add`) give logins and the order in
//! which `pack install DESCRIPTOR` asks them ([`config`]).

pub mod bundle;
pub mod client;
pub mod config;
pub mod outdated;
pub mod pack;
mod resolve;

pub use config::{Credentials, Registries, RegistryEntry, SecretFrom};
pub use pack::{PackSource, PullOutcome, PushOutcome, install, push};
pub use resolve::{TagCheck, check_tag};
