//! The local runtime: revisions run as processes on this machine, from
//! payloads extracted out of their verified bundles, behind an HTTP ingress
//! (`envpack serve`) that follows the traffic split.
//!
//! Only a deployer whose binding grants the `process` capability uses it
//! ([`runs_locally`]); other deployers never get a payload directory or a
//! process table. [`processes`] and the payload staging here need only the
//! filesystem and the runtime's capability trait; [`ingress`] reads
//! deployment records and sits beside the deployment verbs.

pub mod ingress;
pub mod processes;

use std::path::Path;

use envpack_manifest::{Capability, Grants};

pub use processes::Processes;

use crate::error::Result;

/// Whether a deployer bound with `grants` runs revisions on this machine.
pub fn runs_locally(grants: &Grants) -> bool {
    grants.covers(&Capability::Process)
}

/// Extracts a revision's payload from its verified bundle into the
/// environment's machine-local directory and records which bundle it came
/// from, so the deployer can start programs from it.
pub fn stage_payload(
    local_dir: &Path,
    revision: &str,
    bundle: &[u8],
    bundle_id: &str,
) -> Result<()> {
    let processes = Processes::new(local_dir);
    crate::deploy::bundle::open_bytes(
        bundle,
        &format!("{bundle_id} (stored)"),
        Some(&processes.payload_dir(revision)),
    )?;
    processes.set_bundle(revision, bundle_id)
}

/// The last output of a revision that ran here, for failure reasons.
pub fn output_tail(local_dir: &Path, revision: &str) -> String {
    Processes::new(local_dir).output_tail(revision)
}
