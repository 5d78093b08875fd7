//! `acme.state.memory`: a state pack written by a "third party" using only the
//! public envpack SDK.
//!
//! Entries live in the pack's private kv (an 8-byte generation, then the
//! value), read on every call so that separate CLI invocations (each a
//! fresh instance) see each other's writes. Its limits are kv's: values up
//! to 1 MiB less the 8-byte header, keys up to 506 bytes, so `envpack pack
//! test` reports `large-values` failing (a known limit of this example).

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Args, Error, Output, StatePack, kv, log};

#[derive(Default)]
struct Memory;

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

/// The entry under `key`, read from kv on every call: another instance
/// (another `envpack` command) may have written it since, and a cached
/// copy would let a stale compare-and-swap win (a lost update).
fn load(key: &str) -> Result<Option<Entry>, Error> {
    kv::get(&format!("{PREFIX}{key}"))?.map(|b| decode(&b)).transpose()
}

impl StatePack for Memory {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        load(&key)
    }

    fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        let current = load(&key)?.map(|e| e.generation);
        check_expect(&key, current, expect.as_ref())?;
        let entry = Entry { value, generation: current.unwrap_or(0) + 1 };
        kv::set(&format!("{PREFIX}{key}"), &encode(&entry))?;
        log::debug("stored", &[("key", &key)]);
        Ok(entry.generation)
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        check_expect(&key, load(&key)?.map(|e| e.generation), expect.as_ref())?;
        kv::delete(&format!("{PREFIX}{key}"))
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        // kv lists sorted.
        Ok(kv::list_keys(&format!("{PREFIX}{prefix}"))?
            .into_iter()
            .map(|k| k[PREFIX.len()..].to_string())
            .collect())
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
