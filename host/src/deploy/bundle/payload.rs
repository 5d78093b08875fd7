//! The files `bundle build` packs: walked, filtered, scanned and hashed.

use std::collections::BTreeSet;
use std::fs;
use std::io::Read;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::git::Filter;
use super::limits::{self, Limits};
use super::scan::{self, ALLOWLIST, Allowlist, FileScan};
use super::{BuildSpec, FileEntry};
use crate::error::{Error, Result};

/// What the walk found.
#[derive(Debug, Default)]
pub struct Walked {
    /// Payload paths, sorted.
    pub paths: Vec<String>,
    /// Those the git index does not track (empty outside git).
    pub untracked: Vec<String>,
    /// How many paths `.gitignore` kept out.
    pub ignored: usize,
}

/// Walks `dir`, returning relative paths of regular files, sorted. `.git`
/// never enters a payload, nor do the `skip` paths (the bundle being
/// written and its signature, when `--out` is inside the payload); with a
/// `filter`, neither does what `.gitignore` excludes, unless
/// `include_ignored`. Links are refused: a bundle carries bytes, not
/// pointers out of its payload.
pub fn walk(
    dir: &Path,
    mut filter: Option<&mut Filter<'_>>,
    include_ignored: bool,
    skip: &[PathBuf],
) -> Result<Walked> {
    let mut out = Walked::default();
    // (directory, whether .gitignore excludes it or one of its parents)
    let root_ignored = match filter.as_deref_mut() {
        Some(f) => f.root_ignored()?,
        None => false,
    };
    let mut stack = vec![(dir.to_path_buf(), root_ignored)];
    while let Some((d, parent_ignored)) = stack.pop() {
        for e in fs::read_dir(&d).map_err(|e| Error::io("list", &d, e))? {
            let e = e.map_err(|e| Error::io("list", &d, e))?;
            let ty = e
                .file_type()
                .map_err(|err| Error::io("stat", &e.path(), err))?;
            let path = e.path();
            if e.file_name() == ".git"
                || std::path::absolute(&path).is_ok_and(|p| skip.contains(&p))
            {
                continue;
            }
            let rel = path
                .strip_prefix(dir)
                .map_err(|_| Error::internal("walked outside the payload"))?
                .to_string_lossy()
                .replace('\\', "/");
            let ignored = match filter.as_deref_mut() {
                Some(f) => parent_ignored || f.is_ignored(&rel, ty.is_dir())?,
                None => false,
            };
            if ignored && !include_ignored {
                out.ignored += 1;
                continue;
            }
            if ty.is_symlink() {
                return Err(Error::invalid(format!(
                    "payload file {rel:?} is a symbolic link; bundles carry files, not links"
                ))
                .hint("replace the link with the file it points to"));
            } else if ty.is_dir() {
                stack.push((path, ignored));
            } else if ty.is_file() {
                if let Some(f) = filter.as_deref()
                    && !ignored
                    && !f.is_tracked(&rel)
                {
                    out.untracked.push(rel.clone());
                }
                out.paths.push(rel);
            }
        }
    }
    out.paths.sort();
    out.untracked.sort();
    Ok(out)
}

/// Hashes a file: sha256, size, executable.
pub fn hash_file(path: &Path) -> Result<(String, u64, bool)> {
    hash_and_scan(path, None)
}

fn hash_and_scan(path: &Path, mut scan: Option<&mut FileScan>) -> Result<(String, u64, bool)> {
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
        if let Some(s) = scan.as_deref_mut() {
            s.feed(&buf[..n]);
        }
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

/// The payload's allowlist: its [`ALLOWLIST`] file and `--allow-secret`.
fn allowlist(spec: &BuildSpec, paths: &[String]) -> Result<Allowlist> {
    let list = if paths.iter().any(|p| p == ALLOWLIST) {
        let file = spec.dir.join(ALLOWLIST);
        let text = fs::read_to_string(&file).map_err(|e| Error::io("read", &file, e))?;
        if text.len() > scan::MAX_ALLOWLIST {
            return Err(Error::invalid(format!(
                "{} is {} bytes; at most {} are allowed",
                file.display(),
                text.len(),
                scan::MAX_ALLOWLIST
            )));
        }
        Allowlist::parse(&text)
            .map_err(|why| Error::invalid(why).hint(format!("fix {}", file.display())))?
    } else {
        Allowlist::default()
    };
    Ok(list.with_paths(&spec.allow_secrets))
}

/// Hashes and scans every payload file; anything that looks like a secret
/// and is not allowed refuses the build, naming file, line and rule.
pub fn entries(spec: &BuildSpec, paths: &[String]) -> Result<Vec<FileEntry>> {
    let allowed = allowlist(spec, paths)?;
    let mut files = Vec::new();
    let mut findings = Vec::new();
    let max_path = Limits::from_env()?.max_path;
    for rel in paths {
        // What verify would refuse is refused here, naming the file.
        limits::check_entry_name(&format!("payload/{rel}"), max_path)
            .map_err(|why| Error::invalid(why).hint("rename the file in the payload directory"))?;
        let full = spec.dir.join(rel);
        let mut scan = FileScan::new(rel);
        let (sha256, size, executable) = hash_and_scan(&full, Some(&mut scan))?;
        findings.extend(scan.finish());
        files.push(FileEntry {
            path: rel.clone(),
            sha256,
            size,
            executable,
        });
    }
    let findings = allowed.filter(findings);
    if let Some(first) = findings.first() {
        return Err(Error::denied(format!(
            "refusing to bundle {}: {}; secrets belong in the environment's secrets pack",
            first.path,
            scan::describe(&findings)
        ))
        .hint(format!(
            "remove them from the payload; if one is really meant to ship, add `{}{} {}` to {ALLOWLIST} in the payload root, or pass --allow-secret {}",
            first.path,
            first.line.map(|l| format!(":{l}")).unwrap_or_default(),
            first.rule,
            first.path
        ))
        .with_details(serde_json::json!({ "findings": findings })));
    }
    Ok(files)
}

/// Hashes the evidence files; each becomes required evidence by name.
pub fn evidence(spec: &BuildSpec) -> Result<(Vec<FileEntry>, Vec<String>)> {
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

/// The evidence files in manifest order.
pub fn sorted_evidence(list: &[PathBuf]) -> Vec<PathBuf> {
    let mut v = list.to_vec();
    v.sort_by_key(|p| p.file_name().map(|n| n.to_os_string()));
    v
}

/// The `--allow-secret` paths as the manifest records them.
pub fn allowed_list(set: &BTreeSet<String>) -> Vec<String> {
    set.iter().cloned().collect()
}
