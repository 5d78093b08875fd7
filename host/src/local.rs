//! The local runtime: revisions run as processes on this machine, from
//! payloads extracted out of their verified bundles, behind an HTTP ingress
//! (`envpack serve`) that follows the traffic split.
//!
//! Only a deployer whose binding grants the `process` capability uses it
//! ([`runs_locally`]); other deployers never get a payload directory or a
//! process table. [`processes`] and the payload staging here need only the
//! filesystem and the runtime's capability trait; [`ingress`] reads
//! deployment records and sits beside the deployment verbs.

pub mod envpolicy;
pub mod ingress;
pub mod payload;
pub mod processes;
pub mod supervise;
pub mod tree;

use std::collections::BTreeMap;
use std::path::Path;

use envpack_manifest::{Capability, Grants};

pub use processes::{PayloadIntent, Processes, Stray};

use crate::env::EnvRecords;
use crate::error::{Error, Result};

/// Whether a deployer bound with `grants` runs revisions on this machine.
pub fn runs_locally(grants: &Grants) -> bool {
    grants.covers(&Capability::Process)
}

/// Extracts a revision's payload from its verified bundle into the
/// environment's machine-local directory, makes it read-only and records
/// which bundle it came from, so the deployer can start programs from it.
pub fn stage_payload(
    local_dir: &Path,
    revision: &str,
    bundle: &[u8],
    bundle_id: &str,
) -> Result<()> {
    let processes = Processes::new(local_dir);
    let dir = processes.payload_dir(revision);
    let staged =
        crate::deploy::bundle::open_stored(bundle, &format!("{bundle_id} (stored)"), Some(&dir))
            .and_then(|_| payload::make_read_only(&dir))
            .and_then(|()| processes.set_bundle(revision, bundle_id));
    if staged.is_err() {
        // A partial payload must not stay where a later start could run it.
        crate::fsutil::make_removable(&dir);
        let _ = std::fs::remove_dir_all(&dir);
    }
    staged
}

/// The payload each revision must hold, from the bundle the environment's
/// deployment records name for it (stored content-addressed and verified
/// again on every read), never from anything beside the payload.
#[derive(Clone, Debug)]
pub struct RecordedPayloads {
    records: EnvRecords,
}

impl RecordedPayloads {
    /// The recorded payloads of the environment behind `records`.
    pub fn new(records: &EnvRecords) -> Self {
        Self {
            records: records.clone(),
        }
    }
}

impl PayloadIntent for RecordedPayloads {
    fn files(&self, revision: &str) -> Result<BTreeMap<String, String>> {
        let records = crate::deploy::DeploymentRecords::new(&self.records);
        let bundle = records
            .all()?
            .into_iter()
            .find_map(|d| d.revisions.iter().find(|r| r.id == revision).map(|r| r.bundle_id))
            .ok_or_else(|| {
                Error::not_found(format!(
                    "revision {revision} is not recorded in environment {}, so its payload cannot be verified",
                    self.records.name()
                ))
            })?;
        records.bundle_files(&bundle)
    }
}

/// The processes of the environment behind `records`, verifying payloads
/// against their recorded bundles before every start.
pub fn processes_of(records: &EnvRecords) -> Processes {
    Processes::new(&records.local_dir())
        .verifying(std::sync::Arc::new(RecordedPayloads::new(records)))
}

/// The last output of a revision that ran here, for failure reasons.
pub fn output_tail(local_dir: &Path, revision: &str) -> String {
    Processes::new(local_dir).output_tail(revision)
}

/// A revision's whole output on this machine, and the offset to follow it
/// from.
pub fn read_output(local_dir: &Path, revision: &str) -> Result<(String, u64)> {
    read_output_from(local_dir, revision, 0)
}

/// A revision's output on this machine, read from byte `offset` on; returns
/// the text and the offset to continue from (for `logs -f`).
pub fn read_output_from(local_dir: &Path, revision: &str, offset: u64) -> Result<(String, u64)> {
    use std::io::{Read, Seek, SeekFrom};
    let path = Processes::new(local_dir).log_path(revision);
    let mut file = match std::fs::File::open(&path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((String::new(), 0)),
        Err(e) => return Err(crate::error::Error::io("read", &path, e)),
    };
    let len = file
        .metadata()
        .map_err(|e| crate::error::Error::io("read", &path, e))?
        .len();
    // A log that was truncated starts over.
    let from = if offset > len { 0 } else { offset };
    file.seek(SeekFrom::Start(from))
        .map_err(|e| crate::error::Error::io("read", &path, e))?;
    let mut bytes = Vec::new();
    file.read_to_end(&mut bytes)
        .map_err(|e| crate::error::Error::io("read", &path, e))?;
    Ok((
        String::from_utf8_lossy(&bytes).into_owned(),
        from + bytes.len() as u64,
    ))
}

/// The last `lines` lines of `text`.
pub fn tail_lines(text: &str, lines: usize) -> &str {
    let mut cut = text.len();
    let trimmed = text.trim_end_matches('\n');
    let mut seen = 0;
    for (i, c) in trimmed.char_indices().rev() {
        if c == '\n' {
            seen += 1;
            if seen == lines {
                cut = i + 1;
                break;
            }
        }
    }
    if seen < lines { text } else { &text[cut..] }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tails() {
        assert_eq!(super::tail_lines("a\nb\nc\n", 2), "b\nc\n");
        assert_eq!(super::tail_lines("a\nb\nc", 5), "a\nb\nc");
        assert_eq!(super::tail_lines("a\nb\nc\n", 1), "c\n");
    }
}
