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

/// The Kinetic REST test double, for the Kinetic suites.
pub use envpack_kinetic_double as kinetic_double;

/// The Kubernetes API double (`tests/k8s-double`), for the k8s suite.
pub use envpack_k8s_double as k8s_double;

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

    /// A bundle `site@VERSION` whose payload serves `body` as `index.html`
    /// with Python's `http.server` (`run=./serve.sh {port}`), plus one
    /// `--attr` per entry of `attrs`. Built in the home as
    /// `site-VERSION.tgz`; returns its path.
    pub fn python_site(&self, version: &str, body: &str, attrs: &[&str]) -> PathBuf {
        let dir = self.home().join(format!("site-{version}"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("index.html"), body).unwrap();
        let script = dir.join("serve.sh");
        std::fs::write(
            &script,
            "#!/bin/sh\nexec python3 -m http.server \"$1\" --bind 127.0.0.1\n",
        )
        .unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        }
        let out = self.home().join(format!("site-{version}.tgz"));
        let mut args = vec![
            "bundle",
            "build",
            "--no-git",
            dir.to_str().unwrap(),
            "--name",
            "site",
            "--version",
            version,
            "--source",
            "main",
            "--ref",
            "main",
            "--attr",
            "run=./serve.sh {port}",
        ];
        for a in attrs {
            args.extend(["--attr", a]);
        }
        args.extend(["--out", out.to_str().unwrap()]);
        self.json(&args);
        out
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
        self.run_hint(&v["error"]);
        v["error"].clone()
    }

    /// Every hint the CLI prints is a command that works when pasted: the
    /// runnable ones (no placeholders) are run against a copy of this home
    /// and must not fail as a usage error (2), a missing thing (3) or a
    /// panic (101). `ENVPACK_E2E_SKIP_HINTS=1` turns this off.
    fn run_hint(&self, error: &Value) {
        if std::env::var_os("ENVPACK_E2E_SKIP_HINTS").is_some() {
            return;
        }
        let Some(hint) = error["hint"].as_str() else {
            return;
        };
        for args in runnable_hints(hint) {
            let copy = tempfile::tempdir().unwrap();
            copy_tree(self.home(), copy.path());
            let json = (!args.iter().any(|a| a == "--json")).then_some("--json");
            let mut child = Command::new(&self.bin)
                .args(json)
                .args(&args)
                .env("ENVPACK_HOME", copy.path())
                .env("ENVPACK_NO_PROGRESS", "1")
                .env_remove("RUST_LOG")
                .stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            // A hint that reads a value (secrets put NAME) gets one.
            if let Some(mut stdin) = child.stdin.take() {
                let _ = std::io::Write::write_all(&mut stdin, b"hint-value\n");
            }
            let out = child.wait_with_output().unwrap();
            let code = out.status.code().unwrap_or(-1);
            // Judged by the envelope: exit 2 also means "drift found".
            let envelope: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            let kind = envelope["error"]["kind"].as_str().unwrap_or("");
            let bad = code == 101
                || ["invalid-input", "not-found"].contains(&kind)
                || (envelope.is_null() && code != 0);
            assert!(
                !bad,
                "the hint `envpack {}` (for {error}) fails with exit {code}:\n{}{}",
                args.join(" "),
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

/// The commands in a hint that can be run as printed: each `envpack ...`
/// that starts the hint or follows `: `, `` ` ``, `; `, `then `, `&& `,
/// `run `, `or `, up to the prose after it; without placeholders (`<ENV>`,
/// `...`, `FILE`) and without commands that do not end by themselves.
pub fn runnable_hints(hint: &str) -> Vec<Vec<String>> {
    const BEFORE: [&str; 8] = [": ", "`", "; ", "then ", "&& ", "run ", "or ", "\n"];
    let mut out = Vec::new();
    for (at, _) in hint.match_indices("envpack ") {
        let starts = at == 0 || BEFORE.iter().any(|b| hint[..at].ends_with(b));
        if !starts {
            continue;
        }
        let rest = &hint[at..];
        let end = ["`", " (", ";", ", then", ", or ", " && ", " or "]
            .iter()
            .filter_map(|e| rest.find(e))
            .min()
            .unwrap_or(rest.len());
        let cmd = rest[..end].trim();
        let words: Vec<&str> = cmd.split_whitespace().skip(1).collect();
        let placeholder = |w: &str| {
            w.contains(['<', '>', '|', '\'', '"', '*', '$', '[', ']'])
                || w.contains("...")
                || w.split(['.', '=', ':', '/']).any(|seg| {
                    seg.len() > 1 && seg.chars().all(|c| c.is_ascii_uppercase() || c == '_')
                })
        };
        let endless = matches!(words.first(), Some(&"serve") | Some(&"logs") | Some(&"ui"));
        if words.is_empty() || endless || words.iter().any(|w| placeholder(w)) {
            continue;
        }
        let words: Vec<String> = words
            .iter()
            .map(|w| w.trim_end_matches([',', ')']).to_string())
            .collect();
        out.push(words);
    }
    out
}

/// Copies `from` into `to` (files and directories; links as links).
fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().unwrap();
        if kind.is_dir() {
            std::fs::create_dir_all(&dst).unwrap();
            copy_tree(&src, &dst);
        } else if kind.is_symlink() {
            let _ = std::os::unix::fs::symlink(std::fs::read_link(&src).unwrap(), &dst);
        } else if kind.is_file() {
            let _ = std::fs::copy(&src, &dst);
        }
    }
}

/// The PostgreSQL server of this test run (`ENVPACK_TEST_POSTGRES`, set by
/// `.ci/run` from `scripts/services`) with a fresh schema of its own, so
/// tests never see each other's environments. Fails, never skips, when
/// there is no server: the suites that share environments cannot be
/// tested without one.
pub fn postgres_url(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = std::env::var("ENVPACK_TEST_POSTGRES")
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "ENVPACK_TEST_POSTGRES is not set: this test needs a PostgreSQL server.\n\
                 Start a throwaway one and run the tests again:\n  \
                 d=$(mktemp -d); eval \"$(scripts/services start $d)\"; cargo test ...; scripts/services stop $d\n\
                 (.ci/run does this; scripts/bootstrap installs PostgreSQL)"
            )
        });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let sep = if base.contains('?') { '&' } else { '?' };
    format!(
        "{base}{sep}schema=t_{tag}_{}_{n}_{nanos}",
        std::process::id()
    )
}

/// Appends the unsigned LEB128 encoding of `n` (Wasm's integers), for
/// tests that write Wasm binaries by hand.
pub fn leb128(mut n: usize, out: &mut Vec<u8>) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            out.push(byte);
            return;
        }
        out.push(byte | 0x80);
    }
}

/// A variable `scripts/services` exports, or a failure saying how to get
/// it: the registry suites cannot be tested without a real registry.
fn service_var(var: &str, what: &str) -> String {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .unwrap_or_else(|| {
            panic!(
                "{var} is not set: this test needs {what}.\n\
                 Start the throwaway servers and run the tests again:\n  \
                 d=$(mktemp -d); eval \"$(scripts/services start $d)\"; cargo test ...; scripts/services stop $d\n\
                 (.ci/run does this; scripts/bootstrap installs what it needs)"
            )
        })
}

/// The open OCI registry of this test run (`ENVPACK_TEST_REGISTRY`,
/// `HOST:PORT` on loopback, from `scripts/services`).
pub fn registry_addr() -> String {
    service_var("ENVPACK_TEST_REGISTRY", "an OCI registry (docker-registry)")
}

/// The open registry's storage directory (its filesystem driver's root),
/// where a test can tamper with a blob (`ENVPACK_TEST_REGISTRY_DATA`).
pub fn registry_data() -> PathBuf {
    PathBuf::from(service_var(
        "ENVPACK_TEST_REGISTRY_DATA",
        "the OCI registry's storage directory",
    ))
}

/// The registry that asks for a login: `(user, password, HOST:PORT)` from
/// `ENVPACK_TEST_REGISTRY_AUTH` (`USER:PASSWORD@HOST:PORT`).
pub fn registry_auth() -> (String, String, String) {
    let v = service_var(
        "ENVPACK_TEST_REGISTRY_AUTH",
        "an OCI registry with basic authentication",
    );
    let (login, addr) = v.rsplit_once('@').expect("USER:PASSWORD@HOST:PORT");
    let (user, password) = login.split_once(':').expect("USER:PASSWORD");
    (user.into(), password.into(), addr.into())
}

/// A repository prefix no other test (or earlier run) uses.
pub fn unique_repo(tag: &str) -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("t-{tag}-{}-{n}-{nanos}", std::process::id())
}

/// The Redis server of this test run (`ENVPACK_TEST_REDIS`, set by `.ci/run`
/// from `scripts/services` as `redis://USER:PASSWORD@HOST:PORT`).
#[derive(Clone, Debug)]
pub struct RedisServer {
    /// `host:port`.
    pub address: String,
    /// The host alone.
    pub host: String,
    /// The port.
    pub port: u16,
    /// The ACL user.
    pub username: String,
    /// Its password.
    pub password: String,
}

impl RedisServer {
    /// A key prefix no other test (or earlier run) uses, ending in `:`.
    pub fn fresh_prefix(&self, tag: &str) -> String {
        format!("{}:", unique_repo(tag))
    }

    /// Runs `redis-cli` against the server with `args`; returns stdout.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", &self.host, "-p", &self.port.to_string()])
            .args(["--user", &self.username, "--pass", &self.password])
            .arg("--no-auth-warning")
            .args(args)
            .output()
            .unwrap_or_else(|e| {
                panic!("cannot run redis-cli (scripts/bootstrap installs it): {e}")
            });
        assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

/// The Redis server of this test run. Fails, never skips, when there is
/// none: the Redis state pack cannot be tested without one.
pub fn redis_server() -> RedisServer {
    let url = service_var("ENVPACK_TEST_REDIS", "a Redis server (redis-server)");
    let rest = url.strip_prefix("redis://").unwrap_or_else(|| {
        panic!("ENVPACK_TEST_REDIS={url:?} is not redis://USER:PASSWORD@HOST:PORT")
    });
    let (auth, address) = rest
        .rsplit_once('@')
        .unwrap_or_else(|| panic!("ENVPACK_TEST_REDIS={url:?} has no USER:PASSWORD@"));
    let (username, password) = auth.split_once(':').unwrap();
    let (host, port) = address.rsplit_once(':').unwrap();
    RedisServer {
        address: address.to_string(),
        host: host.to_string(),
        port: port.parse().unwrap(),
        username: username.to_string(),
        password: password.to_string(),
    }
}

#[cfg(test)]
mod hint_tests {
    use super::runnable_hints;

    #[test]
    fn runnable_commands_are_found_in_hints() {
        let one = |h: &str| {
            runnable_hints(h)
                .into_iter()
                .map(|w| w.join(" "))
                .collect::<Vec<_>>()
        };
        assert_eq!(
            one("envpack revisions list --env dev"),
            ["revisions list --env dev"]
        );
        assert_eq!(
            one("run `envpack env rm qa --force`"),
            ["env rm qa --force"]
        );
        assert_eq!(
            one("tag it: git tag v1 && envpack bundle build ..."),
            Vec::<String>::new()
        );
        assert_eq!(
            one("rebuild it (envpack bundle build scans too)"),
            Vec::<String>::new()
        );
        assert_eq!(
            one("envpack audit --since 2h (or an RFC 3339 time)"),
            ["audit --since 2h"]
        );
        assert_eq!(
            one("fix it, then: envpack drift --env prod; then envpack status --env prod"),
            ["drift --env prod", "status --env prod"]
        );
        assert_eq!(
            one("envpack env bind dev state <PACK>"),
            Vec::<String>::new()
        );
        assert_eq!(one("envpack serve --env dev"), Vec::<String>::new());
    }
}
