//! `greentic.state.fs`: durable state in files.
//!
//! Each key is one file under the pack's scratch directory (which the host
//! places under the environment's directory): `/scratch/state/<hex key>`,
//! holding an 8-byte little-endian generation followed by the value. A key
//! whose hex would not fit one file name (over 125 bytes; the host writes
//! keys of up to 661 bytes for other packs' kv) is split into directories of
//! 200 hex digits, each named with a trailing `+`, and a final file. Writes
//! go to a temp file that is renamed over the old one, so a crash never
//! leaves a torn value. The host serialises writes to an environment's state
//! across processes, which makes compare-and-swap atomic.

use std::fs;
use std::io::Write;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Error, StatePack};

const DIR: &str = "/scratch/state";

/// Longest key accepted: more than the longest the host writes (661 bytes).
const MAX_KEY: usize = 1024;

/// Longest file name used, in hex digits (with `.tmp`, within 255 bytes).
const NAME: usize = 250;

/// Hex digits per directory level of a long key.
const CHUNK: usize = 200;

#[derive(Default)]
struct FsState;

fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(name: &str) -> Option<String> {
    if name.len() % 2 != 0 {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..name.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&name[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

/// The file holding `key`.
fn path_of(key: &str) -> String {
    let h = hex(key);
    let mut path = String::from(DIR);
    let mut rest = h.as_str();
    while rest.len() > NAME {
        path.push('/');
        path.push_str(&rest[..CHUNK]);
        path.push('+');
        rest = &rest[CHUNK..];
    }
    path.push('/');
    path.push_str(rest);
    path
}

/// Every key stored under `dir`, whose directories spell `hex_prefix`.
fn walk(dir: &str, hex_prefix: &str, out: &mut Vec<String>) -> Result<(), Error> {
    let entries = match fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(Error::internal(format!("cannot list state: {e}"))),
    };
    for entry in entries.filter_map(|e| e.ok()) {
        let name = entry.file_name().to_string_lossy().into_owned();
        match name.strip_suffix('+') {
            Some(part) if entry.path().is_dir() => {
                walk(&format!("{dir}/{name}"), &format!("{hex_prefix}{part}"), out)?;
            }
            _ => out.extend(unhex(&format!("{hex_prefix}{name}"))),
        }
    }
    Ok(())
}

fn io(what: &str, key: &str, e: std::io::Error) -> Error {
    Error::internal(format!("cannot {what} state key {key:?}: {e}"))
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "state key {key:?} must be 1 to {MAX_KEY} bytes without control characters"
        )));
    }
    Ok(())
}

fn read(key: &str) -> Result<Option<Entry>, Error> {
    match fs::read(path_of(key)) {
        Ok(bytes) if bytes.len() >= 8 => {
            let mut g = [0u8; 8];
            g.copy_from_slice(&bytes[..8]);
            Ok(Some(Entry {
                generation: u64::from_le_bytes(g),
                value: bytes[8..].to_vec(),
            }))
        }
        Ok(_) => Err(Error::internal(format!("state key {key:?} is stored truncated"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io("read", key, e)),
    }
}

impl StatePack for FsState {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        check_key(&key)?;
        read(&key)
    }

    fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        check_key(&key)?;
        let current = read(&key)?.map(|e| e.generation);
        check_expect(&key, current, expect.as_ref())?;
        let generation = current.unwrap_or(0) + 1;
        let path = path_of(&key);
        let parent = path.rsplit_once('/').map_or(DIR, |(p, _)| p);
        fs::create_dir_all(parent).map_err(|e| io("create directory for", &key, e))?;
        let tmp = format!("{path}.tmp");
        let mut f = fs::File::create(&tmp).map_err(|e| io("write", &key, e))?;
        f.write_all(&generation.to_le_bytes())
            .and_then(|()| f.write_all(&value))
            .and_then(|()| f.sync_all())
            .map_err(|e| io("write", &key, e))?;
        fs::rename(&tmp, &path).map_err(|e| io("commit", &key, e))?;
        Ok(generation)
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        check_key(&key)?;
        let current = read(&key)?.map(|e| e.generation);
        check_expect(&key, current, expect.as_ref())?;
        if current.is_none() {
            return Ok(false);
        }
        fs::remove_file(path_of(&key)).map_err(|e| io("delete", &key, e))?;
        Ok(true)
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        walk(DIR, "", &mut keys)?;
        keys.retain(|k| k.starts_with(&prefix));
        keys.sort();
        Ok(keys)
    }
}

envpack_sdk::export_state!(FsState);
