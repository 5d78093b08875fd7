//! Processes that should not be there: those of a revision the
//! environment does not expect to run (stopped, archived, failed, or left
//! by a `deploy` killed halfway), and those carrying a revision's marker
//! that its recorded supervisor did not start. `observe` and `env doctor`
//! report them; `env down` and `env up` stop them.

use std::collections::{BTreeMap, BTreeSet};

use super::{Processes, Stray, check_revision};
use crate::local::tree;

impl Processes {
    /// Every live process of this environment's revisions that `expected`
    /// (the revisions that should run) does not account for.
    pub fn strays(&self, expected: &BTreeSet<String>) -> Vec<Stray> {
        let prefix = format!("{}/", self.root.to_string_lossy());
        let mut marked: BTreeMap<String, BTreeSet<u32>> = BTreeMap::new();
        for (pid, m) in tree::marked(&prefix) {
            if let Some(rev) = m.strip_prefix(&prefix) {
                marked.entry(rev.to_string()).or_default().insert(pid);
            }
        }
        for rev in self.recorded() {
            marked.entry(rev).or_default();
        }
        let mut out = Vec::new();
        for (rev, pids) in marked {
            // A marker that is no revision id cannot be supervised.
            let supervised = if check_revision(&rev).is_ok() {
                self.supervised(&rev)
            } else {
                BTreeSet::new()
            };
            let (pids, why): (BTreeSet<u32>, String) = if expected.contains(&rev) {
                (
                    pids.difference(&supervised).copied().collect(),
                    format!(
                        "carries the marker of revision {rev} but its recorded process did not start it (left by an interrupted start?)"
                    ),
                )
            } else {
                (
                    pids.union(&supervised).copied().collect(),
                    format!(
                        "belongs to revision {rev}, which the environment does not expect to run"
                    ),
                )
            };
            out.extend(pids.into_iter().map(|pid| Stray {
                revision: rev.clone(),
                pid,
                why: why.clone(),
            }));
        }
        out
    }

    /// Stops every stray (see [`Processes::strays`]); returns what it
    /// stopped.
    pub fn sweep(&self, expected: &BTreeSet<String>) -> Vec<Stray> {
        let found = self.strays(expected);
        if !found.is_empty() {
            for s in &found {
                tracing::warn!("stopping stray process {} ({})", s.pid, s.why);
            }
            let revs: BTreeSet<&str> = found.iter().map(|s| s.revision.as_str()).collect();
            tree::kill_all(|| {
                let now = self.strays(expected);
                let mut pids: BTreeSet<u32> = now.iter().map(|s| s.pid).collect();
                // Their children too, marked or not.
                for s in now.iter().filter(|s| revs.contains(s.revision.as_str())) {
                    pids.extend(tree::descendants(s.pid));
                }
                pids
            });
        }
        found
    }
}
