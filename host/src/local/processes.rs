//! Revision processes: the backend of the `process` capability.
//!
//! Each revision gets `envs/<env>/revisions/<revision>/` holding its
//! payload (extracted by the host from the verified bundle), a record of
//! the process (`process.json`) and its output (`output.log`). A process
//! starts inside its payload directory from a program inside it, with an
//! empty environment plus what the deployer passes, `PORT` and a minimal
//! `PATH`, in a process group of its own so it outlives the command that
//! started it and can be stopped as a whole.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::fsutil;
use crate::runtime::capabilities::process::{ProcessHost, ProcessInfo, ProcessSpec};
use crate::runtime::{HostError, PackLabel};
use crate::store::now_rfc3339;

#[derive(Clone, Debug, Serialize, Deserialize)]
struct Record {
    pid: u32,
    port: u16,
    started: String,
    argv: Vec<String>,
}

/// The processes of one environment.
#[derive(Clone, Debug)]
pub struct Processes {
    root: PathBuf,
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

/// Whether `pid` is a live (not zombie) process.
fn alive(pid: u32) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(") ").map(|(_, rest)| rest.chars().next()))
        .flatten()
        .is_some_and(|state| !matches!(state, 'Z' | 'X'))
}

fn signal_group(pid: u32, kill: bool) {
    if let Some(p) = rustix::process::Pid::from_raw(pid as i32) {
        let sig = if kill {
            rustix::process::Signal::KILL
        } else {
            rustix::process::Signal::TERM
        };
        let _ = rustix::process::kill_process_group(p, sig);
    }
}

/// The program a spec runs, canonicalised and checked to be a file inside
/// the payload; and the payload root. Loader variables (`LD_*`, `DYLD_*`)
/// are refused: they would let a deployer run code from outside the
/// payload inside the revision's process.
fn confined_program(payload: &Path, spec: &ProcessSpec) -> Result<(PathBuf, PathBuf)> {
    let program = spec
        .argv
        .first()
        .ok_or_else(|| Error::invalid("argv is empty"))?;
    // The loader variables would let a deployer run code from outside
    // the payload inside the revision's process.
    if let Some((k, _)) = spec.env.iter().find(|(k, _)| {
        k.starts_with("LD_") || k.starts_with("DYLD_") || k.contains('=') || k.is_empty()
    }) {
        return Err(Error::invalid(format!(
            "environment variable {k:?} is not allowed for revision processes"
        )));
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
    /// `local_dir`.
    pub fn new(local_dir: &Path) -> Self {
        Self {
            root: local_dir.join("revisions"),
        }
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

    fn info(&self, rev: &str, r: &Record) -> ProcessInfo {
        ProcessInfo {
            revision: rev.to_string(),
            pid: r.pid,
            port: r.port,
            running: alive(r.pid),
            output_tail: self.output_tail(rev),
            bundle: fs::read_to_string(self.dir(rev).join("bundle")).unwrap_or_default(),
            exit_code: fs::read_to_string(self.dir(rev).join("exit"))
                .ok()
                .and_then(|s| s.trim().parse().ok()),
        }
    }

    /// Starts a revision's process.
    pub fn start(&self, spec: &ProcessSpec) -> Result<ProcessInfo> {
        check_revision(&spec.revision)?;
        let payload = self.payload_dir(&spec.revision);
        if !payload.is_dir() {
            return Err(Error::not_found(format!(
                "revision {} has no payload on this machine",
                spec.revision
            )));
        }
        if let Some(r) = self.record(&spec.revision)
            && alive(r.pid)
        {
            return Err(Error::conflict(format!(
                "revision {} already runs as pid {}",
                spec.revision, r.pid
            )));
        }
        let (root, path) = confined_program(&payload, spec)?;
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Error::unavailable(format!("cannot find a free port: {e}")))?;
        let fill = |s: &str| s.replace("{port}", &port.to_string());
        let log = fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(&spec.revision))
            .map_err(|e| Error::io("open", &self.log_path(&spec.revision), e))?;
        let err_log = log
            .try_clone()
            .map_err(|e| Error::io("open", &self.log_path(&spec.revision), e))?;
        // The program runs under a minimal shell that records its exit
        // status when it exits by itself (`exited(3)` in observations);
        // the program and its arguments are passed as arguments, never
        // interpreted. The shell leads the process group, so stopping the
        // group stops both.
        let exit_file = self.dir(&spec.revision).join("exit");
        let _ = fs::remove_file(&exit_file);
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(r#""$@"; echo $? > "$0""#)
            .arg(&exit_file)
            .arg(&path)
            .args(spec.argv.iter().skip(1).map(|a| fill(a)))
            .current_dir(&root)
            .env_clear()
            .env("PATH", "/usr/local/bin:/usr/bin:/bin")
            .env("PORT", port.to_string())
            .envs(spec.env.iter().map(|(k, v)| (k.clone(), fill(v))))
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(err_log);
        #[cfg(unix)]
        std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
        let child = cmd
            .spawn()
            .map_err(|e| Error::unavailable(format!("cannot start {}: {e}", path.display())))?;
        let record = Record {
            pid: child.id(),
            port,
            started: now_rfc3339(),
            argv: spec.argv.clone(),
        };
        let json =
            serde_json::to_vec_pretty(&record).map_err(|e| Error::internal(e.to_string()))?;
        fsutil::write_atomic(&self.dir(&spec.revision).join("process.json"), &json)?;
        // The child is not waited for: it belongs to the environment, not
        // to this command; once envpack exits, init reaps it.
        drop(child);
        Ok(self.info(&spec.revision, &record))
    }

    /// Stops a revision's process group: TERM, then KILL after 5 s.
    pub fn stop(&self, rev: &str) -> Result<bool> {
        check_revision(rev)?;
        let Some(r) = self.record(rev) else {
            return Ok(false);
        };
        if !alive(r.pid) {
            return Ok(false);
        }
        signal_group(r.pid, false);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(r.pid) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        if alive(r.pid) {
            signal_group(r.pid, true);
        }
        Ok(true)
    }

    /// A revision's process, if one was started.
    pub fn status(&self, rev: &str) -> Result<Option<ProcessInfo>> {
        check_revision(rev)?;
        Ok(self.record(rev).map(|r| self.info(rev, &r)))
    }

    /// Every started process.
    pub fn list(&self) -> Result<Vec<ProcessInfo>> {
        let mut out = Vec::new();
        if let Ok(entries) = fs::read_dir(&self.root) {
            for e in entries.filter_map(|e| e.ok()) {
                let rev = e.file_name().to_string_lossy().to_string();
                if let Some(r) = self.record(&rev) {
                    out.push(self.info(&rev, &r));
                }
            }
        }
        out.sort_by(|a, b| a.revision.cmp(&b.revision));
        Ok(out)
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
        let e = p
            .start(&spec(&["./run"], &[("LD_PRELOAD", "/tmp/x.so")]))
            .unwrap_err();
        assert!(e.message().contains("LD_PRELOAD"), "{e}");
        let bad = ProcessSpec {
            revision: "../x".into(),
            ..spec(&["./run"], &[])
        };
        assert!(p.start(&bad).is_err());
        assert!(p.status("r2").expect("status").is_none());
        assert!(!p.stop("r2").expect("stop"));
    }
}

#[cfg(test)]
mod exit_tests {
    use super::*;

    /// A process that exits by itself leaves its status for observation.
    #[test]
    fn exit_status_is_recorded() {
        let home = tempfile::tempdir().expect("tempdir");
        let p = Processes::new(home.path());
        std::fs::create_dir_all(p.payload_dir("r1")).expect("payload");
        let run = p.payload_dir("r1").join("run.sh");
        std::fs::write(&run, "#!/bin/sh\nexit 3\n").expect("write");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        }
        let spec = ProcessSpec {
            revision: "r1".into(),
            argv: vec!["./run.sh".into()],
            env: vec![],
        };
        p.start(&spec).expect("start");
        let deadline = Instant::now() + Duration::from_secs(10);
        let info = loop {
            let info = p.status("r1").expect("status").expect("started");
            if !info.running || Instant::now() > deadline {
                break info;
            }
            std::thread::sleep(Duration::from_millis(5));
        };
        assert!(!info.running);
        assert_eq!(info.exit_code, Some(3), "{info:?}");
    }
}
