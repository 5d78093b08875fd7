//! Opening a bundle: every entry, checksum and piece of required evidence
//! verified before anything is trusted.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufReader, Read, Write as _};
use std::path::Path;

use envpack_manifest::Digest;
use serde::Serialize;
use sha2::{Digest as _, Sha256};

use super::limits::{Limits, check_entry_name};
use super::scan::{self, ALLOWLIST, EntryScan, Finding};
use super::{BundleManifest, CONTRACT, MANIFEST_ENTRY, check_attributes, check_name};
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
/// the required evidence, and every entry's path, type and size against the
/// [`Limits`] from the environment. With `extract`, also writes the payload
/// under that directory (the caller removes it if this fails).
pub fn open(path: &Path, extract: Option<&Path>) -> Result<Verified> {
    let file = fs::File::open(path).map_err(|e| Error::io("read bundle", path, e))?;
    open_reader(
        file,
        &path.display().to_string(),
        extract,
        &Limits::from_env()?,
    )
}

/// Reads a bundle file whole (to verify, then store, exactly those bytes),
/// refusing one larger than any bundle within the [`Limits`] could be,
/// without reading past that bound (or reserving twice it by doubling).
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    let limit = Limits::from_env()?.max_file_bytes().saturating_add(1);
    let file = fs::File::open(path).map_err(|e| Error::io("read bundle", path, e))?;
    let len = file.metadata().map_or(0, |m| m.len()).min(limit);
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::io("read bundle", path, e))?;
    if bytes.len() as u64 >= limit {
        return Err(Error::integrity(format!(
            "bundle {} is invalid: the file is larger than {} bytes, more than any bundle within the limits can be (ENVPACK_BUNDLE_MAX_BYTES, ENVPACK_BUNDLE_MAX_ENTRIES)",
            path.display(),
            limit - 1
        )));
    }
    Ok(bytes)
}

/// [`open`] on a bundle's bytes; `name` says where they came from, for
/// messages.
pub fn open_bytes(file_bytes: &[u8], name: &str, extract: Option<&Path>) -> Result<Verified> {
    open_reader(file_bytes, name, extract, &Limits::from_env()?)
}

/// [`open_bytes`] for a bundle an environment already holds: verified and
/// secret-scanned when it was deployed there, so the scan is not repeated
/// (a rule added later must not break rollback or observe of what already
/// runs). Every other check is.
pub fn open_stored(file_bytes: &[u8], name: &str, extract: Option<&Path>) -> Result<Verified> {
    open_with(file_bytes, name, extract, &Limits::from_env()?, false)
}

/// Streams a bundle once: every entry is hashed (and extracted) and its
/// payload scanned for secrets as it is read, never held whole, so memory
/// stays flat whatever the bundle holds.
pub fn open_reader(
    reader: impl Read,
    name: &str,
    extract: Option<&Path>,
    limits: &Limits,
) -> Result<Verified> {
    open_with(reader, name, extract, limits, true)
}

fn open_with(
    reader: impl Read,
    name: &str,
    extract: Option<&Path>,
    limits: &Limits,
    scan_secrets: bool,
) -> Result<Verified> {
    let bad = |why: String| Error::integrity(format!("bundle {name} is invalid: {why}"));
    let mut hashed = Hashing::new(reader);
    let contents = read_entries(&mut hashed, extract, limits, &bad)?;
    check_payload(&contents.manifest, &contents.payload, &bad)?;
    check_evidence(&contents.manifest, &contents.evidence, &bad)?;
    if scan_secrets {
        check_secrets(&contents, &bad)?;
    }
    Ok(Verified {
        id: contents.manifest.id(),
        manifest: contents.manifest,
        file_digest: Digest::from_bytes(hashed.hasher.finalize().into()),
    })
}

/// A reader that hashes what passes through it: the bundle file's digest,
/// computed in the same pass that reads the entries.
struct Hashing<R> {
    inner: R,
    hasher: Sha256,
}

impl<R: Read> Hashing<R> {
    fn new(inner: R) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
        }
    }
}

impl<R: Read> Read for Hashing<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }
}

/// What an archive holds: its manifest, and (sha256, size) of each payload
/// and evidence file.
struct Contents {
    manifest: BundleManifest,
    payload: BTreeMap<String, (String, u64)>,
    evidence: BTreeMap<String, (String, u64)>,
    /// What the secret scan found in the payload, before the allowlist.
    findings: Vec<Finding>,
    /// The payload's allowlist file, when it has one.
    allowlist: Option<Vec<u8>>,
}

/// The largest manifest read: it is JSON listing at most `max_entries`
/// files, never gigabytes.
const MAX_MANIFEST: u64 = 64 << 20;

/// Reads every entry, refusing unsafe or unprintable paths, duplicates,
/// links, files and directories that collide, anything outside `payload/`
/// and `evidence/`, sizes that differ from the manifest or break the
/// limits, and anything after the archive; with `extract`, writes the
/// payload under it.
fn read_entries<R: Read>(
    reader: R,
    extract: Option<&Path>,
    limits: &Limits,
    bad: &dyn Fn(String) -> Error,
) -> Result<Contents> {
    let gz = flate2::bufread::GzDecoder::new(BufReader::new(reader));
    let mut archive = tar::Archive::new(gz);
    let mut state = Walk::default();
    let mut manifest: Option<BundleManifest> = None;
    let mut contents_payload = BTreeMap::new();
    let mut contents_evidence = BTreeMap::new();
    let mut findings = Vec::new();
    let mut allowlist = None;
    {
        let entries = archive
            .entries()
            .map_err(|e| bad(format!("not a gzip tar file ({e})")))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| bad(format!("corrupt archive ({e})")))?;
            let name = entry_name(&entry, limits, bad)?;
            let is_dir = entry_kind(&entry, &name, bad)?;
            state.admit(&name, is_dir, entry.size(), limits, bad)?;
            if is_dir {
                continue;
            }
            let Some(m) = &manifest else {
                if name != MANIFEST_ENTRY {
                    return Err(bad(format!(
                        "its first file is {name:?}; {MANIFEST_ENTRY} must come first"
                    )));
                }
                manifest = Some(read_manifest(&mut entry, limits, bad)?);
                continue;
            };
            let (listed, rel) = listed_size(m, &name, bad)?;
            if let Some(size) = listed
                && size != entry.size()
            {
                return Err(bad(format!(
                    "file {name:?} was tampered with: it is {} bytes, the manifest says {size}",
                    entry.size()
                )));
            }
            let is_payload = name.starts_with("payload/");
            let dest = extract.filter(|_| is_payload).map(|d| d.join(rel));
            let mut scan = is_payload.then(|| EntryScan::new(rel));
            let digest = hash_entry(&mut entry, &name, dest.as_deref(), scan.as_mut(), bad)?;
            if let Some(scan) = scan {
                let (found, kept) = scan.finish();
                findings.extend(found);
                if kept.is_some() {
                    allowlist = kept;
                }
            }
            if is_payload {
                contents_payload.insert(rel.to_string(), digest);
            } else {
                contents_evidence.insert(rel.to_string(), digest);
            }
        }
    }
    check_end(archive.into_inner(), bad)?;
    let manifest = manifest.ok_or_else(|| bad(format!("it has no {MANIFEST_ENTRY}")))?;
    Ok(Contents {
        manifest,
        payload: contents_payload,
        evidence: contents_evidence,
        findings,
        allowlist,
    })
}

/// Payload files that look like secrets refuse the bundle, unless its
/// allowlist file or the manifest's `allowed_secrets` allows them.
fn check_secrets(contents: &Contents, bad: &dyn Fn(String) -> Error) -> Result<()> {
    let findings = scan::not_allowed(
        contents.findings.clone(),
        contents.allowlist.as_deref(),
        &contents.manifest.allowed_secrets,
    )
    .map_err(bad)?;
    if findings.is_empty() {
        return Ok(());
    }
    Err(bad(format!(
        "its payload holds what looks like secrets: {}",
        scan::describe(&findings)
    ))
    .hint(format!("rebuild it without them (envpack bundle build scans with the same rules), or list real false positives in {ALLOWLIST}"))
    .with_details(serde_json::json!({ "findings": findings })))
}

/// The entry's name: UTF-8, a plain relative path, printable, and short
/// enough for any filesystem.
fn entry_name<R: Read>(
    entry: &tar::Entry<'_, R>,
    limits: &Limits,
    bad: &dyn Fn(String) -> Error,
) -> Result<String> {
    let raw = entry.path_bytes();
    let name = std::str::from_utf8(&raw).map_err(|_| {
        bad(format!(
            "entry {:?} is not a UTF-8 name",
            String::from_utf8_lossy(&raw)
        ))
    })?;
    let name = safe_rel(name).map_err(|e| bad(e.message().to_string()))?;
    check_entry_name(&name, limits.max_path).map_err(bad)?;
    Ok(name.trim_end_matches('/').to_string())
}

/// `true` for a directory, `false` for a regular file; anything else (links,
/// devices, fifos) is refused.
fn entry_kind<R: Read>(
    entry: &tar::Entry<'_, R>,
    name: &str,
    bad: &dyn Fn(String) -> Error,
) -> Result<bool> {
    let ty = entry.header().entry_type();
    if ty.is_dir() {
        Ok(true)
    } else if ty.is_file() {
        Ok(false)
    } else {
        Err(bad(format!(
            "entry {name:?} is a {ty:?}, not a regular file (links could escape the payload)"
        )))
    }
}

fn read_manifest<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    limits: &Limits,
    bad: &dyn Fn(String) -> Error,
) -> Result<BundleManifest> {
    if entry.size() > MAX_MANIFEST {
        return Err(bad(format!(
            "{MANIFEST_ENTRY} is {} bytes; at most {MAX_MANIFEST} are allowed",
            entry.size()
        )));
    }
    let mut bytes = Vec::new();
    entry
        .take(MAX_MANIFEST)
        .read_to_end(&mut bytes)
        .map_err(|e| bad(format!("cannot read {MANIFEST_ENTRY} ({e})")))?;
    let m: BundleManifest = serde_json::from_slice(&bytes)
        .map_err(|e| bad(format!("{MANIFEST_ENTRY} does not parse ({e})")))?;
    check_declared(&m, limits, bad)?;
    Ok(m)
}

/// What the manifest declares, against the limits, before any file is read.
fn check_declared(
    m: &BundleManifest,
    limits: &Limits,
    bad: &dyn Fn(String) -> Error,
) -> Result<()> {
    let count = m.files.len() as u64 + m.evidence.len() as u64 + 1;
    if count > limits.max_entries {
        return Err(bad(format!(
            "the manifest lists {count} files; at most {} are allowed (ENVPACK_BUNDLE_MAX_ENTRIES)",
            limits.max_entries
        )));
    }
    let payload = m.files.iter().map(|f| ("payload", f));
    let evidence = m.evidence.iter().map(|f| ("evidence", f));
    let mut total = 0u64;
    for (section, f) in payload.chain(evidence) {
        check_entry_name(&format!("{section}/{}", f.path), limits.max_path).map_err(bad)?;
        if f.size > limits.max_entry_bytes {
            return Err(bad(format!(
                "file {:?} is {} bytes; at most {} are allowed per file (ENVPACK_BUNDLE_MAX_ENTRY_BYTES)",
                f.path, f.size, limits.max_entry_bytes
            )));
        }
        total = total.saturating_add(f.size);
    }
    if total > limits.max_bytes {
        return Err(bad(format!(
            "its files unpack to {total} bytes; at most {} are allowed (ENVPACK_BUNDLE_MAX_BYTES)",
            limits.max_bytes
        )));
    }
    Ok(())
}

/// The size the manifest lists for an entry (`None`: not listed; the
/// payload check names it), and the entry's path under its section.
fn listed_size<'n>(
    m: &BundleManifest,
    name: &'n str,
    bad: &dyn Fn(String) -> Error,
) -> Result<(Option<u64>, &'n str)> {
    let (list, rel) = if let Some(rel) = name.strip_prefix("payload/") {
        (&m.files, rel)
    } else if let Some(rel) = name.strip_prefix("evidence/") {
        (&m.evidence, rel)
    } else {
        return Err(bad(format!(
            "unexpected entry {name:?} outside payload/ and evidence/"
        )));
    };
    Ok((list.iter().find(|f| f.path == rel).map(|f| f.size), rel))
}

/// Hashes an entry as it streams past, writing it to `dest` too.
fn hash_entry<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    name: &str,
    dest: Option<&Path>,
    mut scan: Option<&mut EntryScan>,
    bad: &dyn Fn(String) -> Error,
) -> Result<(String, u64)> {
    let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
    let mut hasher = Sha256::new();
    let mut file = match dest {
        Some(d) => Some(create_payload_file(d)?),
        None => None,
    };
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = entry
            .read(&mut buf)
            .map_err(|e| bad(format!("cannot read entry {name:?} ({e})")))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        if let Some(s) = scan.as_deref_mut() {
            s.feed(&buf[..n]);
        }
        size += n as u64;
        if let (Some(f), Some(d)) = (file.as_mut(), dest) {
            f.write_all(&buf[..n])
                .map_err(|e| Error::io("write", d, e))?;
        }
    }
    if let (Some(_), Some(d)) = (file, dest) {
        finish_payload_file(d, executable)?;
    }
    Ok((hex::encode(hasher.finalize()), size))
}

/// After the tar end marker: only zero padding may follow inside the gzip
/// stream, the gzip trailer (CRC and length) must be complete and right,
/// and nothing may follow the gzip stream.
fn check_end<R: Read>(
    mut gz: flate2::bufread::GzDecoder<BufReader<R>>,
    bad: &dyn Fn(String) -> Error,
) -> Result<()> {
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = gz
            .read(&mut buf)
            .map_err(|e| bad(format!("its gzip stream is truncated or corrupt ({e})")))?;
        if n == 0 {
            break;
        }
        if buf[..n].iter().any(|b| *b != 0) {
            return Err(bad("it has data after the end of the tar archive".into()));
        }
    }
    let mut rest = gz.into_inner();
    let n = rest
        .read(&mut buf)
        .map_err(|e| bad(format!("cannot read past the gzip stream ({e})")))?;
    if n > 0 {
        return Err(bad(
            "it has trailing data after the gzip stream (a bundle is exactly one gzip stream)"
                .into(),
        ));
    }
    Ok(())
}

/// Where the walk is: what it has counted and which names are files or
/// directories, so extraction can never find a file where it needs a
/// directory.
#[derive(Default)]
struct Walk {
    seen: BTreeSet<String>,
    files: BTreeSet<String>,
    dirs: BTreeSet<String>,
    count: u64,
    total: u64,
}

impl Walk {
    fn admit(
        &mut self,
        name: &str,
        is_dir: bool,
        size: u64,
        limits: &Limits,
        bad: &dyn Fn(String) -> Error,
    ) -> Result<()> {
        if !self.seen.insert(name.to_string()) {
            return Err(bad(format!("entry {name:?} appears twice")));
        }
        self.count += 1;
        if self.count > limits.max_entries {
            return Err(bad(format!(
                "it has more than {} entries (ENVPACK_BUNDLE_MAX_ENTRIES)",
                limits.max_entries
            )));
        }
        self.total = self.total.saturating_add(size);
        if size > limits.max_entry_bytes {
            return Err(bad(format!(
                "entry {name:?} is {size} bytes; at most {} are allowed per file (ENVPACK_BUNDLE_MAX_ENTRY_BYTES)",
                limits.max_entry_bytes
            )));
        }
        if self.total > limits.max_bytes {
            return Err(bad(format!(
                "its entries up to {name:?} unpack to {} bytes; at most {} are allowed (ENVPACK_BUNDLE_MAX_BYTES)",
                self.total, limits.max_bytes
            )));
        }
        let mut parent = name;
        while let Some((p, _)) = parent.rsplit_once('/') {
            if self.files.contains(p) {
                return Err(bad(format!(
                    "entry {name:?} is inside {p:?}, which is a file"
                )));
            }
            self.dirs.insert(p.to_string());
            parent = p;
        }
        if is_dir {
            self.dirs.insert(name.to_string());
        } else if self.dirs.contains(name) {
            return Err(bad(format!(
                "entry {name:?} is a file, but other entries are inside it"
            )));
        } else {
            self.files.insert(name.to_string());
        }
        Ok(())
    }
}

fn create_payload_file(target: &Path) -> Result<fs::File> {
    if let Some(parent) = target.parent() {
        fsutil::create_dir_all(parent)?;
    }
    fs::File::create(target).map_err(|e| Error::io("write", target, e))
}

fn finish_payload_file(target: &Path, executable: bool) -> Result<()> {
    #[cfg(unix)]
    if executable {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(target, fs::Permissions::from_mode(0o755))
            .map_err(|e| Error::io("make executable", target, e))?;
    }
    #[cfg(not(unix))]
    let _ = (target, executable);
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
