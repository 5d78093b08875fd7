//! The envpack pack file format.
//!
//! A pack is one WebAssembly component whose manifest travels inside it, in a
//! top-level custom section named [`MANIFEST_SECTION`]. The host reads the
//! manifest by walking the component's top-level section headers, without
//! compiling or instantiating anything, and identifies the pack by the sha256
//! of the whole file ([`Digest`]).
//!
//! This crate has no wasmtime dependency so the host's build script, the
//! `envpack pack build` command and tests can all share it.
#![deny(missing_docs)]

mod capability;
mod digest;
mod manifest;
mod pack_toml;
mod section;
mod size;

pub use capability::{Capability, CapabilityError, Grants, HostPattern};
pub use digest::{Digest, DigestError};
pub use envpack_descriptor::{Descriptor, DescriptorError, PackId, Requirement, Slot};
pub use manifest::{
    API_VERSION, ArgKind, ArgSpec, CommandEffect, CommandSpec, DRY_RUN_ARG, MANIFEST_FORMAT,
    ManifestError, PackManifest, RESERVED_COMMANDS, RequestedCapabilities, SUPPORTED_API,
};
pub use pack_toml::{PackSection, PackToml, PackTomlError};
pub use section::{
    API_VERSION_SECTION, MANIFEST_SECTION, SDK_VERSION_SECTION, SectionError, embed_manifest,
    exported_interfaces, read_api_stamp, read_manifest, read_sdk_stamp,
};
pub use size::{MAX_FUNCTIONS, MAX_PACK_BYTES, PackShape, shape, too_big};
