//! `secrets-access`: reading named secrets (capability `secret:<name>`).
//!
//! | manifest requests | operator granted | `get("API_KEY")`        |
//! |-------------------|------------------|-------------------------|
//! | `secret:API_KEY`  | `secret:API_KEY` | the value, or `none`    |
//! | `secret:API_KEY`  | `secret:*`       | the value, or `none`    |
//! | `secret:API_KEY`  | -                | `denied`                |
//! | `secret:*`        | `secret:API_KEY` | only `API_KEY`          |
//! | -                 | `secret:*`       | `denied`                |

use std::collections::BTreeMap;

use envpack_manifest::Capability;

use super::Granter;
use crate::runtime::{HostError, PackError, PackErrorKind, PackLabel};

/// Where secret values come from (an environment's secrets pack).
pub trait SecretSource: Send + Sync {
    /// The value of secret `name`, if it exists.
    fn get(&self, pack: &PackLabel, name: &str) -> Result<Option<String>, HostError>;
}

/// Fixed values (tests and benchmarks).
impl SecretSource for BTreeMap<String, String> {
    fn get(&self, _pack: &PackLabel, name: &str) -> Result<Option<String>, HostError> {
        Ok(BTreeMap::get(self, name).cloned())
    }
}

/// No secrets store: every read is `unavailable`.
#[derive(Clone, Copy, Debug, Default)]
pub struct NoSecrets;

impl SecretSource for NoSecrets {
    fn get(&self, _pack: &PackLabel, _name: &str) -> Result<Option<String>, HostError> {
        Err(PackError::new(
            PackErrorKind::Unavailable,
            "no secrets store is configured (secrets exist inside an environment; `envpack pack call` gives them with --secret NAME=VALUE)",
        )
        .into())
    }
}

/// The capability reading secret `name` needs.
pub fn capability(name: &str) -> Capability {
    Capability::Secret(name.to_string())
}

/// `secrets-access.get`, checked.
pub(crate) fn get(
    granter: &Granter,
    source: &dyn SecretSource,
    name: &str,
) -> Result<Option<String>, HostError> {
    granter.check(&capability(name))?;
    source.get(granter.pack(), name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::{denied, granter};

    /// The table above.
    #[test]
    fn allows() {
        let source = BTreeMap::from([
            ("API_KEY".to_string(), "k".to_string()),
            ("OTHER".to_string(), "o".to_string()),
        ]);
        for (requested, granted, name, want) in [
            (
                &["secret:API_KEY"][..],
                &["secret:API_KEY"][..],
                "API_KEY",
                true,
            ),
            (&["secret:API_KEY"][..], &["secret:*"][..], "API_KEY", true),
            (&["secret:API_KEY"][..], &[][..], "API_KEY", false),
            (&["secret:*"][..], &["secret:API_KEY"][..], "API_KEY", true),
            (&["secret:*"][..], &["secret:API_KEY"][..], "OTHER", false),
            (&[][..], &["secret:*"][..], "API_KEY", false),
        ] {
            let r = get(&granter(requested, granted), &source, name);
            assert_eq!(
                !denied(&r),
                want,
                "{requested:?} x {granted:?} reading {name}"
            );
        }
    }
}
