//! A revision's payload on disk: made read-only once extracted, hashed for
//! observation, and verified against its bundle's manifest before every
//! start, so a payload edited after deploy (by hand, or by another
//! revision running as the same user) never runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use crate::error::{Error, Result};

/// What a symlink in a payload hashes as: bundles hold only regular files,
/// so a link is always a difference, and its target is never followed.
const SYMLINK: &str = "symlink";

/// The sha256 of every file under `dir`, by `/`-separated relative path
/// (`unreadable` for a file that cannot be read, `symlink` for a link).
pub fn file_digests(dir: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(ty) = e.file_type() else { continue };
            if ty.is_dir() {
                stack.push(path);
            } else if let Ok(rel) = path.strip_prefix(dir) {
                let rel = rel.to_string_lossy().replace('\\', "/");
                let digest = if ty.is_symlink() {
                    SYMLINK.to_string()
                } else {
                    sha256_of(&path).unwrap_or_else(|| "unreadable".into())
                };
                out.insert(rel, digest);
            }
        }
    }
    out
}

fn sha256_of(path: &Path) -> Option<String> {
    use sha2::Digest as _;
    let mut f = fs::File::open(path).ok()?;
    let mut h = sha2::Sha256::new();
    std::io::copy(&mut f, &mut h).ok()?;
    Some(hex::encode(h.finalize()))
}

/// Makes an extracted payload read-only: files `0444` (`0555` when
/// executable), directories `0555`. This stops a revision running as
/// another user, and mistakes; root ignores modes, which is why
/// [`verify`] runs before every start.
pub fn make_read_only(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta = fs::symlink_metadata(dir).map_err(|e| Error::io("read", dir, e))?;
        if meta.is_dir() {
            for e in fs::read_dir(dir).map_err(|e| Error::io("read", dir, e))? {
                let e = e.map_err(|e| Error::io("read", dir, e))?;
                make_read_only(&e.path())?;
            }
        }
        let mode = if meta.is_dir() || meta.permissions().mode() & 0o111 != 0 {
            0o555
        } else {
            0o444
        };
        if !meta.is_symlink() {
            fs::set_permissions(dir, fs::Permissions::from_mode(mode))
                .map_err(|e| Error::io("make read-only", dir, e))?;
        }
    }
    Ok(())
}

/// Every difference between the payload files on disk and what the bundle
/// lists, one phrase each (`file "run.sh" changed`), in path order.
pub fn differences(
    expected: &BTreeMap<String, String>,
    actual: &BTreeMap<String, String>,
) -> Vec<String> {
    let mut out = Vec::new();
    for (path, want) in expected {
        match actual.get(path) {
            None => out.push(format!("file {path:?} is missing")),
            Some(got) if got != want => out.push(format!("file {path:?} changed")),
            Some(_) => {}
        }
    }
    for path in actual.keys().filter(|p| !expected.contains_key(*p)) {
        out.push(format!("file {path:?} was added"));
    }
    out
}

/// Refuses to start revision `revision` when its payload at `dir` differs
/// from `expected` (path -> sha256, from the bundle's manifest).
pub fn verify(dir: &Path, revision: &str, expected: &BTreeMap<String, String>) -> Result<()> {
    let diffs = differences(expected, &file_digests(dir));
    if diffs.is_empty() {
        return Ok(());
    }
    let shown: Vec<&str> = diffs.iter().take(5).map(String::as_str).collect();
    let more = diffs.len().saturating_sub(shown.len());
    Err(Error::integrity(format!(
        "refusing to start revision {revision}: its payload no longer matches its bundle ({}{}); \
         the payload was modified after deploy. Inspect with `envpack observe`, then deploy the bundle again",
        shown.join(", "),
        if more > 0 {
            format!(", and {more} more")
        } else {
            String::new()
        }
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn differences_name_every_change() {
        let want = map(&[("a", "1"), ("b", "2"), ("c", "3")]);
        let got = map(&[("a", "1"), ("b", "9"), ("d", "4")]);
        assert_eq!(
            differences(&want, &got),
            [
                "file \"b\" changed",
                "file \"c\" is missing",
                "file \"d\" was added"
            ]
        );
        assert!(differences(&want, &want).is_empty());
    }

    #[test]
    fn read_only_then_verified() {
        let dir = tempfile::tempdir().expect("tempdir");
        let p = dir.path().join("payload");
        fs::create_dir_all(p.join("sub")).expect("mkdir");
        fs::write(p.join("sub/run.sh"), "#!/bin/sh\n").expect("write");
        let want = file_digests(&p);
        make_read_only(&p).expect("read-only");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |q: &Path| fs::metadata(q).expect("meta").permissions().mode() & 0o777;
            assert_eq!(mode(&p), 0o555);
            assert_eq!(mode(&p.join("sub/run.sh")), 0o444);
        }
        verify(&p, "r1", &want).expect("unchanged");
        crate::fsutil::make_removable(&p);
        #[cfg(unix)]
        std::os::unix::fs::symlink("/etc/passwd", p.join("sub/link")).expect("symlink");
        let e = verify(&p, "r1", &want).unwrap_err();
        assert!(e.message().contains("\"sub/link\" was added"), "{e}");
    }
}
