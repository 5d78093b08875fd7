//! `greentic.secrets.sealed`: secrets sealed at rest with age.
//!
//! Each secret is one value in the pack's kv, `sealed/<name>`: the age
//! format (ASCII armor), encrypted to every recipient of the environment
//! (config `recipients`: x25519 public keys, `age1...`, separated by commas
//! or whitespace). The kv follows the environment's backend, so a team's
//! shared PostgreSQL holds only ciphertext.
//!
//! `put` needs only the recipients (public keys). `get` decrypts with this
//! home's identity, which the host serves as secret `ENVPACK_IDENTITY` from
//! a local file (never from the backend); a home whose identity is not a
//! recipient cannot read. Rotation (`envpack secrets recipients add|rm`) is
//! the host reading every secret and writing it again after the recipients
//! changed, so each value is re-encrypted for exactly the new set.

use std::str::FromStr;

use age::x25519;
use envpack_sdk::{Error, SecretsPack, config, kv, secret};

const PREFIX: &str = "sealed/";

/// The secret the host serves this home's identity under.
const IDENTITY: &str = "ENVPACK_IDENTITY";

#[derive(Default)]
struct Sealed;

fn check_name(name: &str) -> Result<(), Error> {
    if name.is_empty()
        || name.len() > 128
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        return Err(Error::invalid_input(format!(
            "secret name {name:?} must be 1 to 128 characters of letters, digits, '_', '.', '-'"
        )));
    }
    Ok(())
}

/// The environment's recipients, parsed.
fn recipients() -> Result<Vec<x25519::Recipient>, Error> {
    let text = config::get("recipients")?.unwrap_or_default();
    let list: Vec<x25519::Recipient> = text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(|s| {
            x25519::Recipient::from_str(s).map_err(|e| {
                Error::invalid_input(format!(
                    "recipient {s:?} is not an age x25519 public key (age1...): {e}"
                ))
            })
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err(Error::invalid_input(
            "this environment has no recipients to seal secrets for; help: envpack secrets recipients add --env <env> --mine",
        ));
    }
    Ok(list)
}

/// This home's identity, from the host.
fn identity() -> Result<x25519::Identity, Error> {
    let text = secret::get(IDENTITY)?.ok_or_else(|| {
        Error::denied(
            "this home has no age identity to open sealed secrets with; help: envpack secrets recipients add --env <env> --mine (creates one and adds it)",
        )
    })?;
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap_or_default();
    x25519::Identity::from_str(line)
        .map_err(|e| Error::internal(format!("this home's age identity does not parse: {e}")))
}

fn seal(value: &str) -> Result<String, Error> {
    let recipients = recipients()?;
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| Error::internal(format!("cannot encrypt: {e}")))?;
    let mut out = Vec::with_capacity(value.len() + 512);
    let write = || -> std::io::Result<()> {
        use std::io::Write;
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)?;
        let mut w = encryptor
            .wrap_output(armor)
            .map_err(std::io::Error::other)?;
        w.write_all(value.as_bytes())?;
        w.finish()?.finish()?;
        Ok(())
    };
    write().map_err(|e| Error::internal(format!("cannot encrypt: {e}")))?;
    String::from_utf8(out).map_err(|_| Error::internal("age armor is not text"))
}

fn open(name: &str, sealed: &[u8]) -> Result<String, Error> {
    let id = identity()?;
    let plain = age::decrypt(&id, sealed).map_err(|e| match e {
        age::DecryptError::NoMatchingKeys => Error::denied(format!(
            "secret {name:?} is not sealed for this home's identity ({}): it is not one of the recipients it was written for; help: ask an operator who is to run: envpack secrets recipients add --env <env> {}",
            id.to_public(),
            id.to_public()
        )),
        other => Error::internal(format!("cannot open secret {name:?}: {other}")),
    })?;
    String::from_utf8(plain).map_err(|_| Error::internal(format!("secret {name:?} is not text")))
}

impl SecretsPack for Sealed {
    fn get(&self, name: String) -> Result<Option<String>, Error> {
        check_name(&name)?;
        match kv::get(&format!("{PREFIX}{name}"))? {
            None => Ok(None),
            Some(sealed) => open(&name, &sealed).map(Some),
        }
    }

    fn put(&self, name: String, value: String) -> Result<(), Error> {
        check_name(&name)?;
        let sealed = seal(&value)?;
        kv::set(&format!("{PREFIX}{name}"), sealed.as_bytes())
    }

    fn delete(&self, name: String) -> Result<bool, Error> {
        check_name(&name)?;
        kv::delete(&format!("{PREFIX}{name}"))
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        let mut names: Vec<String> = kv::list_keys(PREFIX)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(PREFIX).map(str::to_string))
            .collect();
        names.sort();
        Ok(names)
    }
}

envpack_sdk::export_secrets!(Sealed);
