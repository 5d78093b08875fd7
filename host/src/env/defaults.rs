//! The first-party packs embedded in the binary, which a new environment is
//! bound to.

use envpack_descriptor::{Requirement, Slot};
use envpack_manifest::read_manifest;

use crate::error::{Error, Result};
use crate::packs;
use crate::runtime::Runtime;
use crate::store::{InstallOutcome, Store};

include!(concat!(env!("OUT_DIR"), "/default_packs.rs"));

/// The default pack for `slot`, if there is one, as (descriptor, bytes).
fn default_for(slot: Slot) -> Option<(envpack_descriptor::Descriptor, &'static [u8])> {
    DEFAULT_PACKS.iter().find_map(|(_, bytes)| {
        let m = read_manifest(bytes).ok()?;
        (m.slot() == slot).then_some((m.descriptor, *bytes))
    })
}

/// The requirement a new environment binds `slot` to: the embedded default
/// pack at a compatible version.
pub fn default_requirement(slot: Slot) -> Option<Requirement> {
    let (d, _) = default_for(slot)?;
    let req = semver::VersionReq::parse(&format!("^{}", d.version())).ok()?;
    Some(Requirement::new(d.id().clone(), req))
}

/// Installs every embedded default pack into the store (a no-op for those
/// already there) and returns what each install did.
pub fn install_defaults(store: &Store, runtime: &Runtime) -> Result<Vec<InstallOutcome>> {
    DEFAULT_PACKS
        .iter()
        .map(|(id, bytes)| {
            packs::install_bytes(store, runtime, bytes.to_vec(), &format!("embedded default ({id})"))
                .map_err(|e| {
                    if e.kind() == crate::error::Kind::Conflict {
                        Error::conflict(format!(
                            "the default pack {id} in the store differs from the one built into this envpack: {}",
                            e.message()
                        ))
                        .hint(format!("envpack pack remove <{id}@version> --force then rerun, or use a fresh ENVPACK_HOME"))
                    } else {
                        e
                    }
                })
        })
        .collect()
}

/// Installs the embedded default pack whose file has `digest`, if one has:
/// a home that shares environments through a backend (PostgreSQL) may
/// never have run `env init` itself, yet its environments are bound to the
/// defaults another home installed. Returns whether one was installed.
pub(crate) fn install_embedded(
    store: &Store,
    runtime: &Runtime,
    digest: &envpack_manifest::Digest,
) -> Result<bool> {
    let Some((id, bytes)) = DEFAULT_PACKS
        .iter()
        .find(|(_, bytes)| envpack_manifest::Digest::of(bytes) == *digest)
    else {
        return Ok(false);
    };
    packs::install_bytes(
        store,
        runtime,
        bytes.to_vec(),
        &format!("embedded default ({id})"),
    )?;
    Ok(true)
}
