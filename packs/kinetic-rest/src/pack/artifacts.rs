//! Backups, built packages and layer exports, kept in the pack's private
//! `/scratch` so one command can use what an earlier one produced
//! (`solutions build` then `solutions install`). Paths are built from
//! checked ids only.

use std::path::PathBuf;

use crate::rest::KineticError;
use crate::rest::error::HostKind;

const ROOT: &str = "/scratch/kinetic";

fn safe(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.~".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}

/// Where an artifact of `kind` (`backups`, `packages`, `layers`) for
/// `company` named `name` lives.
pub fn path(kind: &str, company: &str, name: &str) -> PathBuf {
    PathBuf::from(ROOT)
        .join(kind)
        .join(safe(company))
        .join(safe(name))
}

fn io_error(what: &str, p: &std::path::Path, e: std::io::Error) -> KineticError {
    KineticError::Host(
        HostKind::Unavailable,
        format!("cannot {what} {}: {e}", p.display()),
    )
}

/// Writes an artifact (temp file, then rename) and returns its path.
pub fn save(kind: &str, company: &str, name: &str, bytes: &[u8]) -> Result<PathBuf, KineticError> {
    let p = path(kind, company, name);
    if let Some(dir) = p.parent() {
        std::fs::create_dir_all(dir).map_err(|e| io_error("create", dir, e))?;
    }
    let tmp = p.with_extension("tmp");
    std::fs::write(&tmp, bytes).map_err(|e| io_error("write", &tmp, e))?;
    std::fs::rename(&tmp, &p).map_err(|e| io_error("write", &p, e))?;
    Ok(p)
}

/// Reads an artifact; `None` when there is none.
pub fn load(kind: &str, company: &str, name: &str) -> Result<Option<Vec<u8>>, KineticError> {
    let p = path(kind, company, name);
    match std::fs::read(&p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_error("read", &p, e)),
    }
}
