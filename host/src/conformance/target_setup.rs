//! The deployer cases of API 0.2.0: `validate` changes nothing and returns
//! checks; `prepare` and `decommission` are idempotent. A 0.1.0 deployer
//! has none of these functions (the host answers for it), so the cases are
//! skipped for it.

use super::deployer::ENVIRONMENT;
use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::runtime::ApiVersion;
use crate::runtime::slots::deployer::StepResult;

const VALIDATE: &str = "validate changes nothing (files, observe) and returns checks, each with a name and what it observed";
const PREPARE: &str = "prepare is idempotent: a second prepare succeeds and reports every step ok";
const DECOMMISSION: &str = "decommission, once every revision is torn down, is idempotent: a second one succeeds and reports every step ok";

fn skipped(sb: &Sandbox<'_>) -> Option<String> {
    let v = sb.pack().api_version();
    (v < ApiVersion::V0_2).then(|| {
        format!("the pack is built against API {v}, which has no such function (the host answers for it)")
    })
}

/// `validate-changes-nothing`, before anything is deployed.
pub(crate) fn validate(sb: &Sandbox<'_>, observes: bool, c: &mut Cases) {
    match skipped(sb) {
        Some(why) => c.skip("validate-changes-nothing", VALIDATE, why),
        None => {
            c.check("validate-changes-nothing", VALIDATE, || {
                validate_case(sb, observes)
            });
        }
    }
}

fn validate_case(sb: &Sandbox<'_>, observes: bool) -> Verdict {
    let observe = || -> Result<String, Fail> {
        let seen = sb.instance()?.deployer()?.observe(ENVIRONMENT)?;
        Ok(serde_json::to_string(&seen).unwrap_or_default())
    };
    let before = sb.snapshot();
    let seen = if observes { Some(observe()?) } else { None };
    let checks = sb.instance()?.deployer()?.validate(ENVIRONMENT)?;
    let after = sb.snapshot();
    let changed = Sandbox::changes(&before, &after);
    ensure(changed.is_empty(), || {
        format!("validate changed {changed:?}")
    })?;
    if let Some(seen) = seen {
        let now = observe()?;
        ensure(seen == now, || {
            format!("observe before validate: {seen}; after: {now}")
        })?;
    }
    ensure(!checks.is_empty(), || "validate returned no checks".into())?;
    let blank: Vec<&str> = checks
        .iter()
        .filter(|ch| ch.name.trim().is_empty() || ch.detail.trim().is_empty())
        .map(|ch| ch.name.as_str())
        .collect();
    ensure(blank.is_empty(), || {
        format!("checks without a name or detail: {blank:?}")
    })?;
    let names: Vec<String> = checks
        .iter()
        .map(|ch| format!("{}={}", ch.name, if ch.ok { "ok" } else { "failed" }))
        .collect();
    Ok(format!("nothing changed; checks {names:?}"))
}

/// Calls `op` twice; the second must report every step ok.
fn twice(
    sb: &Sandbox<'_>,
    what: &str,
    op: impl Fn(&Sandbox<'_>) -> Result<Vec<StepResult>, Fail>,
) -> Verdict {
    let first = op(sb).map_err(|e| Fail(format!("the first {what}: {}", e.0)))?;
    let second = op(sb).map_err(|e| Fail(format!("{what} again: {}", e.0)))?;
    let failed: Vec<String> = second
        .iter()
        .filter(|s| !s.ok)
        .map(|s| format!("{}: {}", s.id, s.message))
        .collect();
    ensure(failed.is_empty(), || {
        format!("{what} again reported failed steps {failed:?}")
    })?;
    Ok(format!(
        "{what} twice: {} step(s), then {} step(s), all ok",
        first.len(),
        second.len()
    ))
}

/// `prepare-idempotent`, before the first revision (as `env up`).
pub(crate) fn prepare(sb: &Sandbox<'_>, c: &mut Cases) {
    match skipped(sb) {
        Some(why) => c.skip("prepare-idempotent", PREPARE, why),
        None => {
            c.check("prepare-idempotent", PREPARE, || {
                twice(sb, "prepare", |sb| {
                    Ok(sb.instance()?.deployer()?.prepare(ENVIRONMENT)?)
                })
            });
        }
    }
}

/// `decommission-idempotent`, after every revision is torn down (as
/// `env down`).
pub(crate) fn decommission(sb: &Sandbox<'_>, c: &mut Cases) {
    match skipped(sb) {
        Some(why) => c.skip("decommission-idempotent", DECOMMISSION, why),
        None => {
            c.check("decommission-idempotent", DECOMMISSION, || {
                twice(sb, "decommission", |sb| {
                    Ok(sb.instance()?.deployer()?.decommission(ENVIRONMENT)?)
                })
            });
        }
    }
}
