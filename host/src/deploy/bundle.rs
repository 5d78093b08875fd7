//! Immutable release bundles (`release_bundle_v1`).
//!
//! A bundle is one gzip-compressed tar file:
//!
//! ```text
//! bundle_manifest.json     the manifest (first entry)
//! payload/<path>           the files to deploy
//! evidence/<name>          release evidence (test reports, SBOMs, ...)
//! ```
//!
//! The manifest records name, version, creation time, source provenance
//! (feature-branch / main / release-tag, ref, commit), the sha256 and size of
//! every payload and evidence file, and which evidence is required. The bundle
//! id is `sha256:` of the canonical (compact, fixed-order) manifest JSON, so
//! promoting a bundle id promotes exactly these bytes.
//!
//! Opening a bundle rejects absolute paths, `..`, links, devices, duplicate
//! paths, files the manifest does not list, and files whose hash differs.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use envpack_manifest::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Kind, Result};
use crate::fsutil;
use crate::store::now_rfc3339;
use crate::types::SourceKind;

/// The manifest's contract tag.
pub const CONTRACT: &str = "release_bundle_v1";
const MANIFEST_ENTRY: &str = "bundle_manifest.json";

/// Where a bundle came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Source {
    /// Branch or tag kind.
    pub kind: SourceKind,
    /// Branch or tag name.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Commit SHA, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
}

/// One file of the payload or the evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Relative `/`-separated path.
    pub path: String,
    /// Lowercase hex sha256.
    pub sha256: String,
    /// Size in bytes.
    pub size: u64,
    /// Whether the file is executable.
    #[serde(default)]
    pub executable: bool,
}

/// `bundle_manifest.json`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BundleManifest {
    /// Always [`CONTRACT`].
    pub contract: String,
    /// Bundle name: `[a-z0-9][a-z0-9-]*`.
    pub name: String,
    /// Semantic version.
    pub version: semver::Version,
    /// RFC 3339 creation time.
    pub created: String,
    /// Provenance.
    pub source: Source,
    /// Payload files, sorted by path.
    pub files: Vec<FileEntry>,
    /// Evidence files, sorted by path.
    #[serde(default)]
    pub evidence: Vec<FileEntry>,
    /// Evidence paths that must be present.
    #[serde(default)]
    pub required_evidence: Vec<String>,
    /// Target-specific settings (how to run it, health path, ...).
    #[serde(default)]
    pub attributes: BTreeMap<String, String>,
}

impl BundleManifest {
    /// The canonical bytes the id is computed from.
    pub fn canonical(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// The bundle id: `sha256:` of the canonical manifest.
    pub fn id(&self) -> Digest {
        Digest::of(&self.canonical())
    }
}

/// Options for [`build`].
#[derive(Clone, Debug)]
pub struct BuildSpec {
    /// The payload directory.
    pub dir: PathBuf,
    /// Bundle name.
    pub name: String,
    /// Version.
    pub version: semver::Version,
    /// Provenance.
    pub source: Source,
    /// Evidence files to include and require.
    pub evidence: Vec<PathBuf>,
    /// Target-specific attributes (`key=value`).
    pub attributes: BTreeMap<String, String>,
    /// Payload paths allowed although they look like secrets.
    pub allow_secrets: BTreeSet<String>,
    /// Where to write the bundle file.
    pub out: PathBuf,
}

/// What was built.
#[derive(Clone, Debug, Serialize)]
pub struct Built {
    /// Bundle id.
    pub id: Digest,
    /// The bundle file.
    pub path: PathBuf,
    /// Its manifest.
    pub manifest: BundleManifest,
}

/// Every `env.NAME` attribute passes the local runtime's environment
/// policy ([`crate::local::envpolicy`]), so a bundle that would set `PORT`,
/// `PATH` or `BASH_ENV` is refused when built and verified, not at start.
fn check_attributes(attributes: &BTreeMap<String, String>) -> Result<()> {
    for key in attributes.keys() {
        if let Some(name) = key.strip_prefix("env.") {
            crate::local::envpolicy::check(name)?;
        }
    }
    Ok(())
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "invalid bundle name {name:?}: expected lowercase letters, digits and '-', at most 64 characters"
        )))
    }
}

/// Why a file looks like a secret, if it does.
pub fn secret_reason(path: &str, content: &[u8]) -> Option<&'static str> {
    let file = path.rsplit('/').next().unwrap_or(path);
    if file == ".env" || file.starts_with(".env.") {
        return Some("it is a dotenv file, which usually holds credentials");
    }
    if matches!(file, "id_rsa" | "id_dsa" | "id_ecdsa" | "id_ed25519") {
        return Some("it is named like an SSH private key");
    }
    if matches!(
        file,
        ".npmrc" | ".pypirc" | ".netrc" | "credentials" | ".git-credentials"
    ) {
        return Some("it is a credentials file");
    }
    let text = String::from_utf8_lossy(&content[..content.len().min(1 << 20)]);
    if text.contains("PRIVATE KEY-----") {
        return Some("it contains a PEM private key");
    }
    let token_prefixes = [
        "AKIA",
        "ghp_",
        "github_pat_",
        "xoxb-",
        "xoxp-",
        "sk_live_",
        "glpat-",
    ];
    for word in text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-')) {
        if token_prefixes
            .iter()
            .any(|p| word.starts_with(p) && word.len() >= p.len() + 16)
        {
            return Some("it contains what looks like an access token");
        }
    }
    None
}

fn hash_file(path: &Path) -> Result<(String, u64, bool)> {
    let mut f = fs::File::open(path).map_err(|e| Error::io("read", path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut size = 0u64;
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io("read", path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
        size += n as u64;
    }
    #[cfg(unix)]
    let exec = {
        use std::os::unix::fs::PermissionsExt;
        f.metadata()
            .map(|m| m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false)
    };
    #[cfg(not(unix))]
    let exec = false;
    Ok((hex::encode(h.finalize()), size, exec))
}

/// Walks `dir`, returning relative paths of regular files, sorted. Links
/// are refused: a bundle carries bytes, not pointers out of its payload.
fn walk(dir: &Path) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).map_err(|e| Error::io("list", &d, e))? {
            let e = e.map_err(|e| Error::io("list", &d, e))?;
            let ty = e
                .file_type()
                .map_err(|err| Error::io("stat", &e.path(), err))?;
            let path = e.path();
            let rel = path
                .strip_prefix(dir)
                .map_err(|_| Error::internal("walked outside the payload"))?
                .to_string_lossy()
                .replace('\\', "/");
            if ty.is_symlink() {
                return Err(Error::invalid(format!(
                    "payload file {rel:?} is a symbolic link; bundles carry files, not links"
                ))
                .hint("replace the link with the file it points to"));
            } else if ty.is_dir() {
                stack.push(path);
            } else if ty.is_file() {
                out.push(rel);
            }
        }
    }
    out.sort();
    Ok(out)
}

/// `bundle build`: packs `spec.dir` into one bundle file.
pub fn build(spec: &BuildSpec) -> Result<Built> {
    check_name(&spec.name)?;
    check_attributes(&spec.attributes)?;
    if !spec.dir.is_dir() {
        return Err(Error::not_found(format!(
            "payload directory {} does not exist",
            spec.dir.display()
        )));
    }
    let paths = walk(&spec.dir)?;
    if paths.is_empty() {
        return Err(Error::invalid(format!(
            "payload directory {} is empty",
            spec.dir.display()
        )));
    }
    let files = payload_entries(spec, &paths)?;
    let (evidence, required) = evidence_entries(spec)?;
    let manifest = BundleManifest {
        contract: CONTRACT.into(),
        name: spec.name.clone(),
        version: spec.version.clone(),
        created: now_rfc3339(),
        source: spec.source.clone(),
        files,
        evidence,
        required_evidence: required,
        attributes: spec.attributes.clone(),
    };
    let id = manifest.id();

    write_archive(spec, &manifest)?;
    Ok(Built {
        id,
        path: spec.out.clone(),
        manifest,
    })
}

/// Hashes every payload file, refusing secrets unless allowed.
fn payload_entries(spec: &BuildSpec, paths: &[String]) -> Result<Vec<FileEntry>> {
    let mut files = Vec::new();
    let max_path = Limits::from_env()?.max_path;
    for rel in paths {
        // What verify would refuse is refused here, naming the file.
        limits::check_entry_name(&format!("payload/{rel}"), max_path)
            .map_err(|why| Error::invalid(why).hint("rename the file in the payload directory"))?;
        let full = spec.dir.join(rel);
        let content = fs::read(&full).map_err(|e| Error::io("read", &full, e))?;
        if let Some(reason) = secret_reason(rel, &content)
            && !spec.allow_secrets.contains(rel)
        {
            return Err(Error::denied(format!(
                "refusing to bundle {rel:?}: {reason}; secrets belong in the environment's secrets pack"
            ))
            .hint(format!("remove it from the payload, or pass --allow-secret {rel} if it is really meant to ship")));
        }
        let (sha256, size, executable) = hash_file(&full)?;
        files.push(FileEntry {
            path: rel.clone(),
            sha256,
            size,
            executable,
        });
    }
    Ok(files)
}

/// Hashes the evidence files; each becomes required evidence by name.
fn evidence_entries(spec: &BuildSpec) -> Result<(Vec<FileEntry>, Vec<String>)> {
    let mut evidence = Vec::new();
    let mut required = Vec::new();
    for ev in &spec.evidence {
        let name = ev
            .file_name()
            .map(|n| n.to_string_lossy().to_string())
            .ok_or_else(|| {
                Error::invalid(format!("evidence path {} has no file name", ev.display()))
            })?;
        if required.contains(&name) {
            return Err(Error::invalid(format!(
                "two evidence files are named {name:?}"
            )));
        }
        let (sha256, size, executable) = hash_file(ev)?;
        evidence.push(FileEntry {
            path: name.clone(),
            sha256,
            size,
            executable,
        });
        required.push(name);
    }
    evidence.sort_by(|a, b| a.path.cmp(&b.path));
    required.sort();
    Ok((evidence, required))
}

/// Writes the gzip tar next to its destination and moves it into place:
/// the manifest, then the payload (checked again against its hashes), then
/// the evidence.
fn write_archive(spec: &BuildSpec, manifest: &BundleManifest) -> Result<()> {
    let out_dir = spec
        .out
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    fsutil::create_dir_all(out_dir)?;
    let tmp = tempfile::Builder::new()
        .prefix(".tmp-bundle-")
        .tempfile_in(out_dir)
        .map_err(|e| Error::io("create a temporary file in", out_dir, e))?;
    {
        let gz = flate2::write::GzEncoder::new(tmp.as_file(), flate2::Compression::default());
        let mut tar = tar::Builder::new(gz);
        let put = |tar: &mut tar::Builder<_>, path: &str, bytes: &[u8], exec: bool| -> Result<()> {
            let mut h = tar::Header::new_gnu();
            h.set_size(bytes.len() as u64);
            h.set_mode(if exec { 0o755 } else { 0o644 });
            h.set_mtime(0);
            h.set_entry_type(tar::EntryType::Regular);
            tar.append_data(&mut h, path, bytes)
                .map_err(|e| Error::io(&format!("write bundle entry {path} to"), &spec.out, e))
        };
        let manifest_bytes = serde_json::to_vec_pretty(&manifest)
            .map_err(|e| Error::internal(format!("cannot encode the manifest: {e}")))?;
        put(&mut tar, MANIFEST_ENTRY, &manifest_bytes, false)?;
        for f in &manifest.files {
            let bytes = fs::read(spec.dir.join(&f.path))
                .map_err(|e| Error::io("read", &spec.dir.join(&f.path), e))?;
            if hex::encode(Sha256::digest(&bytes)) != f.sha256 {
                return Err(Error::conflict(format!(
                    "{} changed while the bundle was being built",
                    f.path
                )));
            }
            put(
                &mut tar,
                &format!("payload/{}", f.path),
                &bytes,
                f.executable,
            )?;
        }
        for (f, src) in manifest
            .evidence
            .iter()
            .zip(sorted_evidence(&spec.evidence))
        {
            let bytes = fs::read(&src).map_err(|e| Error::io("read", &src, e))?;
            put(&mut tar, &format!("evidence/{}", f.path), &bytes, false)?;
        }
        let gz = tar
            .into_inner()
            .map_err(|e| Error::io("finish the bundle", &spec.out, e))?;
        gz.finish()
            .map_err(|e| Error::io("finish the bundle", &spec.out, e))?
            .flush()
            .ok();
    }
    fsutil::persist(tmp, &spec.out)?;
    Ok(())
}

fn sorted_evidence(list: &[PathBuf]) -> Vec<PathBuf> {
    let mut v = list.to_vec();
    v.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    v
}

pub mod limits;
mod open;

pub use limits::Limits;
pub use open::{Verified, open, open_bytes, open_reader, read_file};

/// Whether an error came from a bundle failing verification.
pub fn is_invalid(e: &Error) -> bool {
    e.kind() == Kind::Integrity
}

#[cfg(test)]
mod tests {
    use super::open::safe_rel;
    use super::*;

    #[test]
    fn secret_detection() {
        assert!(secret_reason(".env", b"A=1").is_some());
        assert!(secret_reason("conf/.env.production", b"").is_some());
        assert!(secret_reason("keys/id_rsa", b"").is_some());
        assert!(secret_reason("x.pem", b"-----BEGIN RSA PRIVATE KEY-----").is_some());
        assert!(
            secret_reason("config.yml", b"token: ghp_abcdefghijklmnopqrstuvwxyz0123").is_some()
        );
        assert!(secret_reason("config.yml", b"key: AKIAABCDEFGHIJKLMNOP").is_some());
        assert!(secret_reason("README.md", b"set AKIA keys in the env").is_none());
        assert!(secret_reason("environment.rs", b"fn main() {}").is_none());
    }

    #[test]
    fn paths() {
        for ok in ["a", "a/b.txt", "payload/x"] {
            assert!(safe_rel(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a\\b"] {
            assert!(safe_rel(bad).is_err(), "{bad}");
        }
    }
}
