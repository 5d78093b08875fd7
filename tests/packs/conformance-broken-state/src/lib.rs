//! `acme.state.broken`: a correct file-backed state pack (like
//! `greentic.state.fs`) with one deliberate bug, chosen by the config key
//! `bug`, so `envpack pack test` can be shown to fail exactly the case of
//! the rule broken:
//!
//! | `bug`                   | what it does wrong                                  | failing case                |
//! |-------------------------|-----------------------------------------------------|-----------------------------|
//! | `get-missing`           | a key never written reads as an empty value         | `get-missing-none`          |
//! | `first-generation`      | new keys start at generation 0                      | `generation-starts-at-1`    |
//! | `no-increment`          | an unconditional overwrite keeps the generation     | `generation-increases`      |
//! | `absent-ignored`        | `expect absent` overwrites an existing key          | `expect-absent`             |
//! | `generation-on-missing` | `expect generation(n)` creates a missing key        | `expect-generation`         |
//! | `conflict-message`      | conflicts do not name the generation found          | `conflict-names-generation` |
//! | `delete-missing-true`   | deleting a missing key returns `true`               | `delete`                    |
//! | `delete-ignores-expect` | delete ignores `expect`                             | `delete-expect`             |
//! | `list-unsorted`         | list returns keys in reverse order                  | `list-prefix-sorted`        |
//! | `large-truncated`       | values over 64 KiB are stored truncated             | `large-values`              |
//! | `stale-reads`           | get answers from what this instance last read or wrote (refreshed only on a conflict) | `durable-across-instances` |
//! | `lost-update`           | checks `expect` against generations this instance cached | `cas-across-instances` |

use std::cell::RefCell;
use std::collections::HashMap;
use std::fs;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Error, StatePack, config};

const DIR: &str = "/scratch/s";
const NAME: usize = 240;
const CHUNK: usize = 200;

#[derive(Default)]
struct Broken {
    /// Generations this instance read or wrote (used by `lost-update`).
    cache: RefCell<HashMap<String, u64>>,
    /// Entries this instance read or wrote (used by `stale-reads`).
    reads: RefCell<HashMap<String, Entry>>,
}

fn bug(name: &str) -> bool {
    config::get("bug").ok().flatten().as_deref() == Some(name)
}

fn hex(key: &str) -> String {
    key.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(name: &str) -> Option<String> {
    if name.len() % 2 != 0 || !name.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..name.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&name[i..i + 2], 16).ok())
        .collect();
    String::from_utf8(bytes?).ok()
}

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

fn walk(dir: &str, prefix: &str, out: &mut Vec<String>) {
    for entry in fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        match name.strip_suffix('+') {
            Some(part) if entry.path().is_dir() => walk(&format!("{dir}/{name}"), &format!("{prefix}{part}"), out),
            _ => out.extend(unhex(&format!("{prefix}{name}"))),
        }
    }
}

fn internal(what: &str, e: std::io::Error) -> Error {
    Error::internal(format!("cannot {what}: {e}"))
}

fn read(key: &str) -> Result<Option<Entry>, Error> {
    match fs::read(path_of(key)) {
        Ok(bytes) if bytes.len() >= 8 => {
            let mut g = [0u8; 8];
            g.copy_from_slice(&bytes[..8]);
            Ok(Some(Entry { generation: u64::from_le_bytes(g), value: bytes[8..].to_vec() }))
        }
        Ok(_) => Err(Error::internal(format!("state key {key:?} is stored truncated"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(internal("read state", e)),
    }
}

fn write(key: &str, generation: u64, value: &[u8]) -> Result<(), Error> {
    let path = path_of(key);
    if let Some((parent, _)) = path.rsplit_once('/') {
        fs::create_dir_all(parent).map_err(|e| internal("create a state directory", e))?;
    }
    let mut bytes = generation.to_le_bytes().to_vec();
    bytes.extend_from_slice(value);
    let tmp = format!("{path}.tmp");
    fs::write(&tmp, &bytes).map_err(|e| internal("write state", e))?;
    fs::rename(&tmp, &path).map_err(|e| internal("commit state", e))?;
    let _ = fs::remove_file(format!("{path}.deleted"));
    Ok(())
}

/// `check_expect`, or its broken variants.
fn check(key: &str, current: Option<u64>, expect: Option<&Expect>, put: bool) -> Result<(), Error> {
    match (expect, current) {
        (Some(Expect::Absent), Some(_)) if put && bug("absent-ignored") => Ok(()),
        (Some(Expect::Generation(_)), None) if put && bug("generation-on-missing") => Ok(()),
        _ => check_expect(key, current, expect).map_err(|e| match e {
            Error::Conflict(_) if bug("conflict-message") => Error::conflict(format!("key {key:?}: conflict")),
            other => other,
        }),
    }
}

impl Broken {
    fn current(&self, key: &str) -> Result<Option<u64>, Error> {
        let stored = read(key)?.map(|e| e.generation);
        if bug("lost-update")
            && let Some(g) = self.cache.borrow().get(key)
        {
            return Ok(Some(*g));
        }
        Ok(stored)
    }
}

impl StatePack for Broken {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        if bug("stale-reads")
            && let Some(e) = self.reads.borrow().get(&key)
        {
            return Ok(Some(e.clone()));
        }
        let entry = read(&key)?;
        if let Some(e) = &entry {
            self.reads.borrow_mut().insert(key.clone(), e.clone());
        }
        if let Some(e) = &entry {
            self.cache.borrow_mut().insert(key.clone(), e.generation);
        }
        if entry.is_none() && bug("get-missing") && fs::metadata(format!("{}.deleted", path_of(&key))).is_err() {
            return Ok(Some(Entry { value: Vec::new(), generation: 0 }));
        }
        Ok(entry)
    }

    fn put(&self, key: String, mut value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        let current = self.current(&key)?;
        if let Err(e) = check(&key, current, expect.as_ref(), true) {
            self.reads.borrow_mut().remove(&key);
            return Err(e);
        }
        let generation = match (current, &expect) {
            (None, Some(Expect::Generation(n))) => n + 1,
            (None, _) if bug("first-generation") => 0,
            (None, _) => 1,
            (Some(g), None) if bug("no-increment") => g,
            (Some(g), _) => g + 1,
        };
        if bug("large-truncated") {
            value.truncate(64 << 10);
        }
        write(&key, generation, &value)?;
        self.reads.borrow_mut().insert(key.clone(), Entry { value, generation });
        self.cache.borrow_mut().insert(key, generation);
        Ok(generation)
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        let current = read(&key)?.map(|e| e.generation);
        if !bug("delete-ignores-expect") {
            check(&key, current, expect.as_ref(), false)?;
        }
        self.cache.borrow_mut().remove(&key);
        self.reads.borrow_mut().remove(&key);
        if current.is_none() {
            return Ok(bug("delete-missing-true"));
        }
        let path = path_of(&key);
        fs::remove_file(&path).map_err(|e| internal("delete state", e))?;
        fs::write(format!("{path}.deleted"), b"").map_err(|e| internal("mark a deleted key", e))?;
        Ok(true)
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        let mut keys = Vec::new();
        walk(DIR, "", &mut keys);
        keys.retain(|k| k.starts_with(&prefix));
        keys.sort();
        if bug("list-unsorted") {
            keys.reverse();
        }
        Ok(keys)
    }
}

envpack_sdk::export_state!(Broken);
