//! `envpack secrets recipients`: whom an environment's sealed secrets are
//! encrypted for (`greentic.secrets.sealed`), and this home's identity.
//!
//! Recipients are age x25519 public keys kept as the sealed pack's
//! `recipients` configuration (public, so they may live in a shared
//! backend). Each home has its own identity, `config/age-identity.txt`
//! under the home, created on demand and never written anywhere else; the
//! host serves it to the secrets pack only (see `services::NoSelfSecrets`).
//!
//! A change of recipients re-seals every secret: the host reads each value
//! through the pack (opened with this home's identity), changes the
//! recipients, and writes each value again, so it is encrypted for exactly
//! the new set. A removed recipient's identity then opens none of them.
//! Reading first means a home that cannot open the secrets changes nothing.

use std::str::FromStr;

use age::secrecy::ExposeSecret;
use envpack_descriptor::Slot;
use serde::Serialize;

use super::audit::{AuditLog, Change, audited};
use super::model::EnvName;
use super::{EnvRecords, Session};
use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::Runtime;

/// The sealed pack's id.
pub const SEALED_ID: &str = "greentic.secrets.sealed";

/// Its configuration key holding the recipients.
const KEY: &str = "recipients";

/// One recipient of an environment.
#[derive(Clone, Debug, Serialize)]
pub struct RecipientView {
    /// The public key, `age1...`.
    pub recipient: String,
    /// Whether it is this home's identity.
    pub this_home: bool,
}

/// What `recipients add` or `rm` did.
#[derive(Clone, Debug, Serialize)]
pub struct RecipientsChange {
    /// The recipients now.
    pub recipients: Vec<RecipientView>,
    /// The secrets re-encrypted for them.
    pub resealed: Vec<String>,
    /// This home's identity file, when this command created it.
    pub identity_created: Option<String>,
}

/// This home's public key, if it has an identity.
pub fn home_recipient(home: &Home) -> Result<Option<String>> {
    let path = home.identity_file();
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read", &path, e)),
    };
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("AGE-SECRET-KEY-"))
        .unwrap_or_default();
    let id = age::x25519::Identity::from_str(line).map_err(|e| {
        Error::invalid(format!(
            "{} does not hold an age identity: {e}",
            path.display()
        ))
        .hint(format!(
            "move it away and run: envpack secrets recipients add --env <ENV> --mine (creates a new identity at {})",
            path.display()
        ))
    })?;
    Ok(Some(id.to_public().to_string()))
}

/// This home's public key, creating its identity (owner-only) first when
/// it has none. Returns the key and whether it was created.
pub fn ensure_identity(home: &Home) -> Result<(String, bool)> {
    if let Some(key) = home_recipient(home)? {
        return Ok((key, false));
    }
    let id = age::x25519::Identity::generate();
    let public = id.to_public().to_string();
    let text = format!(
        "# envpack home identity (age x25519); opens sealed secrets. Keep it private.\n# created: {}\n# public key: {public}\n{}\n",
        crate::store::now_rfc3339(),
        id.to_string().expose_secret()
    );
    let path = home.identity_file();
    let dir = path.parent().unwrap_or(home.root());
    crate::fsutil::create_dir_all(dir)?;
    crate::fsutil::restrict(dir)?;
    crate::fsutil::write_atomic(&path, text.as_bytes())?;
    Ok((public, true))
}

/// Checks `key` is an age x25519 public key, returned normalised.
fn parse_recipient(key: &str) -> Result<String> {
    age::x25519::Recipient::from_str(key.trim())
        .map(|r| r.to_string())
        .map_err(|e| {
            Error::invalid(format!(
                "{key:?} is not an age x25519 public key (age1...): {e}"
            ))
            .hint("the other operator runs: envpack secrets recipients list --env <ENV> (their key is marked this-home)")
        })
}

/// The environment's recipients, after checking its secrets slot is the
/// sealed pack.
fn current(home: &Home, name: &EnvName) -> Result<Vec<String>> {
    let (meta, lock) = EnvRecords::new(home, name).load()?;
    let bound = lock.slots.get(&Slot::Secrets).map(|b| &b.descriptor);
    if bound.is_none_or(|d| d.id().to_string() != SEALED_ID) {
        return Err(Error::invalid(format!(
            "environment {name}'s secrets slot is bound to {}, not {SEALED_ID}: recipients are the sealed store's",
            bound.map_or("nothing".to_string(), ToString::to_string)
        ))
        .hint(format!(
            "envpack env bind {name} secrets {} --grant-requested",
            super::dev_secrets::SEALED
        )));
    }
    let text = meta
        .config
        .get(SEALED_ID)
        .and_then(|c| c.get(KEY))
        .cloned()
        .unwrap_or_default();
    Ok(text
        .split(|c: char| c == ',' || c.is_whitespace())
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect())
}

fn views(home: &Home, list: &[String]) -> Result<Vec<RecipientView>> {
    let mine = home_recipient(home)?;
    Ok(list
        .iter()
        .map(|r| RecipientView {
            recipient: r.clone(),
            this_home: mine.as_deref() == Some(r.as_str()),
        })
        .collect())
}

/// `secrets recipients list`.
pub fn list(home: &Home, name: &EnvName) -> Result<Vec<RecipientView>> {
    views(home, &current(home, name)?)
}

/// `secrets recipients add`: `recipient`, or this home's own key (created
/// if needed) when `None`.
pub fn add(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    recipient: Option<&str>,
) -> Result<RecipientsChange> {
    let before = current(home, name)?;
    let (key, created) = match recipient {
        Some(r) => (parse_recipient(r)?, false),
        None => ensure_identity(home)?,
    };
    let identity_created = created.then(|| home.identity_file().display().to_string());
    if before.contains(&key) {
        return Ok(RecipientsChange {
            recipients: views(home, &before)?,
            resealed: Vec::new(),
            identity_created,
        });
    }
    let mut after = before.clone();
    after.push(key);
    let mut change = reseal(
        home,
        runtime,
        name,
        "secrets.recipients.add",
        &before,
        &after,
    )?;
    change.identity_created = identity_created;
    Ok(change)
}

/// `secrets recipients rm`.
pub fn rm(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    recipient: &str,
) -> Result<RecipientsChange> {
    let before = current(home, name)?;
    let key = recipient.trim().to_string();
    if !before.contains(&key) {
        return Err(
            Error::not_found(format!("{key:?} is not a recipient of environment {name}"))
                .hint(format!("envpack secrets recipients list --env {name}")),
        );
    }
    let after: Vec<String> = before.iter().filter(|r| **r != key).cloned().collect();
    if after.is_empty() {
        return Err(Error::invalid(format!(
            "{key:?} is the last recipient of environment {name}: without one, no secret could be opened"
        ))
        .hint(format!(
            "add the new one first: envpack secrets recipients add --env {name} <AGE1...>"
        )));
    }
    reseal(
        home,
        runtime,
        name,
        "secrets.recipients.rm",
        &before,
        &after,
    )
}

/// Reads every secret, sets the recipients to `after`, writes every secret
/// again; audited as one change.
fn reseal(
    home: &Home,
    runtime: &Runtime,
    name: &EnvName,
    verb: &'static str,
    before: &[String],
    after: &[String],
) -> Result<RecipientsChange> {
    let values: Vec<(String, String)> = Session::scoped(home, runtime, name, |s| {
        let names = s.with_secrets(false, |i| i.secrets()?.list())?;
        names
            .into_iter()
            .map(|n| {
                let v = s
                    .with_secrets(false, |i| i.secrets()?.get(&n))?
                    .ok_or_else(|| {
                        Error::conflict(format!("secret {n:?} vanished while resealing"))
                    })?;
                Ok((n, v))
            })
            .collect()
    })?;
    let resealed: Vec<String> = values.iter().map(|(n, _)| n.clone()).collect();
    let change = Change {
        verb,
        target: name.to_string(),
        before: serde_json::json!({ "recipients": before }),
        after: serde_json::json!({ "recipients": after, "resealed": resealed }),
    };
    let records = EnvRecords::new(home, name);
    let id: envpack_descriptor::PackId = SEALED_ID.parse()?;
    audited(AuditLog::Env(&records), change, || {
        super::config_set(home, name, &id, KEY, Some(&after.join(",")))?;
        Session::scoped(home, runtime, name, |s| {
            for (n, v) in &values {
                s.with_secrets(true, |i| i.secrets()?.put(n, v))?;
            }
            Ok(())
        })
    })?;
    Ok(RecipientsChange {
        recipients: views(home, after)?,
        resealed,
        identity_created: None,
    })
}
