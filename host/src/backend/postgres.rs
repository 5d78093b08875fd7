//! The PostgreSQL backend: environments shared by every home pointed at one
//! database, for teams (and a CI runner beside them).
//!
//! - records are rows keyed by (environment, key) holding the bytes, the
//!   etag (sha256 of the bytes, as on the filesystem), a generation
//!   counter and the previous version as the backup; a write runs in one
//!   transaction that locks the environment's row, checks the
//!   precondition and writes, so two machines can never both win
//!   (no lost update);
//! - journals are append-only tables (a trigger refuses `UPDATE`);
//! - blobs are `bytea` rows with the sha256 of their bytes, checked on
//!   every read, so a promotion from a home on another machine reads the
//!   bundle from the database;
//! - leases are rows with an expiry ([`lease`]);
//! - the change token is a column of the environment's row, rewritten by
//!   every record write, which also sends a `NOTIFY` that
//!   [`Backend::wait_change`] waits on.
//!
//! Machine-local working files (revision payloads, process records,
//! scratch directories, the ingress key) stay under the home's `envs/` on
//! each machine, as with the filesystem backend.

mod conn;
mod lease;
pub mod schema;
mod store;
pub mod target;
#[cfg(test)]
mod tests;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use schema::Migrated;
pub use target::Target;

use super::{
    Backend, BlobKey, ChangeToken, Etag, Journal, Lease, LockScope, Precondition, RecordKey, Stored,
};
use crate::error::Result;
use crate::types::EnvName;
use conn::Conn;

/// Environments in a PostgreSQL schema.
#[derive(Clone, Debug)]
pub struct PgBackend {
    conn: Arc<Conn>,
    local_root: PathBuf,
}

impl PgBackend {
    /// Connects to `target` without checking the schema version (for
    /// `backend migrate` and `backend show`); machine-local files go under
    /// `local_root` (the home's `envs/`).
    pub fn connect_unchecked(target: Target, local_root: PathBuf) -> Result<Self> {
        Ok(Self {
            conn: Arc::new(Conn::open(target)?),
            local_root,
        })
    }

    /// Connects and checks that the schema is the one this build expects.
    pub fn connect(target: Target, local_root: PathBuf) -> Result<Self> {
        let b = Self::connect_unchecked(target, local_root)?;
        let found = b.schema_version()?;
        match schema::mismatch(found, &b.shown()) {
            Some(e) => Err(e),
            None => Ok(b),
        }
    }

    fn shown(&self) -> String {
        self.conn.shared.shown().to_string()
    }

    /// The schema's version (0 before the first migration).
    pub fn schema_version(&self) -> Result<i32> {
        let (s, shown) = (self.conn.shared.schema().to_string(), self.shown());
        self.conn
            .run(move |c| Box::pin(async move { schema::version(c, &s, &shown).await }))
    }

    /// Applies the missing migrations.
    pub fn migrate(&self) -> Result<Migrated> {
        let (s, shown) = (self.conn.shared.schema().to_string(), self.shown());
        self.conn
            .run(move |c| Box::pin(async move { schema::migrate(c, &s, &shown).await }))
    }

    /// The leases held now: (environment, scope, holder, seconds left).
    pub fn leases(&self) -> Result<Vec<(String, String, String, f64)>> {
        store::leases(&self.conn)
    }
}

impl Backend for PgBackend {
    fn describe(&self) -> String {
        self.shown()
    }

    fn environments(&self) -> Result<Vec<EnvName>> {
        store::environments(&self.conn)
    }

    fn exists(&self, env: &EnvName) -> bool {
        store::exists(&self.conn, env).unwrap_or_else(|e| {
            tracing::warn!("{e}");
            false
        })
    }

    fn create(&self, env: &EnvName) -> Result<()> {
        store::create(&self.conn, env)?;
        crate::fsutil::create_dir_all(&self.local_dir(env))?;
        crate::fsutil::restrict(&self.local_dir(env))
    }

    fn remove(&self, env: &EnvName) -> Result<()> {
        store::remove(&self.conn, env)?;
        // This machine's working files go with it.
        let dir = self.local_dir(env);
        if dir.exists() {
            crate::fsutil::make_removable(&dir);
            std::fs::remove_dir_all(&dir)
                .map_err(|e| crate::error::Error::io("remove", &dir, e))?;
        }
        Ok(())
    }

    fn read(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Stored>> {
        Ok(
            store::read(&self.conn, env, key, "bytes")?.map(|bytes| Stored {
                etag: Etag::of(&bytes),
                bytes,
            }),
        )
    }

    fn read_backup(&self, env: &EnvName, key: &RecordKey) -> Result<Option<Vec<u8>>> {
        store::read(&self.conn, env, key, "backup")
    }

    fn write(
        &self,
        env: &EnvName,
        key: &RecordKey,
        bytes: &[u8],
        condition: Precondition,
    ) -> Result<Etag> {
        store::write(&self.conn, env, key, bytes, condition)
    }

    fn deployments(&self, env: &EnvName) -> Result<Vec<String>> {
        store::deployments(&self.conn, env)
    }

    fn append(&self, env: &EnvName, journal: Journal, line: &[u8]) -> Result<()> {
        store::append(&self.conn, Some(env), journal_name(journal), line)
    }

    fn lines(&self, env: &EnvName, journal: Journal) -> Result<Vec<Vec<u8>>> {
        store::lines(&self.conn, Some(env), journal_name(journal))
    }

    fn append_home_audit(&self, line: &[u8]) -> Result<()> {
        store::append(&self.conn, None, "home-audit", line)
    }

    fn home_audit_lines(&self) -> Result<Vec<Vec<u8>>> {
        store::lines(&self.conn, None, "home-audit")
    }

    fn put_blob(&self, env: &EnvName, key: &BlobKey, bytes: &[u8]) -> Result<()> {
        store::put_blob(&self.conn, env, key, bytes)
    }

    fn blob(&self, env: &EnvName, key: &BlobKey) -> Result<Option<Vec<u8>>> {
        store::blob(&self.conn, env, key)
    }

    fn blobs(&self, env: &EnvName) -> Result<Vec<BlobKey>> {
        store::blobs(&self.conn, env)
    }

    fn lock(&self, env: &EnvName, scope: LockScope) -> Result<Lease> {
        lease::acquire(&self.conn, env, scope)
    }

    fn change_token(&self, env: &EnvName) -> Result<ChangeToken> {
        store::token(&self.conn, env).map(ChangeToken)
    }

    fn wait_change(
        &self,
        env: &EnvName,
        since: &ChangeToken,
        timeout: Duration,
    ) -> Result<ChangeToken> {
        self.wait_changes(&[(env.clone(), since.clone())], timeout)?;
        self.change_token(env)
    }

    fn wait_changes(&self, since: &[(EnvName, ChangeToken)], timeout: Duration) -> Result<bool> {
        // Woken by the NOTIFY of any write to this schema (or a lost
        // connection); the tokens themselves are always read from the
        // database, so a missed notification costs at most `timeout`.
        let until = Instant::now() + timeout;
        loop {
            let seen = self.conn.shared.signals.count();
            for (env, token) in since {
                if &self.change_token(env)? != token {
                    return Ok(true);
                }
            }
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            self.conn.shared.signals.wait(seen, left);
        }
    }

    fn local_dir(&self, env: &EnvName) -> PathBuf {
        self.local_root.join(env.as_str())
    }
}

fn journal_name(journal: Journal) -> &'static str {
    match journal {
        Journal::Audit => "audit",
        Journal::History => "history",
        Journal::Snapshots => "snapshots",
        Journal::DriftAccepted => "drift-accepted",
    }
}
