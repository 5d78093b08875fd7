//! Envpack descriptors: parsing, validation and version resolution.
//!
//! A pack is identified by `namespace.slot.name`, for example
//! `greentic.deployer.k8s`:
//!
//! * [`PackId`] is that versionless identity;
//! * [`Descriptor`] is an identity with an exact semver version,
//!   `greentic.deployer.k8s@1.2.3`, naming one concrete pack;
//! * [`Requirement`] is an identity with a cargo-style version requirement,
//!   `greentic.deployer.k8s@^1.2`, and can [`Requirement::resolve`] to the
//!   newest matching [`Descriptor`] among candidates.
//!
//! Every parse failure is a [`DescriptorError`] whose message quotes the
//! input, says what was wrong and what was expected, so the host can show it
//! to a user as is.
//!
//! ```
//! use envpack_descriptor::{Descriptor, Requirement, Slot};
//!
//! let installed: Vec<Descriptor> = ["acme.state.fs@1.2.0", "acme.state.fs@1.4.1", "acme.state.fs@2.0.0"]
//!     .iter()
//!     .map(|s| s.parse())
//!     .collect::<Result<_, _>>()?;
//! let wanted: Requirement = "acme.state.fs@^1.2".parse()?;
//! let chosen = wanted.resolve(&installed).expect("a 1.x version is installed");
//! assert_eq!(chosen.to_string(), "acme.state.fs@1.4.1");
//! assert_eq!(chosen.slot(), Slot::State);
//!
//! let err = "acme.deploy.k8s@1.0.0".parse::<Descriptor>().unwrap_err();
//! assert!(err.to_string().contains(r#"did you mean "deployer"?"#));
//! # Ok::<(), envpack_descriptor::DescriptorError>(())
//! ```
//!
//! This crate deliberately has no wasm runtime dependency: tools that only
//! read or write manifests should not have to build one.

#![deny(missing_docs)]

mod descriptor;
mod error;
mod id;
mod requirement;
mod slot;

#[cfg(test)]
mod tests;

pub use descriptor::Descriptor;
pub use error::{DescriptorError, Segment, Subject};
pub use id::{MAX_SEGMENT_LEN, PackId};
pub use requirement::Requirement;
/// Re-exported so callers name the same `Version`/`VersionReq` types this
/// crate's accessors return, whatever semver version they depend on.
pub use semver;
pub use slot::Slot;
