//! Issue 15 ("bundles and inputs"): hostile bundles, arguments and files
//! on disk are refused with a typed error, and the environment's files
//! stay intact. Hostile bundles are built here, byte by byte, not by
//! `bundle build` (which refuses to make them).
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use std::fs;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use envpack_e2e::Env;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

/// One bundle entry: its name, its bytes (or a count of zero bytes), and
/// the size the manifest lists (`None`: its real size; unlisted with
/// `listed: false`).
struct Entry {
    name: String,
    data: Data,
    listed_size: Option<u64>,
    listed: bool,
}

enum Data {
    Bytes(Vec<u8>),
    Zeros(u64),
}

impl Entry {
    fn file(name: &str, bytes: &[u8]) -> Self {
        Self {
            name: name.into(),
            data: Data::Bytes(bytes.to_vec()),
            listed_size: None,
            listed: true,
        }
    }

    fn zeros(name: &str, n: u64) -> Self {
        Self {
            name: name.into(),
            data: Data::Zeros(n),
            listed_size: None,
            listed: true,
        }
    }

    fn size(&self) -> u64 {
        match &self.data {
            Data::Bytes(b) => b.len() as u64,
            Data::Zeros(n) => *n,
        }
    }

    fn sha256(&self) -> String {
        let mut h = Sha256::new();
        match &self.data {
            Data::Bytes(b) => h.update(b),
            Data::Zeros(n) => {
                std::io::copy(&mut std::io::repeat(0).take(*n), &mut h).unwrap();
            }
        }
        hex(&h.finalize())
    }

    fn reader(&self) -> Box<dyn Read + '_> {
        match &self.data {
            Data::Bytes(b) => Box::new(&b[..]),
            Data::Zeros(n) => Box::new(std::io::repeat(0).take(*n)),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The manifest listing `entries` under `payload/`.
fn manifest_for(entries: &[Entry]) -> Value {
    let files: Vec<Value> = entries
        .iter()
        .filter(|e| e.listed)
        .map(|e| {
            json!({
                "path": e.name.strip_prefix("payload/").unwrap_or(&e.name),
                "sha256": e.sha256(),
                "size": e.listed_size.unwrap_or_else(|| e.size()),
                "executable": false,
            })
        })
        .collect();
    json!({
        "contract": "release_bundle_v1",
        "name": "web",
        "version": "1.0.0",
        "created": "2026-01-01T00:00:00Z",
        "source": {"kind": "main", "ref": "main"},
        "files": files,
    })
}

/// Writes a gzip tar: the manifest first, then `entries` with their names
/// written raw (GNU long names past 100 bytes).
fn write_bundle(path: &Path, manifest: &Value, entries: &[Entry]) {
    let gz =
        flate2::write::GzEncoder::new(fs::File::create(path).unwrap(), flate2::Compression::fast());
    let mut tar = tar::Builder::new(gz);
    let m = serde_json::to_vec(manifest).unwrap();
    append(&mut tar, "bundle_manifest.json", m.len() as u64, &m[..]);
    for e in entries {
        append(&mut tar, &e.name, e.size(), e.reader());
    }
    tar.into_inner().unwrap().finish().unwrap().flush().unwrap();
}

fn append<W: Write>(tar: &mut tar::Builder<W>, name: &str, size: u64, data: impl Read) {
    let mut h = tar::Header::new_gnu();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    if name.len() <= 100 {
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_cksum();
        tar.append(&h, data).unwrap();
    } else {
        tar.append_data(&mut h, name, data).unwrap();
    }
}

/// A bundle of `entries`, listed honestly, written to `home/<file>`.
fn bundle(env: &Env, file: &str, entries: &[Entry]) -> PathBuf {
    let path = env.home().join(file);
    write_bundle(&path, &manifest_for(entries), entries);
    path
}

fn refused(env: &Env, file: &Path, needle: &str) -> Value {
    let err = env.fails(6, &["bundle", "verify", file.to_str().unwrap()]);
    assert_eq!(err["kind"], "integrity", "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains(needle), "expected {needle:?} in: {msg}");
    err
}

#[test]
fn names_extraction_could_not_write_or_a_terminal_would_mangle_are_refused() {
    let env = Env::new(BIN);
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    env.json(&["bundle", "verify", ok.to_str().unwrap()]);

    let long = format!("payload/{}", "n".repeat(300));
    let f = bundle(&env, "long.tgz", &[Entry::file(&long, b"x")]);
    refused(&env, &f, "at most 255");
    let deep = format!("payload/{}", ["d"; 600].join("/"));
    let f = bundle(&env, "deep.tgz", &[Entry::file(&deep, b"x")]);
    refused(&env, &f, "ENVPACK_BUNDLE_MAX_PATH");
    for (file, name) in [
        ("esc.tgz", "payload/a\u{1b}]0;owned\u{7}b"),
        ("cr.tgz", "payload/a\rerror: fake"),
        ("nl.tgz", "payload/a\nb"),
    ] {
        let f = bundle(&env, file, &[Entry::file(name, b"x")]);
        let err = refused(&env, &f, "control character");
        // The refusal quotes the name escaped, never raw.
        assert!(!err.to_string().contains('\u{1b}'));
    }
    let f = bundle(
        &env,
        "bidi.tgz",
        &[Entry::file("payload/gpj.\u{202E}exe", b"x")],
    );
    refused(&env, &f, "U+202E");
    // A file where another entry needs a directory.
    let f = bundle(
        &env,
        "clash.tgz",
        &[
            Entry::file("payload/a", b"x"),
            Entry::file("payload/a/b", b"y"),
        ],
    );
    refused(&env, &f, "which is a file");
}

#[test]
fn trailing_garbage_and_truncated_gzip_are_refused() {
    let env = Env::new(BIN);
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    let bytes = fs::read(&ok).unwrap();
    let garbage = env.home().join("garbage.tgz");
    fs::write(&garbage, [&bytes[..], b"#!/bin/sh evil"].concat()).unwrap();
    refused(&env, &garbage, "trailing data after the gzip stream");
    // A second gzip member is trailing data too: a bundle is one stream.
    let twice = env.home().join("twice.tgz");
    fs::write(&twice, [&bytes[..], &bytes[..]].concat()).unwrap();
    refused(&env, &twice, "trailing data");
    // The gzip trailer (CRC32 and length, 8 bytes) cut short.
    let cut = env.home().join("cut.tgz");
    fs::write(&cut, &bytes[..bytes.len() - 4]).unwrap();
    refused(&env, &cut, "truncated or corrupt");
}

#[test]
fn sizes_and_counts_are_limited_before_anything_is_inflated() {
    let env = Env::new(BIN);
    // The manifest declares 10 GiB: refused from the manifest alone.
    let mut big: Vec<Entry> = (0..10)
        .map(|i| Entry::file(&format!("payload/z{i}"), b""))
        .collect();
    for e in &mut big {
        e.listed_size = Some(1 << 30);
    }
    let path = env.home().join("big.tgz");
    write_bundle(&path, &manifest_for(&big), &big);
    refused(&env, &path, "ENVPACK_BUNDLE_MAX_BYTES");

    // An entry whose header disagrees with the manifest is refused before
    // it is read: 512 MiB of zeros where the manifest says 3 bytes.
    let mut liar = vec![Entry::zeros("payload/z", 512 << 20)];
    liar[0].listed_size = Some(3);
    let path = env.home().join("liar.tgz");
    write_bundle(&path, &manifest_for(&liar), &liar);
    let started = std::time::Instant::now();
    refused(&env, &path, "tampered");
    assert!(started.elapsed().as_secs() < 60, "refusing took too long");

    // Limits come from the environment, each named in the refusal.
    let many: Vec<Entry> = (0..5)
        .map(|i| Entry::file(&format!("payload/f{i}"), b"x"))
        .collect();
    let path = bundle(&env, "many.tgz", &many);
    env.json(&["bundle", "verify", path.to_str().unwrap()]);
    let r = env
        .cmd()
        .args(["--json", "bundle", "verify", path.to_str().unwrap()])
        .env("ENVPACK_BUNDLE_MAX_ENTRIES", "3")
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(6));
    assert!(String::from_utf8_lossy(&r.stdout).contains("ENVPACK_BUNDLE_MAX_ENTRIES"));
    let r = env
        .cmd()
        .args(["--json", "bundle", "verify", path.to_str().unwrap()])
        .env("ENVPACK_BUNDLE_MAX_BYTES", "lots")
        .output()
        .unwrap();
    assert_eq!(
        r.status.code(),
        Some(2),
        "a bad limit is refused, not ignored"
    );
}

#[test]
fn verify_streams_entries_without_holding_them() {
    let env = Env::new(BIN);
    let path = bundle(
        &env,
        "zeros.tgz",
        &[Entry::zeros("payload/zeros", 512 << 20)],
    );
    // 256 MiB of address space: holding the 512 MiB entry cannot fit.
    let r = std::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -v 262144 && exec \"$0\" --json bundle verify '{}'",
            path.display()
        ))
        .arg(BIN)
        .env("ENVPACK_HOME", env.home())
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&r.stdout);
    assert_eq!(
        r.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&r.stderr)
    );
    assert!(out.contains("\"ok\":true"), "{out}");
}

/// The revisions of the only deployment in the local environment.
fn revisions(env: &Env) -> Vec<Value> {
    let list = env.json(&["revisions", "list"]);
    list[0]["revisions"].as_array().cloned().unwrap_or_default()
}

#[test]
fn a_deploy_that_cannot_extract_ends_failed_audited_and_clean() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    // Verify passes with a path limit raised past what the filesystem can
    // create (PATH_MAX is 4096 bytes); extraction then fails.
    let deep = format!("payload/{}", vec!["d".repeat(200); 25].join("/"));
    let entries = [Entry::file(&deep, b"x"), Entry::file("payload/a", b"a")];
    let mut manifest = manifest_for(&entries);
    manifest["attributes"] = json!({"run": "./a {port}", "health": "/"});
    let path = env.home().join("deep.tgz");
    write_bundle(&path, &manifest, &entries);
    let run = |args: &[&str]| {
        let r = env
            .cmd()
            .arg("--json")
            .args(args)
            .env("ENVPACK_BUNDLE_MAX_PATH", "8000")
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&r.stdout).unwrap();
        (r.status.code(), v)
    };
    let (code, v) = run(&["bundle", "verify", path.to_str().unwrap()]);
    assert_eq!(code, Some(0), "{v}");
    let (code, v) = run(&["deploy", path.to_str().unwrap()]);
    assert_eq!(v["ok"], false, "{v}");
    assert_eq!(v["error"]["kind"], "invalid-input", "{v}");
    assert_eq!(code, Some(2));
    assert!(
        v["error"]["message"].as_str().unwrap().contains("too long"),
        "{v}"
    );

    let revs = revisions(&env);
    assert_eq!(revs.len(), 1);
    assert_eq!(revs[0]["state"], "failed", "{revs:?}");
    let id = revs[0]["id"].as_str().unwrap();
    let audit = env.json(&["audit"]);
    let results: Vec<String> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["verb"] == "deploy")
        .map(|a| a["result"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(results.len(), 2, "{audit}");
    assert_eq!(results[0], "started");
    assert!(results[1].starts_with("failed"), "{results:?}");
    let payload = env
        .home()
        .join(format!("envs/local/revisions/{id}/payload"));
    assert!(
        !payload.exists(),
        "the partial payload stays at {}",
        payload.display()
    );
}

/// Runs with raw OS-string arguments (`--json` first).
fn run_os(env: &Env, args: &[&std::ffi::OsStr]) -> (Option<i32>, Value, String) {
    let r = env.cmd().arg("--json").args(args).output().unwrap();
    let stdout = String::from_utf8_lossy(&r.stdout).to_string();
    let v: Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|e| {
        panic!(
            "no envelope ({e}) for {args:?}: {stdout}\n{}",
            String::from_utf8_lossy(&r.stderr)
        )
    });
    (
        r.status.code(),
        v,
        String::from_utf8_lossy(&r.stderr).into(),
    )
}

#[cfg(unix)]
#[test]
fn non_utf8_arguments_never_panic() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let env = Env::new(BIN);
    let bad = OsStr::from_bytes(b"caf\xe9");
    let os = |s: &'static str| OsStr::new(s);
    // Where a name is expected: a typed refusal in the envelope.
    for args in [
        vec![os("env"), os("show"), bad],
        vec![os("env"), os("init"), bad],
        vec![os("secrets"), os("get"), bad],
        vec![os("--env"), bad, os("status")],
        vec![bad],
    ] {
        let (code, v, stderr) = run_os(&env, &args);
        assert_eq!(code, Some(2), "{args:?}: {v} {stderr}");
        assert_eq!(v["ok"], false);
        assert_eq!(v["error"]["kind"], "invalid-input", "{v}");
        assert!(
            v["error"]["message"].as_str().unwrap().contains("UTF-8"),
            "{v}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    // Where a path is expected, any bytes are a path.
    let file = env.home().join(OsStr::from_bytes(b"b\xe9.tgz"));
    let (code, v, _) = run_os(&env, &[os("bundle"), os("verify"), file.as_os_str()]);
    assert_eq!(
        (code, v["error"]["kind"].as_str()),
        (Some(3), Some("not-found")),
        "{v}"
    );
    let ok = bundle(
        &env,
        "ok.tgz",
        &[Entry::file("payload/index.html", b"hi\n")],
    );
    fs::copy(&ok, &file).unwrap();
    let (code, v, _) = run_os(&env, &[os("bundle"), os("verify"), file.as_os_str()]);
    assert_eq!(code, Some(0), "{v}");
    let home = env.home().join(OsStr::from_bytes(b"h\xe9me"));
    let (code, v, _) = run_os(
        &env,
        &[os("--home"), home.as_os_str(), os("env"), os("init")],
    );
    assert_eq!(code, Some(0), "{v}");
    assert!(home.join("envs/local/env.json").is_file());
    // Without --json the refusal is a plain error line, not a panic.
    let r = env
        .cmd()
        .args([os("env"), os("show"), bad])
        .output()
        .unwrap();
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).starts_with("error: "));
}

/// A dev environment on the recorder deployer with two ready revisions.
fn recorder_env() -> (Env, String, String) {
    let deployer = envpack_e2e::build_pack(BIN, "test-deployer");
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    env.json(&["pack", "install", deployer.to_str().unwrap()]);
    env.json(&[
        "env",
        "bind",
        "dev",
        "deployer",
        "acme.deployer.recorder@0.1.0",
        "--grant-requested",
    ]);
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    let mut ids = Vec::new();
    for v in ["1.0.0", "1.1.0"] {
        let entries = [Entry::file("payload/i", v.as_bytes())];
        let mut m = manifest_for(&entries);
        m["version"] = json!(v);
        let b = env.home().join(format!("{v}.tgz"));
        write_bundle(&b, &m, &entries);
        let out = env.json(&["deploy", b.to_str().unwrap(), "--env", "dev"]);
        ids.push(out["revision"]["id"].as_str().unwrap().to_string());
    }
    let b = ids.pop().unwrap();
    let a = ids.pop().unwrap();
    (env, a, b)
}

#[test]
fn a_traffic_change_made_is_reported_made_when_history_cannot_be_written() {
    let (env, a, b) = recorder_env();
    // A history file that cannot be opened for append (root ignores file
    // modes, so it is a directory).
    let history = env.home().join("envs/dev/history.jsonl");
    fs::remove_file(&history).unwrap();
    fs::create_dir(&history).unwrap();
    let split = format!("{a}=50%");
    let other = format!("{b}=50%");
    let r = env.run(&[
        "--json", "--env", "dev", "traffic", "set", "web", &split, &other,
    ]);
    let v = r.envelope();
    assert_eq!(r.code, 0, "{v}");
    assert_eq!(v["result"]["outcome"], "applied");
    assert_eq!(v["result"]["generation"], 2);
    let warning = v["result"]["warnings"][0].as_str().unwrap();
    assert!(warning.contains("the change was made"), "{warning}");
    assert!(warning.contains("history"), "{warning}");
    // The record and the audit log agree that it was made.
    let shown = env.json(&["--env", "dev", "traffic", "show"]);
    assert_eq!(shown["generation"], 2);
    assert_eq!(shown["weights"].as_array().unwrap().len(), 2);
    let audit = env.json(&["--env", "dev", "audit"]);
    assert!(
        audit
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["verb"] == "traffic.set" && e["result"] == "ok"),
        "{audit}"
    );
    // Without --json the warning is printed after the outcome.
    let split = format!("{a}=100%");
    let out = env.ok(&["--env", "dev", "traffic", "set", "web", &split]);
    assert!(out.contains("applied web generation 3"), "{out}");
    assert!(out.contains("warning: the change was made"), "{out}");
}

#[test]
fn concurrent_init_of_a_new_name_creates_it_once() {
    let env = Env::new(BIN);
    // Defaults installed and compiled once, so the race is about the name.
    env.json(&["env", "init", "warm"]);
    // Eight different policies (none equal to another), so a second
    // "created" or a quietly kept policy cannot pass for a repeat.
    let policies: Vec<Vec<&str>> = vec![
        vec!["--allow-source", "main"],
        vec!["--allow-source", "release-tag"],
        vec!["--allow-source", "feature-branch"],
        vec!["--allow-source", "main", "--allow-source", "release-tag"],
        vec!["--allow-source", "main", "--allow-source", "feature-branch"],
        vec!["--production", "--allow-source", "main"],
        vec!["--production", "--allow-source", "feature-branch"],
        vec![
            "--production",
            "--allow-source",
            "main",
            "--allow-source",
            "feature-branch",
        ],
    ];
    let children: Vec<_> = policies
        .iter()
        .map(|p| {
            env.cmd()
                .args(["--json", "env", "init", "race"])
                .args(p)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    let mut created = Vec::new();
    for (i, c) in children.into_iter().enumerate() {
        let out = c.wait_with_output().unwrap();
        let v: Value = serde_json::from_slice(&out.stdout).unwrap();
        match out.status.code() {
            Some(0) => {
                assert_eq!(v["result"]["outcome"], "created", "{v}");
                created.push((i, v["result"]["env"]["meta"]["policy"].clone()));
            }
            Some(5) => {
                assert_eq!(v["error"]["kind"], "conflict", "{v}");
                assert!(
                    v["error"]["hint"]
                        .as_str()
                        .unwrap()
                        .contains("envpack env show race")
                );
            }
            other => panic!("init {i} exited {other:?}: {v}"),
        }
    }
    assert_eq!(
        created.len(),
        1,
        "exactly one operator creates it: {created:?}"
    );
    // The winner's policy is the one kept.
    let shown = env.json(&["env", "show", "race"]);
    assert_eq!(shown["meta"]["policy"], created[0].1);
}

/// A mount made for a test, unmounted when it ends. `None` (with the reason
/// printed) where this machine does not let tests mount.
struct Mount(PathBuf);

impl Mount {
    fn new(args: &[&str], at: &Path) -> Option<Self> {
        fs::create_dir_all(at).unwrap();
        let out = std::process::Command::new("mount")
            .args(args)
            .arg(at)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(Self(at.to_path_buf())),
            Ok(o) => {
                eprintln!(
                    "SKIPPED: cannot mount ({}); run as root to test this",
                    String::from_utf8_lossy(&o.stderr).trim()
                );
                None
            }
            Err(e) => {
                eprintln!("SKIPPED: no mount command ({e})");
                None
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.0)
            .status();
    }
}

/// Fills the filesystem holding `dir` until a write fails.
fn fill(dir: &Path) -> PathBuf {
    let filler = dir.join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    let block = vec![7u8; 4096];
    while f.write_all(&block).and_then(|()| f.sync_all()).is_ok() {}
    filler
}

fn temps(dir: &Path) -> Vec<String> {
    fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".tmp-"))
        .collect()
}

#[test]
fn a_full_disk_is_a_typed_error_and_leaves_nothing_half_made() {
    let env = Env::new(BIN);
    // Packs and the store stay on the real disk; environments go on a
    // 256 KiB filesystem.
    env.json(&["env", "init", "warm"]);
    let envs = env.home().join("envs");
    let Some(_m) = Mount::new(&["-t", "tmpfs", "-o", "size=256k", "tmpfs"], &envs) else {
        return;
    };
    env.json(&["env", "init", "dev"]);
    let filler = fill(&envs);
    let err = env.fails(
        9,
        &[
            "env",
            "config",
            "dev",
            "greentic.telemetry.stdout",
            "level",
            "warn",
        ],
    );
    assert_eq!(err["kind"], "unavailable", "{err}");
    let msg = err["message"].as_str().unwrap();
    assert!(msg.contains("the disk is full"), "{msg}");
    assert!(err["hint"].as_str().unwrap().contains("df -h"), "{err}");
    assert!(
        temps(&envs.join("dev")).is_empty(),
        "temp files left behind"
    );
    // env init on a full disk: a typed refusal and no half environment.
    let err = env.fails(9, &["env", "init", "other"]);
    assert!(
        err["message"]
            .as_str()
            .unwrap()
            .contains("the disk is full"),
        "{err}"
    );
    assert!(
        !envs.join("other").exists(),
        "a partial environment was left"
    );
    // With space again, both work and the first environment is intact.
    fs::remove_file(filler).unwrap();
    env.json(&["env", "init", "other"]);
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    assert_eq!(env.json(&["env", "doctor", "dev"])["healthy"], true);
}

#[test]
fn a_read_only_home_still_reads_state_and_secrets() {
    let env = Env::new(BIN);
    env.json(&["env", "init"]);
    env.json(&["state", "put", "k", "v"]);
    env.json(&["secrets", "put", "token", "s3cret"]);
    let ro = env.home().with_extension("ro");
    let Some(_bind) = Mount::new(&["--bind", env.home().to_str().unwrap()], &ro) else {
        return;
    };
    let remounted = std::process::Command::new("mount")
        .args(["-o", "remount,ro,bind"])
        .arg(&ro)
        .status()
        .unwrap();
    if !remounted.success() {
        eprintln!("SKIPPED: cannot remount {} read-only", ro.display());
        return;
    }
    let read = |args: &[&str]| {
        let r = env
            .cmd()
            .env("ENVPACK_HOME", &ro)
            .arg("--json")
            .args(args)
            .output()
            .unwrap();
        let v: Value = serde_json::from_slice(&r.stdout)
            .unwrap_or_else(|e| panic!("{args:?}: {e}: {}", String::from_utf8_lossy(&r.stdout)));
        assert_eq!(
            r.status.code(),
            Some(0),
            "{args:?} on a read-only home: {v}"
        );
        v["result"].clone()
    };
    assert_eq!(read(&["state", "get", "k"])["value"], "v");
    assert_eq!(read(&["secrets", "get", "token"])["value"], "s3cret");
    assert_eq!(read(&["state", "list"])[0], "k");
    assert_eq!(read(&["secrets", "list"])[0], "token");
    read(&["env", "show"]);
    // A write says why it cannot, with a typed error.
    let r = env
        .cmd()
        .env("ENVPACK_HOME", &ro)
        .args(["--json", "state", "put", "k", "w"])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["ok"], false);
    assert_ne!(v["error"]["kind"], "internal", "{v}");
}

#[test]
fn doctor_reports_a_torn_deployment_record_and_how_to_restore_it() {
    let (env, _a, _b) = recorder_env();
    let record = env.home().join("envs/dev/deployments/web.json");
    let bytes = fs::read(&record).unwrap();
    fs::write(&record, &bytes[..bytes.len() / 2]).unwrap();
    let r = env.run(&["--json", "env", "doctor", "dev"]);
    let v = r.envelope();
    assert_eq!(r.code, 10, "a torn record is not healthy: {v}");
    let findings = v["error"]["details"]["findings"].as_array().unwrap();
    let torn = findings
        .iter()
        .find(|f| f["check"] == "records")
        .unwrap_or_else(|| panic!("no records finding: {v}"));
    assert!(
        torn["message"]
            .as_str()
            .unwrap()
            .contains("deployments/web.json"),
        "{torn}"
    );
    // The fix runs as printed and restores the previous version.
    let fix = torn["fix"].as_str().unwrap();
    assert!(fix.starts_with("cp "), "{fix}");
    let ran = std::process::Command::new("sh")
        .arg("-c")
        .arg(fix)
        .status()
        .unwrap();
    assert!(ran.success());
    let r = env.run(&["--json", "env", "doctor", "dev"]);
    assert!(
        !r.stdout.contains("\"check\":\"records\""),
        "still damaged after the fix: {}",
        r.stdout
    );
}

#[test]
fn temp_files_of_killed_writes_are_cleaned_by_the_next_write() {
    let env = Env::new(BIN);
    env.json(&["env", "init", "dev"]);
    let dir = env.home().join("envs/dev");
    // A writer that died (no such pid), and one still writing (this test).
    let dead = dir.join(".tmp-2147483646-AbCdEf");
    let live = dir.join(format!(".tmp-{}-GhIjKl", std::process::id()));
    fs::write(&dead, b"half a record").unwrap();
    fs::write(&live, b"being written").unwrap();
    env.json(&[
        "env",
        "config",
        "dev",
        "greentic.telemetry.stdout",
        "level",
        "warn",
    ]);
    assert!(!dead.exists(), "the dead writer's temp file is still there");
    assert!(live.exists(), "a live writer's temp file was removed");
}
