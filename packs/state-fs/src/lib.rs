//! `greentic.state.fs`: durable state in files.
//!
//! Each key is one file under the pack's scratch directory (which the host
//! places under the environment's directory): `/scratch/state/<hex key>`,
//! holding an 8-byte little-endian generation followed by the value. Writes
//! go to a temp file that is renamed over the old one, so a crash never
//! leaves a torn value. The host serialises writes to an environment's state
//! across processes, which makes compare-and-swap atomic.

use std::fs;
use std::io::Write;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Error, StatePack};

const DIR: &str = "/scratch/state";

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

fn io(what: &str, key: &str, e: std::io::Error) -> Error {
    Error::internal(format!("cannot {what} state key {key:?}: {e}"))
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > 512 || key.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "state key {key:?} must be 1 to 512 bytes without control characters"
        )));
    }
    Ok(())
}

fn read(key: &str) -> Result<Option<Entry>, Error> {
    match fs::read(format!("{DIR}/{}", hex(key))) {
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
        fs::create_dir_all(DIR).map_err(|e| io("create directory for", &key, e))?;
        let path = format!("{DIR}/{}", hex(&key));
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
        fs::remove_file(format!("{DIR}/{}", hex(&key))).map_err(|e| io("delete", &key, e))?;
        Ok(true)
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        let entries = match fs::read_dir(DIR) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::internal(format!("cannot list state: {e}"))),
        };
        let mut keys: Vec<String> = entries
            .filter_map(|e| e.ok())
            .filter_map(|e| unhex(&e.file_name().to_string_lossy()))
            .filter(|k| k.starts_with(&prefix))
            .collect();
        keys.sort();
        Ok(keys)
    }
}

envpack_sdk::export_state!(FsState);
