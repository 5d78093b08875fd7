//! `pack outdated`: for each pack an environment binds, whether the tag
//! it was pulled from still points at the pinned manifest, and whether a
//! registry has a newer version the binding's requirement accepts. A
//! report, never a change: taking either is a `pack install` and an `env
//! bind` the operator runs.

use envpack_descriptor::{Descriptor, Slot};
use serde::Serialize;

use super::config::Registries;
use super::resolve::{self, TagCheck, check_tag};
use crate::env::{EnvName, EnvRecords};
use crate::error::{Kind, Result};
use crate::home::Home;
use crate::types::PackOrigin;

/// One bound pack.
#[derive(Clone, Debug, Serialize)]
pub struct OutdatedRow {
    /// The slot (`command` for a command-only pack).
    pub slot: Slot,
    /// The pinned pack.
    pub descriptor: Descriptor,
    /// The binding's requirement.
    pub requirement: String,
    /// Where it was pulled from, if from a registry.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<PackOrigin>,
    /// The tag's check (none for packs from files or pulled by digest).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tag: Option<TagCheck>,
    /// A newer version the requirement accepts, in the home's registries.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub newer: Option<Descriptor>,
    /// Why the registries could not be asked for newer versions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl OutdatedRow {
    /// The tag moved, or a newer version is available.
    pub fn needs_attention(&self) -> bool {
        self.tag.as_ref().is_some_and(TagCheck::moved) || self.newer.is_some()
    }
}

/// Checks every binding of environment `name`.
pub fn outdated(home: &Home, name: &EnvName) -> Result<Vec<OutdatedRow>> {
    let (_, lock) = EnvRecords::new(home, name).load()?;
    let registries = Registries::load(home)?;
    let mut rows = Vec::new();
    for (seat, b) in lock.bindings() {
        let tag = b.origin.as_ref().and_then(|o| check_tag(&registries, o));
        let (newer, error) = if registries.entries().is_empty() {
            (None, None)
        } else {
            match resolve::find(&registries, &b.requirement, false) {
                Ok(r) => {
                    let newest = r
                        .tag()
                        .and_then(|t| t.parse().ok())
                        .map(|v| Descriptor::new(b.descriptor.id().clone(), v));
                    (newest.filter(|d| *d > b.descriptor), None)
                }
                Err(e) if e.kind() == Kind::NotFound => (None, None),
                Err(e) => (None, Some(e.message().to_string())),
            }
        };
        rows.push(OutdatedRow {
            slot: seat.slot(),
            descriptor: b.descriptor.clone(),
            requirement: b.requirement.to_string(),
            origin: b.origin.clone(),
            tag,
            newer,
            error,
        });
    }
    Ok(rows)
}
