//! Revision processes: the backend of the `process` capability.
//!
//! Each revision gets `envs/<env>/revisions/<revision>/` holding its
//! payload (extracted by the host from the verified bundle, read-only), a
//! record of the process (`process.json`, written as an intent before the
//! process starts and completed with its pid after) and its output
//! (`output.log`). A process starts inside its payload directory from a
//! program inside it, under the host's supervisor ([`super::supervise`]),
//! with an empty environment plus what the deployer passes (checked by
//! [`super::envpolicy`]), `PORT`, a minimal `PATH` and the revision marker
//! ([`tree::MARKER`]). Before every start the payload is verified against
//! its bundle's manifest. Stopping a revision stops every process it
//! started ([`tree`]); [`Processes::strays`] finds the ones nothing
//! accounts for.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::process::Signal;
use serde::{Deserialize, Serialize};

mod strays;

use super::{envpolicy, payload, supervise, tree};
use crate::error::{Error, Result};
use crate::fsutil;
use crate::runtime::capabilities::process::{ProcessHost, ProcessInfo, ProcessSpec};
use crate::runtime::{HostError, PackLabel};
use crate::store::now_rfc3339;

/// How long a revision's processes get to exit after `TERM`.
const GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    /// The supervisor's pid; `None` in the intent written before it starts.
    #[serde(default)]
    pid: Option<u32>,
    port: u16,
    started: String,
    argv: Vec<String>,
    /// The `envpack` command that started it (pid, start time): while it
    /// lives, the revision is still being started; once it is gone, a
    /// revision that never became ready was left by an interrupted deploy.
    #[serde(default)]
    starter: Option<(u32, u64)>,
}

/// What a revision's payload must hold: path -> sha256, from the manifest
/// of the bundle the environment records for it.
pub trait PayloadIntent: Send + Sync {
    /// The files of `revision`'s bundle.
    fn files(&self, revision: &str) -> Result<BTreeMap<String, String>>;
}

/// A process of a revision that nothing accounts for.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct Stray {
    /// The revision its marker names.
    pub revision: String,
    /// Its pid.
    pub pid: u32,
    /// Why it should not be there.
    pub why: String,
}

/// The processes of one environment.
#[derive(Clone)]
pub struct Processes {
    root: PathBuf,
    intent: Option<Arc<dyn PayloadIntent>>,
}

impl std::fmt::Debug for Processes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Processes")
            .field("root", &self.root)
            .field("verifies", &self.intent.is_some())
            .finish()
    }
}

fn check_revision(rev: &str) -> Result<()> {
    if rev.is_empty()
        || rev.len() > 64
        || !rev.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    {
        return Err(Error::invalid(format!("invalid revision id {rev:?}")));
    }
    Ok(())
}

/// The program a spec runs, canonicalised and checked to be a file inside
/// the payload; and the payload root. Every variable passes the
/// [`envpolicy`]: loader, shell and interpreter variables would let a
/// deployer run code from outside the payload inside the revision's
/// process, and the host's own names are not the deployer's to set.
fn confined_program(payload: &Path, spec: &ProcessSpec) -> Result<(PathBuf, PathBuf)> {
    let program = spec
        .argv
        .first()
        .ok_or_else(|| Error::invalid("argv is empty"))?;
    for (k, _) in &spec.env {
        envpolicy::check(k)?;
    }
    let root = payload
        .canonicalize()
        .map_err(|e| Error::io("open", payload, e))?;
    let path = root.join(program).canonicalize().map_err(|_| {
        Error::invalid(format!(
            "program {program:?} is not a file in the revision's payload"
        ))
    })?;
    if !path.starts_with(&root) || !path.is_file() {
        return Err(Error::invalid(format!(
            "program {program:?} is outside the revision's payload; processes may only run payload files"
        )));
    }
    Ok((root, path))
}

impl Processes {
    /// The processes of the environment whose machine-local directory is
    /// `local_dir`. Without [`Processes::verifying`], payloads are not
    /// checked before a start.
    pub fn new(local_dir: &Path) -> Self {
        // The marker names the directory canonically, so a sweep from any
        // working directory, or through a symlinked home, finds the same
        // processes.
        let base = local_dir
            .canonicalize()
            .or_else(|_| std::path::absolute(local_dir))
            .unwrap_or_else(|_| local_dir.to_path_buf());
        Self {
            root: base.join("revisions"),
            intent: None,
        }
    }

    /// The same, verifying every payload against `intent` before a start.
    pub fn verifying(mut self, intent: Arc<dyn PayloadIntent>) -> Self {
        self.intent = Some(intent);
        self
    }

    fn dir(&self, rev: &str) -> PathBuf {
        self.root.join(rev)
    }

    /// Where a revision's payload lives.
    pub fn payload_dir(&self, rev: &str) -> PathBuf {
        self.dir(rev).join("payload")
    }

    /// The revision's output log.
    pub fn log_path(&self, rev: &str) -> PathBuf {
        self.dir(rev).join("output.log")
    }

    /// The value of [`tree::MARKER`] in the revision's processes.
    fn marker(&self, rev: &str) -> String {
        self.dir(rev).to_string_lossy().into_owned()
    }

    /// Records which bundle a revision's payload came from.
    pub fn set_bundle(&self, rev: &str, bundle: &str) -> Result<()> {
        fsutil::write_atomic(&self.dir(rev).join("bundle"), bundle.as_bytes())
    }

    /// The last ~2 KiB of a revision's output.
    pub fn output_tail(&self, rev: &str) -> String {
        let bytes = fs::read(self.log_path(rev)).unwrap_or_default();
        let start = bytes.len().saturating_sub(2048);
        String::from_utf8_lossy(&bytes[start..]).into_owned()
    }

    fn record(&self, rev: &str) -> Option<Record> {
        serde_json::from_slice(&fs::read(self.dir(rev).join("process.json")).ok()?).ok()
    }

    fn write_record(&self, rev: &str, record: &Record) -> Result<()> {
        let json = serde_json::to_vec_pretty(record)
            .map_err(|e| Error::internal(format!("cannot encode a process record: {e}")))?;
        fsutil::write_atomic(&self.dir(rev).join("process.json"), &json)
    }

    /// The recorded supervisor of `rev`, while it lives. A live pid whose
    /// marker names another revision is a reused pid, not ours.
    fn supervisor(&self, rev: &str) -> Option<u32> {
        let pid = self.record(rev)?.pid?;
        let marker = self.marker(rev);
        (tree::alive(pid) && tree::marker_of(pid).is_none_or(|m| m == marker)).then_some(pid)
    }

    /// Whether the command that started `rev` still runs (so a revision
    /// that is not ready yet may still become so).
    pub fn still_starting(&self, rev: &str) -> bool {
        self.record(rev)
            .and_then(|r| r.starter)
            .is_some_and(|(pid, t)| tree::alive(pid) && tree::start_time(pid) == Some(t))
    }

    /// The recorded supervisor of `rev` and every process in its tree.
    fn supervised(&self, rev: &str) -> BTreeSet<u32> {
        let Some(sup) = self.supervisor(rev) else {
            return BTreeSet::new();
        };
        let mut set = tree::descendants(sup);
        set.insert(sup);
        set
    }

    /// Every live process of `rev`: its supervised tree and every process
    /// carrying its marker.
    fn members(&self, rev: &str) -> BTreeSet<u32> {
        let marker = self.marker(rev);
        let mut set = self.supervised(rev);
        set.extend(
            tree::marked(&marker)
                .into_iter()
                .filter(|(_, m)| *m == marker)
                .map(|(p, _)| p),
        );
        set
    }

    fn info(&self, rev: &str, r: &Record) -> ProcessInfo {
        ProcessInfo {
            revision: rev.to_string(),
            pid: r.pid.unwrap_or(0),
            port: r.port,
            running: self.supervisor(rev).is_some(),
            output_tail: self.output_tail(rev),
            bundle: fs::read_to_string(self.dir(rev).join("bundle")).unwrap_or_default(),
            exit_code: fs::read_to_string(self.dir(rev).join("exit"))
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        }
    }

    /// Starts a revision's process: the intent is recorded first, so a
    /// start interrupted at any point leaves a record to sweep by.
    pub fn start(&self, spec: &ProcessSpec) -> Result<ProcessInfo> {
        let rev = &spec.revision;
        check_revision(rev)?;
        let payload = self.payload_dir(rev);
        if !payload.is_dir() {
            return Err(Error::not_found(format!(
                "revision {rev} has no payload on this machine"
            )));
        }
        if let Some(pid) = self.supervisor(rev) {
            return Err(Error::conflict(format!(
                "revision {rev} already runs as pid {pid}"
            )));
        }
        // Whatever an interrupted start of this revision left goes first.
        tree::kill_all(|| self.members(rev));
        let (root, path) = confined_program(&payload, spec)?;
        if let Some(intent) = &self.intent {
            payload::verify(&payload, rev, &intent.files(rev)?)?;
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Error::unavailable(format!("cannot find a free port: {e}")))?;
        let me = std::process::id();
        let mut record = Record {
            pid: None,
            port,
            started: now_rfc3339(),
            argv: spec.argv.clone(),
            starter: tree::start_time(me).map(|t| (me, t)),
        };
        self.write_record(rev, &record)?;
        record.pid = Some(self.spawn(spec, &root, &path, port)?);
        self.write_record(rev, &record)?;
        Ok(self.info(rev, &record))
    }

    /// Spawns the supervisor running `path` from `root`; its pid.
    fn spawn(&self, spec: &ProcessSpec, root: &Path, path: &Path, port: u16) -> Result<u32> {
        let rev = &spec.revision;
        let supervisor = std::env::current_exe().map_err(|e| {
            Error::unavailable(format!(
                "cannot find the envpack binary to supervise revision {rev}: {e}"
            ))
        })?;
        let log_path = self.log_path(rev);
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .map_err(|e| Error::io("open", &log_path, e))?;
        let err_log = log
            .try_clone()
            .map_err(|e| Error::io("open", &log_path, e))?;
        let fill = |s: &str| s.replace("{port}", &port.to_string());
        let exit_file = self.dir(rev).join("exit");
        let _ = fs::remove_file(&exit_file);
        // The program and its arguments are passed as arguments, never
        // interpreted; the supervisor leads a process group of its own so
        // it outlives the command that started it.
        let mut cmd = Command::new(supervisor);
        cmd.arg(supervise::ARG)
            .arg(&exit_file)
            .arg(path)
            .args(spec.argv.iter().skip(1).map(|a| fill(a)))
            .current_dir(root)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("PORT", port.to_string())
            .env(tree::MARKER, self.marker(rev))
            .envs(spec.env.iter().map(|(k, v)| (k.clone(), fill(v))))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| Error::unavailable(format!("cannot start {}: {e}", path.display())))?;
        // Not waited for: it belongs to the environment, not to this
        // command; once envpack exits, init reaps it.
        Ok(child.id())
    }

    /// Stops every process of a revision: `TERM` to all but the supervisor
    /// (which ends what is left once the program exits), then, after
    /// [`GRACE`], stops and kills whatever remains.
    pub fn stop(&self, rev: &str) -> Result<bool> {
        check_revision(rev)?;
        let sup = self.supervisor(rev);
        let first = self.members(rev);
        if first.is_empty() {
            return Ok(false);
        }
        for &p in first.iter().filter(|p| Some(**p) != sup) {
            tree::signal(p, Signal::TERM);
        }
        let deadline = Instant::now() + GRACE;
        while Instant::now() < deadline && !self.members(rev).is_empty() {
            std::thread::sleep(Duration::from_millis(20));
        }
        tree::kill_all(|| self.members(rev));
        // Stopped on purpose: not an exit of its own.
        let _ = fs::remove_file(self.dir(rev).join("exit"));
        Ok(true)
    }

    /// A revision's process, if one was started.
    pub fn status(&self, rev: &str) -> Result<Option<ProcessInfo>> {
        check_revision(rev)?;
        Ok(self.record(rev).map(|r| self.info(rev, &r)))
    }

    /// Every revision with a record here.
    fn recorded(&self) -> Vec<String> {
        let mut out: Vec<String> = fs::read_dir(&self.root)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(str::to_string))
            .filter(|rev| self.dir(rev).join("process.json").is_file())
            .collect();
        out.sort();
        out
    }

    /// Every started process.
    pub fn list(&self) -> Result<Vec<ProcessInfo>> {
        Ok(self
            .recorded()
            .iter()
            .filter_map(|rev| Some(self.info(rev, &self.record(rev)?)))
            .collect())
    }
}
/// The `process` capability of a deployer running revisions on this
/// machine.
impl ProcessHost for Processes {
    fn start(&self, _: &PackLabel, spec: &ProcessSpec) -> Result<ProcessInfo, HostError> {
        Ok(Processes::start(self, spec)?)
    }

    fn stop(&self, _: &PackLabel, revision: &str) -> Result<bool, HostError> {
        Ok(Processes::stop(self, revision)?)
    }

    fn status(&self, _: &PackLabel, revision: &str) -> Result<Option<ProcessInfo>, HostError> {
        Ok(Processes::status(self, revision)?)
    }

    fn list(&self, _: &PackLabel) -> Result<Vec<ProcessInfo>, HostError> {
        Ok(Processes::list(self)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (tempfile::TempDir, Processes) {
        let home = tempfile::tempdir().expect("tempdir");
        let p = Processes::new(home.path());
        std::fs::create_dir_all(p.payload_dir("r1")).expect("payload");
        (home, p)
    }

    fn spec(argv: &[&str], env: &[(&str, &str)]) -> ProcessSpec {
        ProcessSpec {
            revision: "r1".into(),
            argv: argv.iter().map(|s| s.to_string()).collect(),
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// The allowed/denied table of what a revision process may run.
    #[test]
    fn confined_to_the_payload() {
        let (_home, p) = setup();
        for (argv, env, want) in [
            (&["/bin/sh"][..], &[][..], "outside"),
            (&["../../../../bin/sh"][..], &[][..], "payload"),
            (&["missing"][..], &[][..], "not a file"),
            (&[][..], &[][..], "argv is empty"),
        ] {
            let e = p.start(&spec(argv, env)).unwrap_err();
            assert!(e.message().contains(want), "{argv:?}: {e}");
        }
        std::fs::write(p.payload_dir("r1").join("run"), "#!/bin/sh\n").expect("write");
        for name in [
            "LD_PRELOAD",
            "BASH_ENV",
            "PORT",
            "ENVPACK_REVISION_DIR",
            "A=B",
        ] {
            let e = p
                .start(&spec(&["./run"], &[(name, "/tmp/x.so")]))
                .unwrap_err();
            assert!(e.message().contains(&format!("{name:?}")), "{e}");
        }
        let bad = ProcessSpec {
            revision: "../x".into(),
            ..spec(&["./run"], &[])
        };
        assert!(p.start(&bad).is_err());
        assert!(p.status("r2").expect("status").is_none());
        assert!(!p.stop("r2").expect("stop"));
    }
}
