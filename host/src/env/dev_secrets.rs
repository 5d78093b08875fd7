//! The development secrets store is refused for production environments.
//!
//! `greentic.secrets.dev-store` keeps values unencrypted in the pack's
//! storage, which follows the environment's backend. A production
//! environment may hold it only when the operator says so explicitly
//! (`--allow-dev-secrets` on `env init` or `env policy`, kept in the policy
//! and so in the audit); otherwise each way it could get there refuses:
//! creating a production environment (whose default secrets pack it is),
//! binding it, and turning an environment bound to it into production.

use envpack_descriptor::Descriptor;

use super::model::{EnvName, Policy};
use crate::error::{Error, Kind, Result};

/// The development store's pack id.
pub const DEV_STORE: &str = "greentic.secrets.dev-store";

/// The requirement the hints bind instead.
pub const SEALED: &str = "greentic.secrets.sealed@^0.1";

/// Whether `d` is the development store.
pub fn is_dev_store(d: &Descriptor) -> bool {
    d.id().to_string() == DEV_STORE
}

fn refusal(message: String, hint: String) -> Error {
    Error::new(Kind::Denied, message).hint(hint)
}

/// Binding `descriptor` to the secrets slot of an environment with `policy`.
pub(crate) fn check_bind(name: &EnvName, policy: &Policy, descriptor: &Descriptor) -> Result<()> {
    if !is_dev_store(descriptor) || !policy.production || policy.allow_dev_secrets {
        return Ok(());
    }
    Err(refusal(
        format!(
            "environment {name:?} is production and {descriptor} keeps secrets unencrypted; production environments use sealed secrets"
        ),
        format!(
            "bind the sealed store: envpack env bind {name} secrets {SEALED} --grant-requested, or keep the dev-store knowingly (recorded in the audit): envpack env policy {name} --allow-dev-secrets"
        ),
    ))
}

/// Creating environment `name` as production with the dev-store as its
/// secrets pack (`allowed`: `--allow-dev-secrets` was given).
pub(crate) fn check_init(
    name: &EnvName,
    secrets: Option<&Descriptor>,
    allowed: bool,
) -> Result<()> {
    if allowed || !secrets.is_some_and(is_dev_store) {
        return Ok(());
    }
    Err(refusal(
        format!(
            "environment {name:?} would be production with {DEV_STORE}, which keeps secrets unencrypted, as its secrets pack"
        ),
        format!(
            "create it with sealed secrets: envpack env init {name} --production --secrets {SEALED}, or keep the dev-store knowingly (recorded in the audit): envpack env init {name} --production --allow-dev-secrets"
        ),
    ))
}

/// A policy change from `before` to `after` on an environment whose
/// secrets slot holds `secrets`: refused when it makes a dev-store
/// environment production, or withdraws the permission of one that is.
pub(crate) fn check_policy(
    name: &EnvName,
    before: &Policy,
    after: &Policy,
    secrets: Option<&Descriptor>,
) -> Result<()> {
    let was_ok = !before.production || before.allow_dev_secrets;
    let is_ok = !after.production || after.allow_dev_secrets;
    if is_ok || !was_ok || !secrets.is_some_and(is_dev_store) {
        return Ok(());
    }
    Err(refusal(
        format!(
            "environment {name:?} keeps its secrets in {DEV_STORE}, unencrypted, which a production environment may not without the operator's say-so"
        ),
        format!(
            "bind the sealed store first: envpack env bind {name} secrets {SEALED} --grant-requested, or keep the dev-store knowingly (recorded in the audit): envpack env policy {name} --production --allow-dev-secrets"
        ),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Descriptor {
        s.parse().expect("descriptor")
    }

    fn policy(production: bool, allow: bool) -> Policy {
        let mut p = Policy::default_for(production);
        p.allow_dev_secrets = allow;
        p
    }

    #[test]
    fn refuses_the_dev_store_in_production_only_without_say_so() {
        let name: EnvName = "prod".parse().expect("name");
        let dev = d("greentic.secrets.dev-store@0.1.0");
        let sealed = d("greentic.secrets.sealed@0.1.0");
        assert!(check_bind(&name, &policy(true, false), &dev).is_err());
        assert!(check_bind(&name, &policy(true, true), &dev).is_ok());
        assert!(check_bind(&name, &policy(false, false), &dev).is_ok());
        assert!(check_bind(&name, &policy(true, false), &sealed).is_ok());
        assert!(check_init(&name, Some(&dev), false).is_err());
        assert!(check_init(&name, Some(&dev), true).is_ok());
        assert!(check_init(&name, Some(&sealed), false).is_ok());
        let (dev_env, prod, prod_allowed) = (
            policy(false, false),
            policy(true, false),
            policy(true, true),
        );
        assert!(check_policy(&name, &dev_env, &prod, Some(&dev)).is_err());
        assert!(check_policy(&name, &dev_env, &prod_allowed, Some(&dev)).is_ok());
        assert!(check_policy(&name, &prod_allowed, &prod, Some(&dev)).is_err());
        assert!(check_policy(&name, &dev_env, &prod, Some(&sealed)).is_ok());
        // An environment already production with the dev-store (made before
        // this rule) may still change other parts of its policy.
        assert!(check_policy(&name, &prod, &prod, Some(&dev)).is_ok());
        let e = check_bind(&name, &prod, &dev).expect_err("refused");
        let hint = e.hint_text().unwrap_or_default();
        assert!(hint.contains("envpack env bind prod secrets greentic.secrets.sealed@^0.1"));
        assert!(hint.contains("envpack env policy prod --allow-dev-secrets"));
    }
}
