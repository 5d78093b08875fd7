//! The `secrets` slot: the environment's secret store.

use crate::error::Result;
use crate::runtime::instance::Calls;
use crate::runtime::wit::SecretsGuest;

/// Calls a secrets pack.
pub struct SecretsClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn SecretsGuest,
}

impl<'a> SecretsClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn SecretsGuest) -> Self {
        Self { calls, guest }
    }

    /// `secrets.get`.
    pub fn get(&mut self, name: &str) -> Result<Option<String>> {
        self.calls.call("secrets.get", |s| self.guest.get(s, name))
    }

    /// `secrets.put`.
    pub fn put(&mut self, name: &str, value: &str) -> Result<()> {
        self.calls
            .call("secrets.put", |s| self.guest.put(s, name, value))
    }

    /// `secrets.delete`; `true` when the secret existed.
    pub fn delete(&mut self, name: &str) -> Result<bool> {
        self.calls
            .call("secrets.delete", |s| self.guest.delete(s, name))
    }

    /// `secrets.list`: names only.
    pub fn list(&mut self) -> Result<Vec<String>> {
        self.calls.call("secrets.list", |s| self.guest.list(s))
    }
}
