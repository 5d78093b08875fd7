//! `acme.state.memory`: a state pack written by a "third party" using only the
//! public envpack SDK.
//!
//! Entries live in memory for the life of one instance; every write is also
//! copied to the pack's private kv so that separate CLI invocations (each a
//! fresh instance) see the same data.

use std::cell::RefCell;
use std::collections::BTreeMap;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Args, Error, Output, StatePack, kv, log};

#[derive(Default)]
struct Memory {
    loaded: RefCell<Option<BTreeMap<String, Entry>>>,
}

const PREFIX: &str = "entry/";

fn encode(e: &Entry) -> Vec<u8> {
    let mut out = e.generation.to_le_bytes().to_vec();
    out.extend_from_slice(&e.value);
    out
}

fn decode(bytes: &[u8]) -> Result<Entry, Error> {
    if bytes.len() < 8 {
        return Err(Error::internal("a stored entry is shorter than its header"));
    }
    let mut generation = [0u8; 8];
    generation.copy_from_slice(&bytes[..8]);
    Ok(Entry {
        generation: u64::from_le_bytes(generation),
        value: bytes[8..].to_vec(),
    })
}

impl Memory {
    fn with<R>(&self, f: impl FnOnce(&mut BTreeMap<String, Entry>) -> Result<R, Error>) -> Result<R, Error> {
        let mut slot = self.loaded.borrow_mut();
        if slot.is_none() {
            let mut map = BTreeMap::new();
            for key in kv::list_keys(PREFIX)? {
                if let Some(bytes) = kv::get(&key)? {
                    map.insert(key[PREFIX.len()..].to_string(), decode(&bytes)?);
                }
            }
            *slot = Some(map);
        }
        match slot.as_mut() {
            Some(map) => f(map),
            None => Err(Error::internal("state not loaded")),
        }
    }
}

impl StatePack for Memory {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        self.with(|m| Ok(m.get(&key).cloned()))
    }

    fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        self.with(|m| {
            let current = m.get(&key).map(|e| e.generation);
            check_expect(&key, current, expect.as_ref())?;
            let entry = Entry { value, generation: current.unwrap_or(0) + 1 };
            kv::set(&format!("{PREFIX}{key}"), &encode(&entry))?;
            log::debug("stored", &[("key", &key)]);
            let generation = entry.generation;
            m.insert(key, entry);
            Ok(generation)
        })
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        self.with(|m| {
            check_expect(&key, m.get(&key).map(|e| e.generation), expect.as_ref())?;
            kv::delete(&format!("{PREFIX}{key}"))?;
            Ok(m.remove(&key).is_some())
        })
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        self.with(|m| Ok(m.keys().filter(|k| k.starts_with(&prefix)).cloned().collect()))
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        match name {
            "memory stats" => {
                let prefix = args.get("prefix").unwrap_or("").to_string();
                let n = self.list(prefix.clone())?.len();
                Ok(Output::text(format!("{n} keys under {prefix:?}"))
                    .with_json(format!("{{\"keys\":{n}}}")))
            }
            other => Err(Error::invalid_input(format!("unknown command {other:?}"))),
        }
    }
}

envpack_sdk::export_state!(Memory);
