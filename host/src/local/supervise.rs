//! The supervisor every revision process runs under: `envpack __supervise
//! <exit file> <program> [args...]`.
//!
//! It makes itself a child subreaper (`PR_SET_CHILD_SUBREAPER`), so every
//! process the program starts stays in its tree even after `setsid` or a
//! double fork, runs the program, and when the program exits records its
//! status in the exit file and kills whatever the program left behind: a
//! revision's processes live exactly as long as its main process. The host
//! stops a revision by signalling the program's tree, never the supervisor,
//! so the supervisor is there to collect orphans until the end.

use std::ffi::OsString;
use std::path::Path;
use std::process::ExitCode;

use rustix::process::{WaitOptions, WaitStatus};

use super::tree;
use crate::fsutil;

/// The hidden first argument that runs the supervisor instead of the CLI.
pub const ARG: &str = "__supervise";

/// Runs the supervisor when the binary was started as one; `None` for
/// every other command line.
pub fn dispatch() -> Option<ExitCode> {
    let mut args = std::env::args_os().skip(1);
    if args.next()? != ARG {
        return None;
    }
    Some(run(args.collect()))
}

/// The exit status a shell would report: the code, or 128 + the signal.
fn status_code(status: WaitStatus) -> i32 {
    status
        .exit_status()
        .or_else(|| status.terminating_signal().map(|s| 128 + s))
        .unwrap_or(1)
}

fn run(args: Vec<OsString>) -> ExitCode {
    let [exit_file, program, rest @ ..] = &args[..] else {
        eprintln!("envpack: usage: envpack {ARG} <exit file> <program> [args...]");
        return ExitCode::from(2);
    };
    let me = rustix::process::getpid();
    if let Err(e) = rustix::process::set_child_subreaper(Some(me)) {
        eprintln!("envpack: cannot become a child subreaper: {e}");
        return ExitCode::from(2);
    }
    let main = match std::process::Command::new(program).args(rest).spawn() {
        Ok(child) => child.id(),
        Err(e) => {
            eprintln!(
                "envpack: cannot start {}: {e}",
                Path::new(program).display()
            );
            return ExitCode::from(127);
        }
    };
    let code = wait_for(main);
    // The revision ends with its main process: nothing it started outlives
    // it, wherever it moved its session or process group.
    let me = me.as_raw_nonzero().get().unsigned_abs();
    tree::kill_all(|| tree::descendants(me));
    reap_all();
    if let Some(code) = code {
        let _ = fsutil::write_atomic(Path::new(exit_file), code.to_string().as_bytes());
    }
    ExitCode::from(code.map_or(1, |c| u8::try_from(c).unwrap_or(1)))
}

/// Reaps children (orphans reparented here included) until `main` exits;
/// its exit status, or `None` if it could not be waited for.
fn wait_for(main: u32) -> Option<i32> {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some((pid, status))) if pid.as_raw_nonzero().get().unsigned_abs() == main => {
                return Some(status_code(status));
            }
            Ok(_) | Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return None,
        }
    }
}

/// Reaps every remaining child.
fn reap_all() {
    loop {
        match rustix::process::wait(WaitOptions::empty()) {
            Ok(Some(_)) | Err(rustix::io::Errno::INTR) => continue,
            _ => return,
        }
    }
}
