//! The processes of a revision, as this machine's process table shows them.
//!
//! A revision's processes are found two ways, because either alone can be
//! stepped around: as descendants of its supervisor (which is a child
//! subreaper, so a daemon that double-forks or calls `setsid` is reparented
//! to it, not to init), and by the [`MARKER`] variable every process of the
//! revision inherits (which still finds a process whose supervisor was
//! killed). A process that both clears its environment and outlives a
//! SIGKILLed supervisor is not found; `docs/security.md` says so.
//!
//! Everything here reads `/proc`; on a system without it nothing is found
//! and stopping falls back to the supervisor's pid alone.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::time::Duration;

use rustix::process::{Pid, Signal};

/// The environment variable naming the revision directory a process
/// belongs to: `ENVPACK_REVISION_DIR=<local dir>/revisions/<revision>`.
pub const MARKER: &str = "ENVPACK_REVISION_DIR";

/// A process's state letter and parent pid, from `/proc/<pid>/stat`.
fn stat(pid: u32) -> Option<(char, u32)> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name is in parentheses and may hold spaces or `)`.
    let (_, rest) = s.rsplit_once(") ")?;
    let mut fields = rest.split(' ');
    let state = fields.next()?.chars().next()?;
    let ppid = fields.next()?.parse().ok()?;
    Some((state, ppid))
}

/// When `pid` started, in clock ticks since boot (field 22 of
/// `/proc/<pid>/stat`): with the pid, it names one process even after its
/// pid is reused.
pub fn start_time(pid: u32) -> Option<u64> {
    let s = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name start at field 3 (the state).
    s.rsplit_once(") ")?.1.split(' ').nth(19)?.parse().ok()
}

/// Whether `pid` is a live (not zombie) process.
pub fn alive(pid: u32) -> bool {
    stat(pid).is_some_and(|(state, _)| !matches!(state, 'Z' | 'X'))
}

/// Every live process and its parent.
fn table() -> BTreeMap<u32, u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return BTreeMap::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| match stat(pid)? {
            ('Z' | 'X', _) => None,
            (_, ppid) => Some((pid, ppid)),
        })
        .collect()
}

/// Every live descendant of `root` (not `root` itself).
pub fn descendants(root: u32) -> BTreeSet<u32> {
    let table = table();
    let mut children: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
    for (&pid, &ppid) in &table {
        children.entry(ppid).or_default().push(pid);
    }
    let mut out = BTreeSet::new();
    let mut stack = vec![root];
    while let Some(p) = stack.pop() {
        for &c in children.get(&p).into_iter().flatten() {
            if out.insert(c) {
                stack.push(c);
            }
        }
    }
    out
}

/// The value of [`MARKER`] in the environment `pid` started with.
pub fn marker_of(pid: u32) -> Option<String> {
    let bytes = fs::read(format!("/proc/{pid}/environ")).ok()?;
    let want = format!("{MARKER}=");
    bytes
        .split(|b| *b == 0)
        .find_map(|var| var.strip_prefix(want.as_bytes()))
        .map(|v| String::from_utf8_lossy(v).into_owned())
}

/// Every live process whose [`MARKER`] starts with `prefix`, with the
/// marker's value.
pub fn marked(prefix: &str) -> Vec<(u32, String)> {
    table()
        .into_keys()
        .filter_map(|pid| Some((pid, marker_of(pid)?)))
        .filter(|(_, v)| v.starts_with(prefix))
        .collect()
}

/// Sends `sig` to `pid`, ignoring a process that is already gone.
pub fn signal(pid: u32, sig: Signal) {
    if let Some(p) = i32::try_from(pid).ok().and_then(Pid::from_raw) {
        let _ = rustix::process::kill_process(p, sig);
    }
}

/// Kills every process `find` returns, again and again until it returns
/// none (or 100 rounds passed): each round first stops them all, so none
/// can fork a replacement between its siblings' deaths, then kills them.
/// Returns whether anything was killed.
pub fn kill_all(find: impl Fn() -> BTreeSet<u32>) -> bool {
    let mut any = false;
    for _ in 0..100 {
        let pids = find();
        if pids.is_empty() {
            break;
        }
        any = true;
        for &p in &pids {
            signal(p, Signal::STOP);
        }
        for &p in &pids {
            signal(p, Signal::KILL);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_this_process() {
        let me = std::process::id();
        assert!(alive(me));
        assert!(start_time(me).is_some());
        assert!(table().contains_key(&me));
        assert!(!alive(u32::MAX));
        assert!(descendants(u32::MAX).is_empty());
    }

    /// A child started with the marker is found by it and as a
    /// descendant, and `kill_all` leaves nothing.
    #[test]
    fn finds_and_kills_marked_children() {
        let dir = format!("/nonexistent/envpack-tree-test-{}", std::process::id());
        let mut child = std::process::Command::new("sleep")
            .arg("30")
            .env(MARKER, &dir)
            .spawn()
            .expect("spawn sleep");
        let pid = child.id();
        assert!(descendants(std::process::id()).contains(&pid));
        assert_eq!(marked(&dir), vec![(pid, dir.clone())]);
        assert!(kill_all(|| marked(&dir)
            .into_iter()
            .map(|(p, _)| p)
            .collect()));
        let _ = child.wait();
        assert!(marked(&dir).is_empty());
    }
}
