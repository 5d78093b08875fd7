//! The backend of a home whose backend cannot be opened: every call fails
//! with the reason (the PostgreSQL server is unreachable, its schema is
//! older or newer than this build's), so a library caller sees the real
//! error rather than an empty home. The CLI checks first and stops there.

use std::path::PathBuf;

use super::{
    Backend, BlobKey, ChangeToken, Etag, Journal, Lease, LockScope, Precondition, RecordKey, Stored,
};
use crate::error::{Error, Result};
use crate::types::EnvName;

/// Fails every call with its error.
#[derive(Debug)]
pub struct Unavailable(pub Error);

impl Unavailable {
    fn fail<T>(&self) -> Result<T> {
        Err(self.0.clone())
    }
}

impl Backend for Unavailable {
    fn describe(&self) -> String {
        format!("unavailable backend ({})", self.0.message())
    }
    fn environments(&self) -> Result<Vec<EnvName>> {
        self.fail()
    }
    fn exists(&self, _: &EnvName) -> bool {
        false
    }
    fn create(&self, _: &EnvName) -> Result<()> {
        self.fail()
    }
    fn remove(&self, _: &EnvName) -> Result<()> {
        self.fail()
    }
    fn read(&self, _: &EnvName, _: &RecordKey) -> Result<Option<Stored>> {
        self.fail()
    }
    fn read_backup(&self, _: &EnvName, _: &RecordKey) -> Result<Option<Vec<u8>>> {
        self.fail()
    }
    fn write(&self, _: &EnvName, _: &RecordKey, _: &[u8], _: Precondition) -> Result<Etag> {
        self.fail()
    }
    fn deployments(&self, _: &EnvName) -> Result<Vec<String>> {
        self.fail()
    }
    fn append(&self, _: &EnvName, _: Journal, _: &[u8]) -> Result<()> {
        self.fail()
    }
    fn lines(&self, _: &EnvName, _: Journal) -> Result<Vec<Vec<u8>>> {
        self.fail()
    }
    fn append_home_audit(&self, _: &[u8]) -> Result<()> {
        self.fail()
    }
    fn home_audit_lines(&self) -> Result<Vec<Vec<u8>>> {
        self.fail()
    }
    fn put_blob(&self, _: &EnvName, _: &BlobKey, _: &[u8]) -> Result<()> {
        self.fail()
    }
    fn blob(&self, _: &EnvName, _: &BlobKey) -> Result<Option<Vec<u8>>> {
        self.fail()
    }
    fn blobs(&self, _: &EnvName) -> Result<Vec<BlobKey>> {
        self.fail()
    }
    fn lock(&self, _: &EnvName, _: LockScope) -> Result<Lease> {
        self.fail()
    }
    fn change_token(&self, _: &EnvName) -> Result<ChangeToken> {
        self.fail()
    }
    fn local_dir(&self, env: &EnvName) -> PathBuf {
        // Nothing is written there: every write fails first.
        std::env::temp_dir()
            .join("envpack-unavailable")
            .join(env.as_str())
    }
}
