//! Packs as Wasm OCI artifacts: push a pack file, pull and install one by
//! reference or by descriptor.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envpack_descriptor::{Descriptor, Requirement};
use envpack_manifest::{Digest, PackManifest, exported_interfaces, read_manifest};
use oci_client::manifest::OciImageManifest;
use serde::Serialize;

use super::client::{Blob, Remote};
use super::config::Registries;
use super::resolve;
use crate::env::audit::{AuditLog, Change, audited};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::{InstallOutcome, Store};
use crate::types::{OCI_SCHEME, OciRef, PackOrigin};

/// The config media type of a Wasm OCI artifact (CNCF TAG Runtime).
pub const WASM_CONFIG: &str = "application/vnd.wasm.config.v0+json";
/// The layer media type of a Wasm component.
pub const WASM_LAYER: &str = "application/wasm";
/// The layer media type older tooling (wasm-to-oci) pushes; read, never
/// written.
const OLD_WASM_LAYER: &str = "application/vnd.wasm.content.layer.v1+wasm";

/// The file's name, as `oras` and `wkg` set it.
pub const TITLE: &str = "org.opencontainers.image.title";
const VERSION: &str = "org.opencontainers.image.version";
const DESCRIPTION: &str = "org.opencontainers.image.description";
/// The pack's exact descriptor.
pub const DESCRIPTOR: &str = "dev.envpack.descriptor";
/// The WIT API version the pack was built against.
pub const API_VERSION: &str = "dev.envpack.api-version";
const SLOT: &str = "dev.envpack.slot";

/// What `pack push` did.
#[derive(Clone, Debug, Serialize)]
pub struct PushOutcome {
    /// Where it is now: the tag, pinned to the manifest digest.
    pub reference: OciRef,
    /// The manifest digest (what to pin and pull by).
    pub manifest: Digest,
    /// The pack.
    pub descriptor: Descriptor,
    /// sha256 of the pack file (the layer digest).
    pub digest: Digest,
    /// Bytes.
    pub size: usize,
}

/// `pack push FILE DEST`: DEST is `oci://HOST/REPO[:TAG]` (the tag
/// defaults to the pack's version) or a registry name (the pack goes to
/// `PREFIX/<ns.slot.name>:<version>` there, where `pack install
/// DESCRIPTOR` looks).
pub fn push(home: &Home, file: &Path, dest: &str, insecure: bool) -> Result<PushOutcome> {
    let bytes = std::fs::read(file).map_err(|e| Error::io("read pack file", file, e))?;
    let manifest = read_manifest(&bytes).map_err(|e| {
        Error::invalid(format!("{} is not a pack: {e}", file.display()))
            .hint("build one with envpack pack build PACK_DIR")
    })?;
    let registries = Registries::load(home)?;
    let d = &manifest.descriptor;
    let target = if dest.starts_with(OCI_SCHEME) {
        let r: OciRef = dest.parse()?;
        if r.digest().is_some() {
            return Err(Error::invalid(format!(
                "cannot push to {r}: a digest names what was pushed, push to a tag"
            ))
            .hint(format!(
                "envpack pack push {} {}",
                file.display(),
                r.unpinned()
            )));
        }
        match r.tag() {
            Some(_) => r,
            None => r.at_tag(&d.version().to_string())?,
        }
    } else {
        let entry = registries.get(dest)?;
        entry
            .url
            .child(&d.id().to_string())?
            .at_tag(&d.version().to_string())?
    };
    let exports = exported_interfaces(&bytes).map_err(|e| Error::invalid(e.to_string()))?;
    let layer_digest = Digest::of(&bytes);
    // No timestamp: the same file pushed twice is the same manifest, so
    // re-pushing never moves a tag.
    let config = serde_json::json!({
        "architecture": "wasm",
        "os": "wasip2",
        "layerDigests": [layer_digest.to_string()],
        "component": { "exports": exports },
    });
    let config = Blob::new(
        WASM_CONFIG,
        serde_json::to_vec(&config)
            .map_err(|e| Error::internal(format!("cannot encode the config: {e}")))?,
    );
    let title = file.file_name().map_or_else(
        || format!("{}-{}.wasm", d.id(), d.version()),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut layer = Blob::new(WASM_LAYER, bytes);
    layer.annotations.insert(TITLE.into(), title.clone());
    let size = layer.bytes.len();
    let remote = Remote::connect(&registries, &target, insecure)?;
    let digest = remote.push(
        &target,
        None,
        &config,
        &[layer],
        annotations(&manifest, title),
    )?;
    Ok(PushOutcome {
        reference: target.pinned(digest),
        manifest: digest,
        descriptor: d.clone(),
        digest: layer_digest,
        size,
    })
}

fn annotations(m: &PackManifest, title: String) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TITLE.into(), title),
        (VERSION.into(), m.descriptor.version().to_string()),
        (DESCRIPTION.into(), m.description.clone()),
        (DESCRIPTOR.into(), m.descriptor.to_string()),
        (API_VERSION.into(), m.api_version.to_string()),
        (SLOT.into(), m.descriptor.id().slot().to_string()),
    ])
}

/// What `pack install` is given.
#[derive(Clone, Debug)]
pub enum PackSource {
    /// A pack file.
    File(PathBuf),
    /// An `oci://` reference.
    Oci(OciRef),
    /// A requirement, resolved locally, else through the home's
    /// registries.
    Requirement(Requirement),
}

impl PackSource {
    /// `oci://...`, an existing path or `*.wasm`, else a requirement.
    pub fn parse(arg: &str) -> Result<Self> {
        if arg.starts_with(OCI_SCHEME) {
            return arg.parse().map(Self::Oci);
        }
        let path = Path::new(arg);
        if path.exists() || arg.ends_with(".wasm") || arg.contains('/') {
            return Ok(Self::File(path.to_path_buf()));
        }
        arg.parse::<Requirement>().map(Self::Requirement).map_err(|e| {
            Error::from(e).hint(format!(
                "give a pack file, an oci:// reference or a descriptor such as acme.state.memory@^1.2 (no file {arg:?} exists)"
            ))
        })
    }
}

/// One install's outcome: the store's, and where it came from.
#[derive(Clone, Debug, Serialize)]
pub struct PullOutcome {
    /// The store's outcome.
    #[serde(flatten)]
    pub installed: InstallOutcome,
    /// The registry reference and manifest digest, when pulled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub origin: Option<PackOrigin>,
}

/// `pack install`: files as ever; references pulled, verified and
/// installed with their origin; requirements already met locally left as
/// they are, others resolved through the registries. Audited in the home
/// log as one `pack.install`.
pub fn install(
    home: &Home,
    runtime: &Runtime,
    sources: &[PackSource],
    insecure: bool,
) -> Result<Vec<PullOutcome>> {
    let target = sources
        .iter()
        .map(|s| match s {
            PackSource::File(p) => p.display().to_string(),
            PackSource::Oci(r) => r.to_string(),
            PackSource::Requirement(r) => r.to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ");
    let change = Change {
        verb: "pack.install",
        target: target.clone(),
        before: serde_json::Value::Null,
        after: serde_json::json!(target.split(' ').collect::<Vec<_>>()),
    };
    let backend = crate::backend::open(home);
    audited(AuditLog::Home(backend.as_ref(), None), change, || {
        let store = Store::open(home);
        let registries = Registries::load(home)?;
        sources
            .iter()
            .map(|s| install_one(&store, runtime, &registries, s, insecure))
            .collect()
    })
}

fn install_one(
    store: &Store,
    runtime: &Runtime,
    registries: &Registries,
    source: &PackSource,
    insecure: bool,
) -> Result<PullOutcome> {
    let reference = match source {
        PackSource::File(path) => {
            let mut out = crate::packs::install(store, runtime, std::slice::from_ref(path))?;
            let installed = out
                .pop()
                .ok_or_else(|| Error::internal("an install of one file reported none"))?;
            return Ok(PullOutcome {
                installed,
                origin: None,
            });
        }
        PackSource::Requirement(req) => {
            if let Ok(d) = store.resolve(req) {
                return Ok(PullOutcome {
                    installed: InstallOutcome {
                        digest: store.digest_of(&d)?,
                        descriptor: d.clone(),
                        outcome: "unchanged",
                    },
                    origin: store.origin_of(&d)?,
                });
            }
            resolve::find(registries, req, insecure)?
        }
        PackSource::Oci(r) => r.clone(),
    };
    let remote = Remote::connect(registries, &reference, insecure)?;
    let (bytes, origin) = fetch(&remote, &reference)?;
    if let PackSource::Requirement(req) = source {
        let m = read_manifest(&bytes).map_err(|e| Error::invalid(e.to_string()))?;
        if !req.matches(&m.descriptor) {
            return Err(Error::integrity(format!(
                "{reference} was chosen for {req} by its tag, but the pack it holds is {}; the registry's tag does not match its content",
                m.descriptor
            ))
            .hint(format!("push the pack again with its own version as tag: envpack pack push FILE oci://{}/{}", reference.host(), reference.repository())));
        }
    }
    let installed = crate::packs::install_pulled(store, runtime, bytes, origin.clone())?;
    Ok(PullOutcome {
        installed,
        origin: Some(origin),
    })
}

/// Installs a pack an environment's lock pins but this home lacks (a home
/// sharing the backend with the one that bound it), from its `origin`: by
/// the pinned manifest digest, never the tag, and it must be the pinned
/// file (`digest`). Returns whether there was an origin to pull from.
pub fn install_pinned(
    home: &Home,
    runtime: &Runtime,
    origin: Option<&PackOrigin>,
    digest: &Digest,
) -> Result<bool> {
    let Some(origin) = origin else {
        return Ok(false);
    };
    let r = origin.reference.by_digest(origin.manifest);
    tracing::info!(reference = %r, "pulling a pinned pack this home does not have");
    let registries = Registries::load(home)?;
    let remote = Remote::connect(&registries, &r, false)?;
    let (bytes, _) = fetch(&remote, &r)?;
    let got = Digest::of(&bytes);
    if got != *digest {
        return Err(Error::integrity(format!(
            "{r} holds a pack with digest {got}, but the lock pins {digest}; refusing it"
        ))
        .hint("install the pinned file by hand (envpack pack install FILE), or rebind the slot"));
    }
    crate::packs::install_pulled(&Store::open(home), runtime, bytes, origin.clone())?;
    Ok(true)
}

/// Pulls the pack at `r`: the manifest and its one Wasm layer, both
/// checked against their digests, the annotated descriptor against the
/// pack's own manifest.
pub fn fetch(remote: &Remote, r: &OciRef) -> Result<(Vec<u8>, PackOrigin)> {
    let pulled = remote.manifest(r)?;
    let layer = wasm_layer(r, &pulled.manifest)?;
    let limit = envpack_manifest::MAX_PACK_BYTES as u64;
    let bytes = remote.blob(&r.by_digest(pulled.digest), layer, limit)?;
    let manifest = read_manifest(&bytes).map_err(|e| {
        Error::invalid(format!(
            "{r} holds a Wasm layer that is not an envpack pack: {e}"
        ))
        .hint("only packs built with envpack pack build can be installed")
    })?;
    let annotated = pulled
        .manifest
        .annotations
        .as_ref()
        .and_then(|a| a.get(DESCRIPTOR));
    if let Some(said) = annotated
        && *said != manifest.descriptor.to_string()
    {
        return Err(Error::integrity(format!(
            "{r}: the manifest's {DESCRIPTOR} annotation says {said}, but the pack it holds is {}; refusing it",
            manifest.descriptor
        ))
        .hint(format!("push the pack file again: envpack pack push FILE {}", r.unpinned())));
    }
    Ok((
        bytes,
        PackOrigin {
            reference: r.clone(),
            manifest: pulled.digest,
        },
    ))
}

fn wasm_layer<'m>(
    r: &OciRef,
    m: &'m OciImageManifest,
) -> Result<&'m oci_client::manifest::OciDescriptor> {
    let not_a_pack = |why: String| {
        Error::invalid(format!("{r} is not a Wasm pack artifact: {why}")).hint(format!(
            "push packs with envpack pack push FILE {} (config {WASM_CONFIG}, one {WASM_LAYER} layer)",
            r.unpinned()
        ))
    };
    if m.config.media_type != WASM_CONFIG
        && m.config.media_type != "application/vnd.wasm.config.v1+json"
    {
        return Err(not_a_pack(format!(
            "its config is {:?}, not {WASM_CONFIG:?}",
            m.config.media_type
        )));
    }
    let wasm: Vec<_> = m
        .layers
        .iter()
        .filter(|l| l.media_type == WASM_LAYER || l.media_type == OLD_WASM_LAYER)
        .collect();
    match wasm.as_slice() {
        [one] => Ok(one),
        _ => Err(not_a_pack(format!(
            "it has {} Wasm layers (of {}), expected exactly one",
            wasm.len(),
            m.layers.len()
        ))),
    }
}
