//! The storage seam: everything the host persists about environments, behind
//! one small trait, as Terraform's state backends.
//!
//! What an environment keeps:
//! - **records**, one document each ([`RecordKey`]): the metadata (policy,
//!   ladder rung, config), the lock (bindings, digests, grants), and one
//!   record per deployment (revisions, traffic generation, split, history).
//!   Writes are durable, keep the previous version as a backup (a damaged
//!   document never replaces a good backup), and are compare-and-swap on an
//!   [`Etag`] (the sha256 of the stored bytes), which maps onto
//!   `UPDATE ... WHERE etag = $1` in SQL;
//! - **journals**, append-only lines ([`Journal`]): audit and history;
//! - **blobs** ([`BlobKey`]): stored release bundles and promotion reports;
//! - **leases** ([`LockScope`]): exclusive locks held for a verb, released
//!   on drop (an expiring row lease in SQL);
//! - a **change token** that readers (the ingress) compare to notice any
//!   change, written by every record write.
//!
//! Machine-local working files (revision payloads, pack scratch
//! directories, the ingress key) are not shared state: [`Backend::local_dir`]
//! says where they go on this machine.
//!
//! [`fs::FsBackend`] is the embedded default, byte-compatible with homes
//! written before the seam existed. Nothing outside this module touches the
//! files of `envs/`.

pub mod copy;
pub mod fs;
pub mod postgres;
pub mod settings;
mod unavailable;

use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use envpack_manifest::Digest;

use crate::error::Result;
use crate::types::EnvName;

/// A document of an environment.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum RecordKey {
    /// Policy, ladder rung, per-pack config (`env.json`).
    Meta,
    /// Bindings, digests and grants (`lock.json`).
    Lock,
    /// One deployment (`deployments/<name>.json`).
    Deployment(String),
}

impl fmt::Display for RecordKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RecordKey::Meta => f.write_str("env.json"),
            RecordKey::Lock => f.write_str("lock.json"),
            RecordKey::Deployment(n) => write!(f, "deployments/{n}.json"),
        }
    }
}

/// The version of a stored record: the sha256 of its bytes.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Etag(String);

impl Etag {
    /// The etag of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Self(Digest::of(bytes).hex().to_string())
    }
}

impl fmt::Display for Etag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A stored record.
#[derive(Clone, Debug)]
pub struct Stored {
    /// Its bytes.
    pub bytes: Vec<u8>,
    /// Its version.
    pub etag: Etag,
}

/// The condition a write needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// Write whatever is there.
    Any,
    /// The record must not exist.
    Absent,
    /// The record must be at this version.
    Matches(Etag),
}

/// An append-only journal of an environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Journal {
    /// Who changed what, before each change (`audit.jsonl`).
    Audit,
    /// What the environment ran (`history.jsonl`).
    History,
    /// When each snapshot was observed (`snapshots.jsonl`).
    Snapshots,
    /// Drift entries accepted, and why (`drift-accepted.jsonl`).
    DriftAccepted,
}

/// An immutable blob an environment keeps.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum BlobKey {
    /// A deployed release bundle's bytes, by id (`bundles/<hex>.tgz`).
    Bundle(Digest),
    /// A deployed bundle's detached signature, by bundle id
    /// (`bundles/<hex>.sig`).
    BundleSignature(Digest),
    /// A promotion report (`promotions/<name>.json`).
    Promotion(String),
    /// An observed snapshot, by its content address
    /// (`snapshots/<hex>.json`).
    Snapshot(Digest),
    /// An artifact the host kept before a destructive step (such as a
    /// Kinetic layer exported before it was cleared), by its content
    /// address (`artifacts/<hex>`).
    Artifact(Digest),
}

/// What a lease serialises.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LockScope {
    /// Writers of the metadata and lock.
    Env,
    /// Deployment verbs.
    Deployments,
    /// Writes to the environment's state pack (compare-and-swap).
    State,
    /// Writes to the environment's secrets pack.
    Secrets,
}

/// A held lock, released on drop.
pub struct Lease(#[allow(dead_code)] Box<dyn Send>);

impl Lease {
    /// A lease held as long as `guard` lives.
    pub fn new(guard: impl Send + 'static) -> Self {
        Self(Box::new(guard))
    }
}

impl fmt::Debug for Lease {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Lease")
    }
}

/// Readers compare tokens to notice changes; equal tokens mean nothing was
/// written in between.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ChangeToken(pub String);

/// Where environments are persisted.
pub trait Backend: Send + Sync + fmt::Debug {
    /// For messages, e.g. `fs:/home/me/.local/share/envpack/envs`.
    fn describe(&self) -> String;

    /// Every environment, sorted.
    fn environments(&self) -> Result<Vec<EnvName>>;
    /// Whether `env` exists.
    fn exists(&self, env: &EnvName) -> bool;
    /// Creates `env` (owner-only); a no-op when it exists.
    fn create(&self, env: &EnvName) -> Result<()>;
    /// Deletes `env` and everything it holds, atomically as seen by readers.
    fn remove(&self, env: &EnvName) -> Result<()>;

    /// A record, if stored.
    fn read(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Stored>>;
    /// The previous version of a record, kept by every write.
    fn read_backup(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Vec<u8>>>;
    /// Writes a record durably if `condition` holds, keeping the previous
    /// version as the backup, and changes the change token. Fails with
    /// `conflict` when the condition does not hold.
    fn write(
        &self,
        env: &EnvName,
        key: &RecordKey,
        bytes: &[u8],
        condition: Precondition,
    ) -> Result<Etag>;
    /// Names of the deployments with a record, sorted.
    fn deployments(&self, env: &EnvName) -> Result<Vec<String>>;

    /// Appends one line durably; failing this fails the verb.
    fn append(&self, env: &EnvName, journal: Journal, line: &[u8]) -> Result<()>;
    /// Every line, oldest first (a torn last line is left out).
    fn lines(&self, env: &EnvName, journal: Journal) -> Result<Vec<Vec<u8>>>;
    /// Appends one line durably to the home's own audit log: changes that
    /// outlive or precede an environment (`env init`, `env rm`, `pack
    /// install`, `pack remove`).
    fn append_home_audit(&self, line: &[u8]) -> Result<()>;
    /// The home's audit log, oldest first.
    fn home_audit_lines(&self) -> Result<Vec<Vec<u8>>>;

    /// Stores a blob (a no-op when present).
    fn put_blob(&self, env: &EnvName, key: &BlobKey, bytes: &[u8]) -> Result<()>;
    /// A blob, if stored.
    fn blob(&self, env: &EnvName, key: &BlobKey) -> Result<Option<Vec<u8>>>;
    /// Every blob `env` keeps (for `backend copy`).
    fn blobs(&self, env: &EnvName) -> Result<Vec<BlobKey>>;

    /// Takes a lease, waiting until it is free.
    fn lock(&self, env: &EnvName, scope: LockScope) -> Result<Lease>;

    /// The current change token of `env`.
    fn change_token(&self, env: &EnvName) -> Result<ChangeToken>;

    /// Waits until the change token of any of `since`'s environments is no
    /// longer the one given, or `timeout` passed; returns whether one
    /// changed (`status --watch` over several environments). This default
    /// checks every 100 ms; PostgreSQL waits for a notification.
    fn wait_changes(&self, since: &[(EnvName, ChangeToken)], timeout: Duration) -> Result<bool> {
        let until = Instant::now() + timeout;
        loop {
            for (env, token) in since {
                if &self.change_token(env)? != token {
                    return Ok(true);
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            std::thread::sleep(Duration::from_millis(100).min(left));
        }
    }

    /// Waits until the change token of `env` is no longer `since`, or
    /// `timeout` passed; returns the token then. Followers (the ingress)
    /// call this instead of comparing tokens on every request. This
    /// default checks every 100 ms; a backend that can be told of changes
    /// (PostgreSQL's `LISTEN`) overrides it.
    fn wait_change(
        &self,
        env: &EnvName,
        since: &ChangeToken,
        timeout: Duration,
    ) -> Result<ChangeToken> {
        let until = Instant::now() + timeout;
        loop {
            let now = self.change_token(env)?;
            if &now != since || Instant::now() >= until {
                return Ok(now);
            }
            std::thread::sleep(Duration::from_millis(100).min(until - Instant::now()));
        }
    }

    /// This machine's working directory for `env` (revision payloads,
    /// scratch directories): local files, never shared.
    fn local_dir(&self, env: &EnvName) -> PathBuf;
}

/// The backend of a home, as its settings (or `ENVPACK_BACKEND`) choose:
/// the filesystem under `envs/` (the embedded default) or PostgreSQL. One
/// backend per home and process, opened once; when it cannot be opened the
/// returned backend fails every call with that error (the CLI checks
/// [`settings::check`] first, so commands fail early with it).
pub fn open(home: &crate::home::Home) -> Arc<dyn Backend> {
    settings::open_cached(home)
}
