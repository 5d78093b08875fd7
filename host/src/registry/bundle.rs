//! Release bundles as OCI artifacts: the bundle file as one layer and its
//! signature, when it has one, as another; pulled by digest on another
//! machine, verified like a local file (every checksum, the signature's
//! own consistency) before it is written out for `deploy` and `promote`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use envpack_manifest::Digest;
use serde::Serialize;

use super::client::{Blob, Remote};
use super::config::Registries;
use super::pack::TITLE;
use crate::deploy::bundle::{self, Limits, signature};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::home::Home;
use crate::types::OciRef;

/// The manifest's `artifactType`.
pub const ARTIFACT_TYPE: &str = "application/vnd.envpack.bundle.v1";
/// The bundle file's layer.
pub const BUNDLE_LAYER: &str = "application/vnd.envpack.bundle.v1.tar+gzip";
/// The signature's layer.
pub const SIGNATURE_LAYER: &str = "application/vnd.envpack.bundle.signature.v1+json";
/// The OCI 1.1 empty config of artifacts that need none.
const EMPTY_CONFIG: &str = "application/vnd.oci.empty.v1+json";
/// The bundle id annotation.
pub const BUNDLE_ID: &str = "dev.envpack.bundle.id";
const BUNDLE_NAME: &str = "dev.envpack.bundle.name";
const VERSION: &str = "org.opencontainers.image.version";
const REVISION: &str = "org.opencontainers.image.revision";
const REF_NAME: &str = "dev.envpack.bundle.ref";

/// What `bundle push` and `bundle pull` did.
#[derive(Clone, Debug, Serialize)]
pub struct Transferred {
    /// The reference, pinned to the manifest digest.
    pub reference: OciRef,
    /// The manifest digest: what to pull by.
    pub manifest: Digest,
    /// The bundle id (what `promote` takes).
    pub bundle: Digest,
    /// Name.
    pub name: String,
    /// Version.
    pub version: String,
    /// Whether a signature travelled with it.
    pub signed: bool,
    /// The bundle file written (pull only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<PathBuf>,
}

/// `bundle push BUNDLE oci://HOST/REPO[:TAG]`: the bundle verified first,
/// then pushed with `BUNDLE.sig` if there is one. The tag defaults to the
/// bundle's version.
pub fn push(home: &Home, file: &Path, dest: &OciRef, insecure: bool) -> Result<Transferred> {
    let bytes = bundle::read_file(file)?;
    let v = bundle::open_bytes(&bytes, &file.display().to_string(), None)?;
    let sig = signature::read_for(file)?;
    if dest.digest().is_some() {
        return Err(Error::invalid(format!(
            "cannot push to {dest}: a digest names what was pushed, push to a tag"
        ))
        .hint(format!(
            "envpack bundle push {} {}",
            file.display(),
            dest.unpinned()
        )));
    }
    let target = match dest.tag() {
        Some(_) => dest.clone(),
        None => dest.at_tag(&v.manifest.version.to_string().replace('+', "_"))?,
    };
    let title = file.file_name().map_or_else(
        || format!("{}-{}.bundle.tgz", v.manifest.name, v.manifest.version),
        |n| n.to_string_lossy().into_owned(),
    );
    let mut layers = vec![Blob::new(BUNDLE_LAYER, bytes)];
    layers[0].annotations.insert(TITLE.into(), title.clone());
    if let Some(s) = &sig {
        let json = serde_json::to_vec_pretty(s)
            .map_err(|e| Error::internal(format!("cannot encode the signature: {e}")))?;
        let mut l = Blob::new(SIGNATURE_LAYER, json);
        l.annotations.insert(TITLE.into(), format!("{title}.sig"));
        layers.push(l);
    }
    let mut notes = BTreeMap::from([
        (TITLE.to_string(), title),
        (VERSION.to_string(), v.manifest.version.to_string()),
        (BUNDLE_ID.to_string(), v.id.to_string()),
        (BUNDLE_NAME.to_string(), v.manifest.name.clone()),
        (REF_NAME.to_string(), v.manifest.source.reference.clone()),
    ]);
    if let Some(c) = &v.manifest.source.commit {
        notes.insert(REVISION.into(), c.clone());
    }
    let registries = Registries::load(home)?;
    let remote = Remote::connect(&registries, &target, insecure)?;
    let config = Blob::new(EMPTY_CONFIG, b"{}".to_vec());
    let digest = remote.push(&target, Some(ARTIFACT_TYPE), &config, &layers, notes)?;
    Ok(Transferred {
        reference: target.pinned(digest),
        manifest: digest,
        bundle: v.id,
        name: v.manifest.name,
        version: v.manifest.version.to_string(),
        signed: sig.is_some(),
        file: None,
    })
}

/// `bundle pull oci://...`: the manifest and layers checked against their
/// digests, the bundle verified (every checksum), its id checked against
/// the annotation, the signature checked to sign that id with the key it
/// names (whether that key is trusted is each environment's policy, at
/// deploy); then `out` (default `NAME-VERSION.bundle.tgz` in `dir`) and
/// `out.sig` are written. An existing different file is never replaced.
pub fn pull(
    home: &Home,
    r: &OciRef,
    out: Option<&Path>,
    dir: &Path,
    insecure: bool,
) -> Result<Transferred> {
    let registries = Registries::load(home)?;
    let remote = Remote::connect(&registries, r, insecure)?;
    let pulled = remote.manifest(r)?;
    let m = &pulled.manifest;
    let pinned = r.by_digest(pulled.digest);
    if m.artifact_type.as_deref() != Some(ARTIFACT_TYPE) {
        return Err(Error::invalid(format!(
            "{r} is not an envpack bundle: its artifact type is {:?}, not {ARTIFACT_TYPE:?}",
            m.artifact_type
        ))
        .hint("push bundles with envpack bundle push BUNDLE oci://HOST/REPO:TAG"));
    }
    let layer = |media: &str| m.layers.iter().find(|l| l.media_type == media);
    let bundle_layer = layer(BUNDLE_LAYER).ok_or_else(|| {
        Error::invalid(format!("{r} has no {BUNDLE_LAYER} layer"))
            .hint("push bundles with envpack bundle push BUNDLE oci://HOST/REPO:TAG")
    })?;
    let bytes = remote.blob(&pinned, bundle_layer, Limits::from_env()?.max_file_bytes())?;
    let v = bundle::open_bytes(&bytes, &r.to_string(), None)?;
    let annotated = m.annotations.as_ref().and_then(|a| a.get(BUNDLE_ID));
    if let Some(said) = annotated
        && *said != v.id.to_string()
    {
        return Err(Error::integrity(format!(
            "{r}: the manifest says bundle {said}, but the bundle it holds is {}; refusing it",
            v.id
        ))
        .hint(format!(
            "push the bundle again: envpack bundle push BUNDLE {}",
            r.unpinned()
        )));
    }
    let sig = match layer(SIGNATURE_LAYER) {
        Some(l) => {
            let text = remote.blob(&pinned, l, 64 << 10)?;
            let sig = signature::parse(&text, &format!("{r} (signature layer)"))?;
            if let Some(why) = signature::verify(&sig, &v.id, &sig.public_key) {
                return Err(Error::integrity(format!(
                    "{r}: the signature that came with bundle {} does not verify: {why}; refusing it",
                    v.id
                ))
                .hint("sign the bundle again (envpack bundle sign BUNDLE --key KEY) and push it again"));
            }
            Some(sig)
        }
        None => None,
    };
    let file = out.map_or_else(
        || {
            dir.join(format!(
                "{}-{}.bundle.tgz",
                v.manifest.name, v.manifest.version
            ))
        },
        Path::to_path_buf,
    );
    write_new(&file, &bytes)?;
    if let Some(s) = &sig {
        let json = serde_json::to_vec_pretty(s)
            .map_err(|e| Error::internal(format!("cannot encode the signature: {e}")))?;
        write_new(&signature::path_for(&file), &json)?;
    }
    Ok(Transferred {
        reference: r.pinned(pulled.digest),
        manifest: pulled.digest,
        bundle: v.id,
        name: v.manifest.name,
        version: v.manifest.version.to_string(),
        signed: sig.is_some(),
        file: Some(file),
    })
}

/// Writes `bytes` to `path` unless a different file is there (the same
/// bytes again is fine: pulls are repeatable).
fn write_new(path: &Path, bytes: &[u8]) -> Result<()> {
    match std::fs::read(path) {
        Ok(existing) if existing == bytes => return Ok(()),
        Ok(_) => {
            return Err(Error::conflict(format!(
                "{} exists with other content; it is not replaced",
                path.display()
            ))
            .hint("pull with --out NEW_FILE, or move the file away"));
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(Error::io("read", path, e)),
    }
    fsutil::write_atomic(path, bytes)
}
