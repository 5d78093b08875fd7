//! Issue 15 ("bundles and inputs"): hostile bundles, arguments and files
//! on disk are refused with a typed error, and the environment's files
//! stay intact. Hostile bundles are built here, byte by byte, not by
//! `bundle build` (which refuses to make them).
//!
//! Shared builders live here; the tests are in `inputs_hostile/`.
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

#[path = "inputs_hostile/bundles.rs"]
mod bundles;
#[path = "inputs_hostile/disk.rs"]
mod disk;
#[path = "inputs_hostile/records.rs"]
mod records;
