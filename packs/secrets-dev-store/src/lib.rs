//! `greentic.secrets.dev-store`: secrets for development environments.
//!
//! All secrets live in `/scratch/secrets.txt` inside the pack's scratch
//! directory, which the host creates owner-only (mode 0700) under the
//! environment's directory. One secret per line: `NAME=<hex of the value>`,
//! so values may hold any bytes. Writes replace the file atomically.
//! This is for development: values are not encrypted at rest.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;

use envpack_sdk::{Error, SecretsPack};

const FILE: &str = "/scratch/secrets.txt";

#[derive(Default)]
struct DevStore;

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > 128
        || !name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Error::invalid_input(format!(
            "secret name {name:?} must be 1 to 128 characters of letters, digits, '_', '.', '-'"
        )));
    }
    Ok(())
}

fn load() -> Result<BTreeMap<String, String>, Error> {
    let text = match fs::read_to_string(FILE) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeMap::new()),
        Err(e) => return Err(Error::internal(format!("cannot read the secrets file: {e}"))),
    };
    let mut out = BTreeMap::new();
    for (n, line) in text.lines().enumerate() {
        let Some((name, hex)) = line.split_once('=') else {
            return Err(Error::internal(format!("the secrets file is corrupt at line {}", n + 1)));
        };
        let bytes: Option<Vec<u8>> = (0..hex.len())
            .step_by(2)
            .map(|i| hex.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
            .collect();
        let value = bytes
            .and_then(|b| String::from_utf8(b).ok())
            .ok_or_else(|| Error::internal(format!("the secrets file is corrupt at line {}", n + 1)))?;
        out.insert(name.to_string(), value);
    }
    Ok(out)
}

fn save(map: &BTreeMap<String, String>) -> Result<(), Error> {
    let mut text = String::new();
    for (k, v) in map {
        text.push_str(k);
        text.push('=');
        for b in v.bytes() {
            text.push_str(&format!("{b:02x}"));
        }
        text.push('\n');
    }
    let tmp = format!("{FILE}.tmp");
    let write = || -> std::io::Result<()> {
        let mut f = fs::File::create(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        fs::rename(&tmp, FILE)
    };
    write().map_err(|e| Error::internal(format!("cannot write the secrets file: {e}")))
}

impl SecretsPack for DevStore {
    fn get(&self, name: String) -> Result<Option<String>, Error> {
        check_name(&name)?;
        Ok(load()?.remove(&name))
    }

    fn put(&self, name: String, value: String) -> Result<(), Error> {
        check_name(&name)?;
        let mut map = load()?;
        map.insert(name, value);
        save(&map)
    }

    fn delete(&self, name: String) -> Result<bool, Error> {
        check_name(&name)?;
        let mut map = load()?;
        let existed = map.remove(&name).is_some();
        if existed {
            save(&map)?;
        }
        Ok(existed)
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        Ok(load()?.into_keys().collect())
    }
}

envpack_sdk::export_secrets!(DevStore);
