//! `kv`: each pack's private key/value store (capability `kv`).
//!
//! | manifest requests | operator granted | any `kv` call           |
//! |-------------------|------------------|-------------------------|
//! | `kv`              | `kv`             | allowed, own keys only  |
//! | `kv`              | -                | `denied`                |
//! | -                 | `kv`             | `denied`                |
//!
//! Keys are namespaced by the backend per pack, so no pack can name another
//! pack's keys. Keys are 1 to 512 bytes without control characters; values
//! at most 1 MiB.

use envpack_manifest::Capability;

use crate::runtime::since_v0_1::host::{kv, types};
use crate::runtime::store_data::StoreData;
use crate::runtime::{PackError, PackErrorKind};

/// Longest key, in bytes.
pub const MAX_KEY: usize = 512;
/// Largest value, in bytes.
pub const MAX_VALUE: usize = 1024 * 1024;

pub(crate) fn check_key(key: &str) -> Result<(), PackError> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(PackError::new(
            PackErrorKind::InvalidInput,
            format!("kv key must be 1 to {MAX_KEY} bytes, got {}", key.len()),
        ));
    }
    if key.chars().any(char::is_control) {
        return Err(PackError::new(
            PackErrorKind::InvalidInput,
            format!("kv key {key:?} contains a control character"),
        ));
    }
    Ok(())
}

impl kv::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<Vec<u8>>, types::Error> {
        self.granter.check(&Capability::Kv)?;
        check_key(&key)?;
        Ok(self.services.kv_get(&self.pack, &key)?)
    }

    fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), types::Error> {
        self.granter.check(&Capability::Kv)?;
        check_key(&key)?;
        if value.len() > MAX_VALUE {
            return Err(PackError::new(
                PackErrorKind::InvalidInput,
                format!(
                    "kv value for {key:?} is {} bytes; the limit is {MAX_VALUE}",
                    value.len()
                ),
            )
            .into());
        }
        Ok(self.services.kv_set(&self.pack, &key, &value)?)
    }

    fn delete(&mut self, key: String) -> Result<bool, types::Error> {
        self.granter.check(&Capability::Kv)?;
        check_key(&key)?;
        Ok(self.services.kv_delete(&self.pack, &key)?)
    }

    fn list_keys(&mut self, prefix: String) -> Result<Vec<String>, types::Error> {
        self.granter.check(&Capability::Kv)?;
        Ok(self.services.kv_list(&self.pack, &prefix)?)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_rules() {
        assert!(super::check_key("a/b c").is_ok());
        assert!(super::check_key("").is_err());
        assert!(super::check_key("a\nb").is_err());
        assert!(super::check_key(&"x".repeat(513)).is_err());
    }
}
