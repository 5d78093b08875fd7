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
//! The manifest records name, version, source provenance (feature-branch /
//! main / release-tag, ref, and, read from git, commit, dirty, remote), the
//! sha256 and size of every payload and evidence file, and which evidence is
//! required. The bundle id is `sha256:` of the canonical (compact,
//! fixed-order) manifest JSON, so promoting a bundle id promotes exactly
//! these bytes. Nothing in the manifest comes from the clock (`created` is
//! the commit's time or `SOURCE_DATE_EPOCH`) and every tar header is fixed,
//! so two builds of one tree and one claim give one id and one file.
//!
//! Opening a bundle rejects absolute paths, `..`, links, devices, duplicate
//! paths, files the manifest does not list, files whose hash differs, and
//! payload files that look like secrets ([`scan`]).

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use envpack_manifest::Digest;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};

use crate::error::{Error, Kind, Result};
use crate::fsutil;
use crate::types::SourceKind;

pub use provenance::{Checks, Provenance};

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
    /// Commit SHA: HEAD, read from git; stated, with `--no-git`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit: Option<String>,
    /// How the above was established; absent in bundles built before
    /// provenance was checked (they keep their ids).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provenance: Option<Provenance>,
    /// Built from uncommitted changes (`--allow-dirty`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub dirty: bool,
    /// The repository's `origin` URL, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<String>,
}

impl Source {
    /// A claim as `bundle build` flags state it.
    pub fn claim(kind: SourceKind, reference: String, commit: Option<String>) -> Self {
        Self {
            kind,
            reference,
            commit,
            provenance: None,
            dirty: false,
            remote: None,
        }
    }
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
    /// RFC 3339 time of the commit (or `SOURCE_DATE_EPOCH`); empty (and
    /// left out) when neither is known. Never the build's clock.
    #[serde(default, skip_serializing_if = "String::is_empty")]
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
    /// Payload paths shipped although they look like secrets
    /// (`--allow-secret`), so verify skips them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_secrets: Vec<String>,
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
    /// The claimed provenance (kind, ref, optionally commit), checked
    /// against git.
    pub source: Source,
    /// `--no-git`, `--allow-dirty`, `--include-ignored`.
    pub checks: Checks,
    /// Replace an existing `out` (`--force`).
    pub force: bool,
    /// Evidence files to include and require.
    pub evidence: Vec<PathBuf>,
    /// Target-specific attributes (`key=value`).
    pub attributes: BTreeMap<String, String>,
    /// Payload paths allowed although they look like secrets.
    pub allow_secrets: BTreeSet<String>,
    /// Where to write the bundle file.
    pub out: PathBuf,
    /// Check and compute everything, the id included; write nothing.
    pub dry_run: bool,
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
    /// Nothing was written: a dry run (ids are content-derived, so this is
    /// the id the bundle will have).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub dry_run: bool,
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
    if !spec.force && spec.out.exists() {
        return Err(exists(&spec.out));
    }
    let (source, commit_time, walked) = origin(spec)?;
    if walked.paths.is_empty() {
        return Err(Error::invalid(format!(
            "payload directory {} is empty{}",
            spec.dir.display(),
            if walked.ignored > 0 {
                format!(
                    " once {} path(s) .gitignore excludes are left out",
                    walked.ignored
                )
            } else {
                String::new()
            }
        ))
        .hint("pass --include-ignored to ship build output that .gitignore excludes"));
    }
    let files = payload::entries(spec, &walked.paths)?;
    let (evidence, required) = payload::evidence(spec)?;
    let manifest = BundleManifest {
        contract: CONTRACT.into(),
        name: spec.name.clone(),
        version: spec.version.clone(),
        created: provenance::created(commit_time)?,
        source,
        files,
        evidence,
        required_evidence: required,
        attributes: spec.attributes.clone(),
        allowed_secrets: payload::allowed_list(&spec.allow_secrets),
    };
    let id = manifest.id();

    if !spec.dry_run {
        write_archive(spec, &manifest)?;
        if spec.force {
            drop_stale_signature(&spec.out, &id)?;
        }
    }
    Ok(Built {
        id,
        path: spec.out.clone(),
        manifest,
        dry_run: spec.dry_run,
    })
}

/// A `BUNDLE.sig` left from the file `--force` replaced signs another id;
/// it is removed so deploy does not refuse the new bundle for it.
fn drop_stale_signature(out: &Path, id: &Digest) -> Result<()> {
    let path = signature::path_for(out);
    if !path.exists() {
        return Ok(());
    }
    let stale = match signature::read_for(out) {
        Ok(Some(sig)) => sig.bundle != *id,
        Ok(None) => false,
        Err(_) => true,
    };
    if stale {
        fs::remove_file(&path).map_err(|e| Error::io("remove the stale signature", &path, e))?;
    }
    Ok(())
}

/// The bundle file and its signature, absolute: never part of a payload,
/// even when `--out` is inside it (`bundle build .`).
fn outputs(spec: &BuildSpec) -> Vec<PathBuf> {
    [spec.out.clone(), signature::path_for(&spec.out)]
        .iter()
        .filter_map(|p| std::path::absolute(p).ok())
        .collect()
}

fn exists(out: &Path) -> Error {
    Error::conflict(format!(
        "{} already exists; bundles are immutable and never overwritten",
        out.display()
    ))
    .hint(format!(
        "write it elsewhere with --out, or replace it: envpack bundle build ... --out {} --force",
        out.display()
    ))
}

/// The checked provenance, the commit's time, and the payload files
/// (`.git` and, unless `--include-ignored`, what `.gitignore` excludes
/// left out).
fn origin(spec: &BuildSpec) -> Result<(Source, Option<i64>, payload::Walked)> {
    let repo = git::discover(&spec.dir)?;
    let checks = &spec.checks;
    let Some(repo) = repo else {
        if !checks.no_git {
            return Err(Error::invalid(format!(
                "payload directory {} is not inside a git repository, so its provenance cannot be checked",
                spec.dir.display()
            ))
            .hint("build from a git checkout, or say so: envpack bundle build ... --no-git (the bundle records provenance \"unverified\")"));
        }
        let walked = payload::walk(&spec.dir, None, true, &outputs(spec))?;
        return Ok((provenance::unverified(&spec.source), None, walked));
    };
    if checks.no_git {
        return Err(Error::invalid(format!(
            "--no-git, but payload directory {} is inside a git repository",
            spec.dir.display()
        ))
        .hint("drop --no-git: provenance is read from the repository"));
    }
    let mut filter = repo.filter(&spec.dir)?;
    let walked = payload::walk(
        &spec.dir,
        Some(&mut filter),
        checks.include_ignored,
        &outputs(spec),
    )?;
    let (mut facts, time) = repo.facts(&spec.source.reference, &spec.dir)?;
    facts
        .dirty
        .extend(walked.untracked.iter().map(|p| format!("untracked {p}")));
    let source = provenance::check(&spec.source, &facts, checks)?;
    Ok((source, time, walked))
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
            // Fixed metadata: the file is a function of the manifest.
            h.set_mtime(0);
            h.set_uid(0);
            h.set_gid(0);
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
            .zip(payload::sorted_evidence(&spec.evidence))
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
    if spec.force {
        fsutil::persist(tmp, &spec.out)?;
    } else {
        // No clobbering even if the file appeared during the build.
        tmp.as_file()
            .sync_all()
            .map_err(|e| Error::io("sync", tmp.path(), e))?;
        tmp.persist_noclobber(&spec.out).map_err(|e| {
            if e.error.kind() == std::io::ErrorKind::AlreadyExists {
                exists(&spec.out)
            } else {
                Error::io("move into place", &spec.out, e.error)
            }
        })?;
        fsutil::sync_dir(out_dir)?;
    }
    Ok(())
}

mod git;
pub mod limits;
mod open;
mod payload;
pub mod provenance;
pub mod scan;
pub mod signature;

pub use limits::Limits;
pub use open::{Verified, open, open_bytes, open_reader, open_stored, read_file};

/// Whether an error came from a bundle failing verification.
pub fn is_invalid(e: &Error) -> bool {
    e.kind() == Kind::Integrity
}

#[cfg(test)]
mod tests {
    use super::open::safe_rel;
    use super::*;

    #[test]
    fn paths() {
        for ok in ["a", "a/b.txt", "payload/x"] {
            assert!(safe_rel(ok).is_ok(), "{ok}");
        }
        for bad in ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a\\b"] {
            assert!(safe_rel(bad).is_err(), "{bad}");
        }
    }

    /// A manifest made before provenance was checked parses and
    /// re-serialises to the same canonical bytes, so its id is kept; a new
    /// one without a clock time leaves `created` out.
    #[test]
    fn old_manifests_keep_their_ids() {
        let old = r#"{"contract":"release_bundle_v1","name":"web","version":"1.0.0","created":"2026-12-04T02:10:30Z","source":{"kind":"main","ref":"main","commit":"3f2a9c1"},"files":[{"path":"index.html","sha256":"ab","size":2,"executable":false}],"evidence":[],"required_evidence":[],"attributes":{}}"#;
        let m: BundleManifest = serde_json::from_str(old).expect("parses");
        assert_eq!(String::from_utf8(m.canonical()).expect("utf-8"), old);
        assert_eq!(m.id(), Digest::of(old.as_bytes()));
        let mut new = m.clone();
        new.created = String::new();
        new.source.provenance = Some(Provenance::Unverified);
        let json = String::from_utf8(new.canonical()).expect("utf-8");
        assert!(!json.contains("created") && json.contains(r#""provenance":"unverified""#));
    }
}
