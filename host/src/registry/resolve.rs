//! Finding a pack by descriptor in the home's registries, and checking
//! that the tag a pinned pack came from still points where it did.

use envpack_descriptor::{Descriptor, Requirement};
use envpack_manifest::Digest;
use serde::Serialize;

use super::client::Remote;
use super::config::Registries;
use crate::error::{Error, Kind, Result};
use crate::types::{OciRef, PackOrigin};

/// The tag holding the newest version matching `req`: each registry in
/// order is asked for the tags of `PREFIX/<ns.slot.name>`; the first with
/// a matching semver tag wins (a registry listed earlier is preferred,
/// never silently overridden by a later one with a higher version).
pub fn find(registries: &Registries, req: &Requirement, insecure: bool) -> Result<OciRef> {
    if registries.entries().is_empty() {
        return Err(Error::not_found(format!(
            "no installed pack matches {req}, and the home has no registry to look in"
        ))
        .hint(
            "install a file (envpack pack install FILE.wasm), or add a registry to look in, then install again: envpack registry add NAME oci://HOST/PREFIX"
        ));
    }
    let mut seen = Vec::new();
    let mut first = None;
    for entry in registries.entries() {
        let repo = entry.url.child(&req.id().to_string())?;
        first.get_or_insert_with(|| repo.clone());
        let remote = Remote::connect(registries, &repo, insecure)?;
        let tags = remote.tags(&repo)?;
        let versions: Vec<Descriptor> = tags
            .iter()
            .filter_map(|t| t.parse().ok().map(|v| Descriptor::new(req.id().clone(), v)))
            .collect();
        if let Some(best) = req.resolve(&versions) {
            return repo.at_tag(&best.version().to_string());
        }
        seen.push(format!(
            "{} ({repo}): {}",
            entry.name,
            if versions.is_empty() {
                "no version tags".to_string()
            } else {
                versions
                    .iter()
                    .map(|d| d.version().to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        ));
    }
    Err(Error::not_found(format!(
        "no installed pack matches {req}, and no registry has a matching version; {}",
        seen.join("; ")
    ))
    .hint(format!(
        "push one (envpack pack push FILE REGISTRY), or loosen the requirement to a version there: envpack registry tags {}",
        first.map_or_else(String::new, |r| r.to_string())
    )))
}

/// Whether the tag a binding's pack was pulled from still points at the
/// manifest the lock pinned.
#[derive(Clone, Debug, Serialize)]
pub struct TagCheck {
    /// The tag.
    pub reference: OciRef,
    /// The manifest digest pinned in the lock.
    pub pinned: Digest,
    /// What the tag points at now; none when it could not be asked.
    pub current: Option<Digest>,
    /// Why it could not be asked.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl TagCheck {
    /// The tag points elsewhere now.
    pub fn moved(&self) -> bool {
        self.current.is_some_and(|c| c != self.pinned)
    }
}

/// Asks the registry where `origin`'s tag points now; none for an origin
/// pulled by digest alone (a digest cannot move).
pub fn check_tag(registries: &Registries, origin: &PackOrigin) -> Option<TagCheck> {
    origin.reference.tag()?;
    let tag = origin.reference.unpinned();
    let current = Remote::connect(registries, &tag, false).and_then(|r| r.current(&tag));
    let (current, error) = match current {
        Ok(d) => (Some(d), None),
        // The tag was deleted: it no longer points at the pinned manifest.
        Err(e) if e.kind() == Kind::NotFound => {
            (None, Some(format!("the tag is gone: {}", e.message())))
        }
        Err(e) => (None, Some(e.message().to_string())),
    };
    Some(TagCheck {
        reference: tag,
        pinned: origin.manifest,
        current,
        error,
    })
}
