//! `config`: non-secret per-environment settings (capability `config:<key>`).
//!
//! | manifest requests | operator granted | `get("base_url")`       |
//! |-------------------|------------------|-------------------------|
//! | `config:base_url` | `config:base_url`| the value, or `none`    |
//! | `config:base_url` | `config:*`       | the value, or `none`    |
//! | `config:base_url` | -                | `denied`                |
//! | -                 | `config:*`       | `denied`                |

use std::collections::BTreeMap;

use envpack_manifest::Capability;

use super::Granter;
use crate::runtime::{HostError, PackLabel};

/// Where a pack's configuration comes from.
pub trait ConfigSource: Send + Sync {
    /// The value of `key` for `pack`, if set.
    fn get(&self, pack: &PackLabel, key: &str) -> Result<Option<String>, HostError>;
}

/// Fixed values (an environment's `env config`, or `pack call --config`).
impl ConfigSource for BTreeMap<String, String> {
    fn get(&self, _pack: &PackLabel, key: &str) -> Result<Option<String>, HostError> {
        Ok(BTreeMap::get(self, key).cloned())
    }
}

/// No configuration: every key is unset.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoConfig;

impl ConfigSource for NoConfig {
    fn get(&self, _pack: &PackLabel, _key: &str) -> Result<Option<String>, HostError> {
        Ok(None)
    }
}

/// `config.get`, checked.
pub(crate) fn get(
    granter: &Granter,
    source: &dyn ConfigSource,
    key: &str,
) -> Result<Option<String>, HostError> {
    granter.check(&Capability::Config(key.to_string()))?;
    source.get(granter.pack(), key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::{denied, granter};

    /// The table above.
    #[test]
    fn allows() {
        let source = BTreeMap::from([("base_url".to_string(), "https://x".to_string())]);
        for (requested, granted, want) in [
            (&["config:base_url"][..], &["config:base_url"][..], true),
            (&["config:base_url"][..], &["config:*"][..], true),
            (&["config:base_url"][..], &[][..], false),
            (&[][..], &["config:*"][..], false),
        ] {
            let r = get(&granter(requested, granted), &source, "base_url");
            assert_eq!(!denied(&r), want, "{requested:?} x {granted:?}");
            if want {
                assert_eq!(r.ok().flatten().as_deref(), Some("https://x"));
            }
        }
        let other = get(
            &granter(&["config:base_url"], &["config:*"]),
            &source,
            "other",
        );
        assert!(denied(&other), "a key the manifest does not request");
    }
}
