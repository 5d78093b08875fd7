//! Shared helpers for the end-to-end suites in `tests/e2e/`.
//!
//! Every suite drives the real `envpack` binary (`CARGO_BIN_EXE_envpack`)
//! with a fresh `ENVPACK_HOME`, against packs built from `tests/packs/` by
//! `envpack pack build` itself.
#![allow(clippy::unwrap_used)]

use std::fs::OpenOptions;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

use serde_json::Value;

pub mod hostile;

/// The repository root.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// Where built test packs go: one directory shared by every suite.
fn packs_out() -> PathBuf {
    repo_root().join("target/e2e-packs")
}

/// Builds `tests/packs/<name>` with `envpack pack build` (once per test
/// process; a file lock serialises concurrent test processes) and returns
/// the pack file.
pub fn build_pack(bin: &str, name: &str) -> PathBuf {
    static BUILT: OnceLock<Mutex<std::collections::HashMap<String, PathBuf>>> = OnceLock::new();
    let built = BUILT.get_or_init(Default::default);
    let mut built = built.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(p) = built.get(name) {
        return p.clone();
    }
    let out = packs_out().join(name);
    std::fs::create_dir_all(&out).unwrap();
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(packs_out().join(".lock"))
        .unwrap();
    lock.lock().unwrap();
    let dir = repo_root().join("tests/packs").join(name);
    let output = Command::new(bin)
        .args(["--json", "pack", "build"])
        .arg(&dir)
        .arg("--out")
        .arg(&out)
        .arg("--target-dir")
        .arg(repo_root().join("tests/packs/target"))
        .env("ENVPACK_NO_PROGRESS", "1")
        .stderr(Stdio::inherit())
        .output()
        .unwrap();
    lock.unlock().unwrap();
    let v: Value = serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "pack build {name}: bad JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    });
    assert!(output.status.success(), "pack build {name} failed: {v}");
    let path = PathBuf::from(v["result"]["path"].as_str().unwrap());
    built.insert(name.to_string(), path.clone());
    path
}

/// Every file under `dir`, by relative path, with the sha256 of its bytes:
/// taken before and after a command that must change nothing.
pub fn tree_digest(dir: &Path) -> std::collections::BTreeMap<String, String> {
    use sha2::Digest as _;
    let mut out = std::collections::BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(dir).unwrap().display().to_string();
            if meta.is_dir() {
                out.insert(format!("{rel}/"), String::new());
                stack.push(path);
            } else if meta.is_file() {
                let bytes = std::fs::read(&path).unwrap();
                out.insert(rel, hex::encode(sha2::Sha256::digest(&bytes)));
            } else {
                out.insert(rel, format!("{:?}", meta.file_type()));
            }
        }
    }
    out
}

/// Asserts `after` equals `before`, naming every path that differs.
pub fn assert_same_tree(
    what: &str,
    before: &std::collections::BTreeMap<String, String>,
    after: &std::collections::BTreeMap<String, String>,
) {
    let changed: Vec<&String> = before
        .keys()
        .chain(after.keys())
        .filter(|k| before.get(*k) != after.get(*k))
        .collect();
    assert!(changed.is_empty(), "{what} changed the home: {changed:?}");
}

/// The outcome of one `envpack` run.
#[derive(Debug)]
pub struct Run {
    /// Exit code (-1 when killed by a signal).
    pub code: i32,
    /// Stdout.
    pub stdout: String,
    /// Stderr.
    pub stderr: String,
}

impl Run {
    fn from(o: Output) -> Self {
        Self {
            code: o.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&o.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&o.stderr).into_owned(),
        }
    }

    /// The JSON envelope on stdout.
    pub fn envelope(&self) -> Value {
        serde_json::from_str(self.stdout.trim()).unwrap_or_else(|e| {
            panic!(
                "stdout is not one JSON envelope ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

/// A fresh envpack home and the binary to drive against it.
pub struct Env {
    bin: String,
    home: tempfile::TempDir,
}

impl Env {
    /// A new, empty `ENVPACK_HOME`.
    pub fn new(bin: &str) -> Self {
        Self {
            bin: bin.to_string(),
            home: tempfile::tempdir().unwrap(),
        }
    }

    /// The home directory.
    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The binary's path.
    pub fn bin(&self) -> &str {
        &self.bin
    }

    /// A command for the binary with this home.
    pub fn cmd(&self) -> Command {
        let mut c = Command::new(&self.bin);
        c.env("ENVPACK_HOME", self.home.path())
            .env("ENVPACK_NO_PROGRESS", "1")
            .env_remove("RUST_LOG")
            .stdin(Stdio::null());
        c
    }

    /// Runs with `args`.
    pub fn run(&self, args: &[&str]) -> Run {
        Run::from(self.cmd().args(args).output().unwrap())
    }

    /// Runs with `args` and asserts success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let r = self.run(args);
        assert_eq!(
            r.code, 0,
            "envpack {args:?} failed:\nstdout:\n{}\nstderr:\n{}",
            r.stdout, r.stderr
        );
        r.stdout
    }

    /// Runs with `--json` and `args`, asserts success, returns `result`.
    pub fn json(&self, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let r = self.run(&all);
        let v = r.envelope();
        assert_eq!(
            r.code, 0,
            "envpack {args:?} failed: {v}\nstderr:\n{}",
            r.stderr
        );
        assert_eq!(v["ok"], true);
        assert_eq!(v["api"], "envpack/v1");
        v["result"].clone()
    }

    /// Runs with `--json` and `args`, asserts failure with `code`, returns
    /// the envelope's `error`.
    pub fn fails(&self, code: i32, args: &[&str]) -> Value {
        let mut all = vec!["--json"];
        all.extend_from_slice(args);
        let r = self.run(&all);
        let v = r.envelope();
        assert_eq!(
            r.code, code,
            "envpack {args:?}: expected exit {code}, got {}: {v}\nstderr:\n{}",
            r.code, r.stderr
        );
        assert_eq!(v["ok"], false);
        v["error"].clone()
    }
}
