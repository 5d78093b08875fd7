//! The `state` slot: the environment's key/value state.

use crate::error::Result;
use crate::runtime::instance::Calls;
use crate::runtime::wit::StateGuest;

/// A value in a state pack.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateEntry {
    /// The bytes.
    pub value: Vec<u8>,
    /// The generation; 1 after the first write.
    pub generation: u64,
}

/// A compare-and-swap condition for state writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Expect {
    /// The key must not exist.
    Absent,
    /// The key must be at this generation.
    Generation(u64),
}

/// Calls a state pack.
pub struct StateClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn StateGuest,
}

impl<'a> StateClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn StateGuest) -> Self {
        Self { calls, guest }
    }

    /// `state.get`.
    pub fn get(&mut self, key: &str) -> Result<Option<StateEntry>> {
        let out = self.calls.call("state.get", |s| self.guest.get(s, key))?;
        self.calls
            .check_output("state.get", out.as_ref().map_or(0, |e| e.value.len()))?;
        Ok(out)
    }

    /// `state.put`; returns the new generation.
    pub fn put(&mut self, key: &str, value: &[u8], expect: Option<Expect>) -> Result<u64> {
        self.calls
            .call("state.put", |s| self.guest.put(s, key, value, expect))
    }

    /// `state.delete`; `true` when the key existed.
    pub fn delete(&mut self, key: &str, expect: Option<Expect>) -> Result<bool> {
        self.calls
            .call("state.delete", |s| self.guest.delete(s, key, expect))
    }

    /// `state.list`.
    pub fn list(&mut self, prefix: &str) -> Result<Vec<String>> {
        self.calls
            .call("state.list", |s| self.guest.list(s, prefix))
    }
}
