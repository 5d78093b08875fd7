//! What `env doctor` says about the local runtime, from a fresh
//! observation: processes that should not be there, and payloads that no
//! longer match their bundles. Both are errors: the first escapes `env
//! down`, the second would refuse to start.

use std::collections::BTreeMap;

use envpack_descriptor::Slot;

use super::model::Observation;
use super::observe::{ObserveOutcome, STRAY_PIDS};
use crate::env::{DoctorFinding, EnvName};

/// The local-runtime findings of `out`; `serving` says whether the
/// environment is meant to run anything now (`env up` then puts it right,
/// else `env down`).
pub(crate) fn findings(out: &ObserveOutcome, name: &EnvName, serving: bool) -> Vec<DoctorFinding> {
    let mut found = Vec::new();
    if let Observation::Observed { revisions } = &out.observation {
        for r in revisions {
            if let Some(pids) = r.attributes.get(STRAY_PIDS) {
                found.push(DoctorFinding {
                    severity: "error",
                    slot: Some(Slot::Deployer),
                    check: "processes",
                    message: format!(
                        "revision {} has process(es) {pids} that nothing accounts for (a stopped, archived or failed revision, or a start that was interrupted); they would outlive env down",
                        r.revision
                    ),
                    fix: if serving {
                        format!("envpack env up {name}")
                    } else {
                        format!("envpack env down {name}")
                    },
                });
            }
        }
    }
    let mut changed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for d in out.drift.iter().filter(|d| d.field.starts_with("file:")) {
        changed
            .entry(d.revision.as_str())
            .or_default()
            .push(&d.field["file:".len()..]);
    }
    for (rev, files) in changed {
        found.push(DoctorFinding {
            severity: "error",
            slot: Some(Slot::Deployer),
            check: "payload",
            message: format!(
                "the payload of revision {rev} no longer matches its bundle ({} file(s) differ: {}); it will refuse to start until the bundle is deployed again",
                files.len(),
                files.join(", ")
            ),
            fix: format!("envpack drift --env {name}"),
        });
    }
    found
}
