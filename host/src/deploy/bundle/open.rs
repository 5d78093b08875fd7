//! Opening a bundle: every entry, checksum and piece of required evidence
//! verified before anything is trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Read as _;
use std::path::Path;

use envpack_manifest::Digest;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::{BundleManifest, CONTRACT, MANIFEST_ENTRY, MAX_ENTRY, check_attributes, check_name};
use crate::error::{Error, Result};
use crate::fsutil;

/// An opened, fully verified bundle.
#[derive(Clone, Debug, Serialize)]
pub struct Verified {
    /// Bundle id.
    pub id: Digest,
    /// Manifest.
    pub manifest: BundleManifest,
    /// Digest of the bundle file itself.
    pub file_digest: Digest,
}

pub(super) fn safe_rel(path: &str) -> Result<String> {
    // Checked on the raw text: `Path::components` would quietly drop `.`.
    let bad = path.is_empty()
        || Path::new(path).is_absolute()
        || path.contains('\\')
        || path
            .trim_end_matches('/')
            .split('/')
            .any(|seg| seg.is_empty() || seg == "." || seg == "..");
    if bad {
        return Err(Error::integrity(format!(
            "bundle entry {path:?} is not a plain relative path (absolute paths and '..' are refused)"
        )));
    }
    Ok(path.to_string())
}

/// `bundle verify`: opens a bundle, checking the manifest, every checksum,
/// the required evidence, and every entry's path and type. With `extract`,
/// also writes the payload under that directory.
pub fn open(path: &Path, extract: Option<&Path>) -> Result<Verified> {
    let file_bytes = fs::read(path).map_err(|e| Error::io("read bundle", path, e))?;
    open_bytes(&file_bytes, &path.display().to_string(), extract)
}

/// [`open`] on a bundle's bytes; `name` says where they came from, for
/// messages.
pub fn open_bytes(file_bytes: &[u8], name: &str, extract: Option<&Path>) -> Result<Verified> {
    let bad = |why: String| Error::integrity(format!("bundle {name} is invalid: {why}"));
    let contents = read_entries(file_bytes, extract, &bad)?;
    let manifest = contents
        .manifest
        .ok_or_else(|| bad(format!("it has no {MANIFEST_ENTRY}")))?;
    check_payload(&manifest, &contents.payload, &bad)?;
    check_evidence(&manifest, &contents.evidence, &bad)?;
    Ok(Verified {
        id: manifest.id(),
        manifest,
        file_digest: Digest::of(file_bytes),
    })
}

/// What an archive holds: its manifest, and (sha256, size) of each payload
/// and evidence file.
struct Contents {
    manifest: Option<BundleManifest>,
    payload: BTreeMap<String, (String, u64)>,
    evidence: BTreeMap<String, (String, u64)>,
}

/// Reads every entry, refusing unsafe paths, duplicates, links, oversized
/// entries and anything outside `payload/` and `evidence/`; with `extract`,
/// writes the payload under it.
fn read_entries(
    file_bytes: &[u8],
    extract: Option<&Path>,
    bad: &dyn Fn(String) -> Error,
) -> Result<Contents> {
    let gz = flate2::read::GzDecoder::new(file_bytes);
    let mut archive = tar::Archive::new(gz);
    let entries = archive
        .entries()
        .map_err(|e| bad(format!("not a gzip tar file ({e})")))?;
    let mut contents = Contents {
        manifest: None,
        payload: BTreeMap::new(),
        evidence: BTreeMap::new(),
    };
    let mut seen = BTreeSet::new();
    for entry in entries {
        let mut entry = entry.map_err(|e| bad(format!("corrupt archive ({e})")))?;
        let name = entry
            .path()
            .map_err(|e| bad(format!("unreadable entry name ({e})")))?
            .to_string_lossy()
            .to_string();
        let name = safe_rel(&name).map_err(|e| bad(e.message().to_string()))?;
        if !seen.insert(name.clone()) {
            return Err(bad(format!("entry {name:?} appears twice")));
        }
        let ty = entry.header().entry_type();
        if ty.is_dir() {
            continue;
        }
        if !ty.is_file() {
            return Err(bad(format!(
                "entry {name:?} is a {ty:?}, not a regular file (links could escape the payload)"
            )));
        }
        if entry.size() > MAX_ENTRY {
            return Err(bad(format!(
                "entry {name:?} is larger than {MAX_ENTRY} bytes"
            )));
        }
        let mut bytes = Vec::with_capacity(entry.size() as usize);
        entry
            .read_to_end(&mut bytes)
            .map_err(|e| bad(format!("cannot read entry {name:?} ({e})")))?;
        if name == MANIFEST_ENTRY {
            let m: BundleManifest = serde_json::from_slice(&bytes)
                .map_err(|e| bad(format!("{MANIFEST_ENTRY} does not parse ({e})")))?;
            contents.manifest = Some(m);
            continue;
        }
        let digest = (hex::encode(Sha256::digest(&bytes)), bytes.len() as u64);
        if let Some(rel) = name.strip_prefix("payload/") {
            if let Some(dest) = extract {
                let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                write_payload_file(&dest.join(rel), &bytes, executable)?;
            }
            contents.payload.insert(rel.to_string(), digest);
        } else if let Some(rel) = name.strip_prefix("evidence/") {
            contents.evidence.insert(rel.to_string(), digest);
        } else {
            return Err(bad(format!(
                "unexpected entry {name:?} outside payload/ and evidence/"
            )));
        }
    }
    Ok(contents)
}

fn write_payload_file(target: &Path, bytes: &[u8], executable: bool) -> Result<()> {
    if let Some(parent) = target.parent() {
        fsutil::create_dir_all(parent)?;
    }
    fs::write(target, bytes).map_err(|e| Error::io("write", target, e))?;
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(target, fs::Permissions::from_mode(0o755));
    }
    Ok(())
}

/// The manifest's contract and name, and the payload exactly as listed:
/// every file present with its hash and size, nothing extra.
fn check_payload(
    manifest: &BundleManifest,
    payload: &BTreeMap<String, (String, u64)>,
    bad: &dyn Fn(String) -> Error,
) -> Result<()> {
    if manifest.contract != CONTRACT {
        return Err(bad(format!(
            "its contract is {:?}, expected {CONTRACT:?}",
            manifest.contract
        )));
    }
    check_name(&manifest.name).map_err(|e| bad(e.message().to_string()))?;
    check_attributes(&manifest.attributes).map_err(|e| bad(e.message().to_string()))?;
    let mut listed = BTreeSet::new();
    for f in &manifest.files {
        safe_rel(&f.path).map_err(|e| bad(e.message().to_string()))?;
        if !listed.insert(f.path.clone()) {
            return Err(bad(format!("the manifest lists {:?} twice", f.path)));
        }
        match payload.get(&f.path) {
            None => return Err(bad(format!("payload file {:?} is missing", f.path))),
            Some((sha, size)) if *sha != f.sha256 || *size != f.size => {
                return Err(bad(format!(
                    "payload file {:?} was tampered with: sha256 {sha}, the manifest says {}",
                    f.path, f.sha256
                )));
            }
            Some(_) => {}
        }
    }
    if let Some(extra) = payload.keys().find(|k| !listed.contains(*k)) {
        return Err(bad(format!(
            "payload file {extra:?} is not in the manifest"
        )));
    }
    Ok(())
}

/// Every required evidence file is listed, present and untampered.
fn check_evidence(
    manifest: &BundleManifest,
    evidence: &BTreeMap<String, (String, u64)>,
    bad: &dyn Fn(String) -> Error,
) -> Result<()> {
    for req in &manifest.required_evidence {
        let Some(listed) = manifest.evidence.iter().find(|e| &e.path == req) else {
            return Err(bad(format!(
                "required evidence {req:?} is not listed in the manifest"
            )));
        };
        match evidence.get(req) {
            None => return Err(bad(format!("required evidence {req:?} is missing"))),
            Some((sha, _)) if *sha != listed.sha256 => {
                return Err(bad(format!("evidence {req:?} was tampered with")));
            }
            Some(_) => {}
        }
    }
    Ok(())
}
