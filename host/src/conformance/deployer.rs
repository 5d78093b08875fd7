//! The `deployer` suite: `describe` is honest, `plan` is pure and
//! deterministic, `apply` applies the plan (again, too), `observe` reports
//! what `apply` made, traffic follows what `describe` claims, `teardown`
//! removes and is idempotent.
//!
//! The suite deploys a test bundle whose payload is one file, `run` (a
//! shell script that waits until stopped), with the bundle attribute
//! `run=./run`; a deployer that requests `process` gets a local process
//! table in the sandbox with that payload extracted, as the host does.
//! Each call uses a fresh instance, as each `envpack` command does.

use sha2::Digest as _;

use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::error::Kind;
use crate::runtime::PackInstance;
use crate::runtime::slots::deployer::{
    BundleFileRef, BundleRef, Plan, RevisionRef, TargetInfo, TrafficSplit, Weight,
};
use crate::types::SourceKind;

/// The environment the test revisions belong to.
pub const ENVIRONMENT: &str = "conformance";
/// Their deployment.
pub const DEPLOYMENT: &str = "web";

fn instance(sb: &Sandbox<'_>) -> Result<PackInstance, Fail> {
    Ok(sb.instance()?)
}

fn revision(id: &str, sequence: u64) -> RevisionRef {
    RevisionRef {
        environment: ENVIRONMENT.into(),
        deployment: DEPLOYMENT.into(),
        id: id.into(),
        sequence,
    }
}

/// The test bundle, with `extra` attributes (which replace its own).
pub fn bundle(extra: &[(String, String)]) -> BundleRef {
    let (name, bytes) = Sandbox::payload();
    let sha = hex::encode(sha2::Sha256::digest(bytes));
    BundleRef {
        id: format!(
            "sha256:{}",
            hex::encode(sha2::Sha256::digest(format!(
                "envpack pack test bundle {sha}"
            )))
        ),
        name: "conformance".into(),
        version: "1.0.0".into(),
        source: SourceKind::Main,
        source_ref: "main".into(),
        commit: None,
        files: vec![BundleFileRef {
            path: name.into(),
            sha256: sha,
            size: bytes.len() as u64,
        }],
        payload_dir: None,
        attributes: {
            let mut a: Vec<(String, String)> = vec![("run".into(), format!("./{name}"))];
            a.retain(|(k, _)| !extra.iter().any(|(e, _)| e == k));
            a.extend(extra.iter().cloned());
            a
        },
    }
}

fn show<T: std::fmt::Debug>(r: &crate::error::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok({v:?})"),
        Err(e) => format!("{}({:?})", e.kind().as_str(), e.message()),
    }
}

/// What the suite learned along the way.
struct Run<'s, 'p> {
    sb: &'s Sandbox<'p>,
    info: Option<TargetInfo>,
    bundle: BundleRef,
    plan: Option<Plan>,
}

impl Run<'_, '_> {
    fn observes(&self) -> bool {
        self.info.as_ref().is_some_and(|i| i.supports_observe)
    }

    fn plan(&self, rev: &RevisionRef) -> Result<Plan, Fail> {
        Ok(instance(self.sb)?.deployer()?.plan(rev, &self.bundle)?)
    }

    fn apply(
        &self,
        rev: &RevisionRef,
        plan: &Plan,
    ) -> Result<crate::runtime::slots::deployer::ApplyReport, Fail> {
        self.sb.stage_payload(&rev.id, &self.bundle.id)?;
        Ok(instance(self.sb)?
            .deployer()?
            .apply(rev, &self.bundle, plan)?)
    }

    /// The observed revisions with `id` that run.
    fn running(&self, id: &str) -> Result<Vec<crate::runtime::slots::deployer::Observed>, Fail> {
        let all = instance(self.sb)?.deployer()?.observe(ENVIRONMENT)?;
        Ok(all
            .into_iter()
            .filter(|o| o.revision == id && o.state == "running")
            .collect())
    }
}

/// Runs every case.
pub(crate) fn run(sb: &Sandbox<'_>, c: &mut Cases) {
    let mut r = Run {
        sb,
        info: None,
        bundle: bundle(sb.attributes()),
        plan: None,
    };
    c.check(
        "describe",
        "describe names a target kind and describes it",
        || {
            let info = instance(sb)?.deployer()?.describe()?;
            // What it claims is what the other cases hold it to, even
            // when its names are blank.
            r.info = Some(info.clone());
            ensure(
                !info.target.trim().is_empty() && !info.description.trim().is_empty(),
                || {
                    format!(
                        "describe returned target {:?}, description {:?}",
                        info.target, info.description
                    )
                },
            )?;
            let o = format!(
                "target {:?}, supports-traffic-split={}, supports-observe={}",
                info.target, info.supports_traffic_split, info.supports_observe
            );
            Ok(o)
        },
    );
    let r1 = revision("conformance-r1", 1);
    // Before any other plan, so a side effect cannot hide behind the same
    // one made earlier.
    c.check("plan-pure", "plan has no side effects: nothing the pack can write changes, and observe reports the same", || pure(&r, &r1));
    super::target_setup::validate(sb, r.observes(), c);
    let planned = c.check(
        "plan-deterministic",
        "plan is deterministic: the same revision and bundle twice give the same plan",
        || {
            let a = r.plan(&r1)?;
            let b = r.plan(&r1)?;
            ensure(a == b, || {
                format!(
                    "two plans differ:\n  first:  {}\n  second: {}",
                    json(&a),
                    json(&b)
                )
            })?;
            let o = format!("{} step(s), identical twice", a.steps.len());
            r.plan = Some(a);
            Ok(o)
        },
    );
    if !planned && r.plan.is_none() {
        r.plan = r.plan(&r1).ok();
    }
    c.check(
        "plan-steps",
        "plan step ids are non-empty and unique within the plan",
        || steps(&r),
    );
    super::target_setup::prepare(sb, c);
    let applied = apply_cases(&r, &r1, c);
    traffic_cases(&r, &r1, applied, c);
    teardown_cases(&r, &r1, applied, c);
    super::target_setup::decommission(sb, c);
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).unwrap_or_default()
}

fn pure(r: &Run<'_, '_>, rev: &RevisionRef) -> Verdict {
    let before = r.sb.snapshot();
    let seen = if r.observes() {
        Some(json(&instance(r.sb)?.deployer()?.observe(ENVIRONMENT)?))
    } else {
        None
    };
    r.plan(rev)?;
    let after = r.sb.snapshot();
    let changed = Sandbox::changes(&before, &after);
    ensure(changed.is_empty(), || format!("plan changed {changed:?}"))?;
    if let Some(seen) = seen {
        let now = json(&instance(r.sb)?.deployer()?.observe(ENVIRONMENT)?);
        ensure(seen == now, || {
            format!("observe before plan: {seen}; after: {now}")
        })?;
    }
    Ok("nothing changed".into())
}

fn steps(r: &Run<'_, '_>) -> Verdict {
    let plan = r
        .plan
        .as_ref()
        .ok_or_else(|| Fail("plan failed (see plan-deterministic)".into()))?;
    let mut ids: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
    ensure(ids.iter().all(|i| !i.is_empty()), || {
        format!("a step has an empty id: {ids:?}")
    })?;
    ids.sort_unstable();
    let n = ids.len();
    ids.dedup();
    ensure(ids.len() == n, || {
        format!(
            "step ids repeat: {:?}",
            plan.steps.iter().map(|s| &s.id).collect::<Vec<_>>()
        )
    })?;
    Ok(format!("{n} unique step id(s)"))
}

/// `apply-applies-plan`, `apply-again`, `health`, `observe-reports-revision`;
/// whether the first apply worked.
fn apply_cases(r: &Run<'_, '_>, r1: &RevisionRef, c: &mut Cases) -> bool {
    let apply_rule = "apply applies exactly the plan: one ok result per plan step, no others";
    let Some(plan) = r.plan.clone() else {
        c.skip(
            "apply-applies-plan",
            apply_rule,
            "needs a plan; plan failed",
        );
        return false;
    };
    let first = r.apply(r1, &plan);
    let applied = first.is_ok();
    c.check("apply-applies-plan", apply_rule, || {
        let report = first?;
        let want: Vec<&str> = plan.steps.iter().map(|s| s.id.as_str()).collect();
        let got: Vec<&str> = report.steps.iter().map(|s| s.id.as_str()).collect();
        let mut a = want.clone();
        let mut b = got.clone();
        a.sort_unstable();
        b.sort_unstable();
        ensure(a == b, || {
            format!("plan steps {want:?}, apply reported {got:?}")
        })?;
        let failed: Vec<String> = report
            .steps
            .iter()
            .filter(|s| !s.ok)
            .map(|s| format!("{}: {}", s.id, s.message))
            .collect();
        ensure(failed.is_empty(), || format!("steps failed: {failed:?}"))?;
        Ok(format!(
            "applied steps {got:?}, endpoint {:?}",
            report.endpoint
        ))
    });
    c.check(
        "apply-again",
        "apply of a revision already applied, with the same plan, succeeds (env up, rollback)",
        || {
            ensure(applied, || {
                "the first apply failed (see apply-applies-plan)".into()
            })?;
            r.apply(r1, &plan)
                .map_err(|e| Fail(format!("applying {} again: {}", r1.id, e.0)))?;
            Ok("the second apply succeeded".into())
        },
    );
    c.check(
        "health",
        "health of an applied revision answers with a report",
        || {
            ensure(applied, || "apply failed (see apply-applies-plan)".into())?;
            let h = instance(r.sb)?.deployer()?.health(r1)?;
            Ok(format!("{:?}: {}", h.status, h.message))
        },
    );
    let observe_rule = "with supports-observe=true, observe after apply reports the revision running, with its bundle's digest when it tells one";
    if !r.observes() {
        c.skip(
            "observe-reports-revision",
            observe_rule,
            "describe says supports-observe=false",
        );
    } else if !applied {
        c.skip(
            "observe-reports-revision",
            observe_rule,
            "needs an applied revision; apply failed",
        );
    } else {
        c.check("observe-reports-revision", observe_rule, || observed(r, r1));
    }
    applied
}

/// How long a target may take to show what `apply` or `teardown` did:
/// the suite asks `observe` again until then, as the host polls `health`
/// after `apply`.
pub const SETTLE: std::time::Duration = std::time::Duration::from_secs(10);

/// Asks `done` at once, then after 50 ms doubling up to 500 ms, until it
/// says yes or [`SETTLE`] has passed; the last answer.
fn settle<T>(mut done: impl FnMut() -> Result<(bool, T), Fail>) -> Result<T, Fail> {
    let deadline = std::time::Instant::now() + SETTLE;
    let mut pause = std::time::Duration::from_millis(50);
    loop {
        let (ok, last) = done()?;
        if ok || std::time::Instant::now() >= deadline {
            return Ok(last);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(std::time::Duration::from_millis(500));
    }
}

fn observed(r: &Run<'_, '_>, r1: &RevisionRef) -> Verdict {
    let all = settle(|| {
        let all = instance(r.sb)?.deployer()?.observe(ENVIRONMENT)?;
        let up = all
            .iter()
            .any(|o| o.revision == r1.id && o.state == "running");
        Ok((up, all))
    })?;
    let mine: Vec<_> = all.iter().filter(|o| o.revision == r1.id).collect();
    ensure(mine.iter().any(|o| o.state == "running"), || {
        format!(
            "observe returned {} revision(s), none is {} running (asked for up to 10 s): {}",
            all.len(),
            r1.id,
            json(&all)
        )
    })?;
    let wrong: Vec<&String> = mine
        .iter()
        .filter_map(|o| o.digest.as_ref())
        .filter(|d| **d != r.bundle.id)
        .collect();
    ensure(wrong.is_empty(), || {
        format!(
            "observe reports digest {wrong:?} for a revision of bundle {}",
            r.bundle.id
        )
    })?;
    Ok(format!("observe reports {} running", r1.id))
}

fn traffic_cases(r: &Run<'_, '_>, r1: &RevisionRef, applied: bool, c: &mut Cases) {
    let split_rule = "describe is honest about traffic: with supports-traffic-split=false a split between two revisions is refused with invalid-input; with true it is accepted";
    let report_rule =
        "set-traffic of 100% to one revision succeeds and reports the generation it was given";
    let Some(info) = r.info.clone() else {
        c.skip("traffic-report", report_rule, "needs describe; it failed");
        c.skip(
            "traffic-split-honest",
            split_rule,
            "needs describe; it failed",
        );
        return;
    };
    if !applied {
        c.skip(
            "traffic-report",
            report_rule,
            "needs an applied revision; apply failed",
        );
        c.skip(
            "traffic-split-honest",
            split_rule,
            "needs applied revisions; apply failed",
        );
        return;
    }
    c.check("traffic-report", report_rule, || {
        let weights = [Weight {
            revision: r1.id.clone(),
            basis_points: 10_000,
        }];
        let report = instance(r.sb)?
            .deployer()?
            .set_traffic(&split(1, &weights))?;
        ensure(report.generation == 1, || {
            format!(
                "set-traffic of generation 1 reported generation {}",
                report.generation
            )
        })?;
        Ok(format!("generation 1 applied: {}", report.message))
    });
    c.check("traffic-split-honest", split_rule, || {
        let r2 = revision("conformance-r2", 2);
        let plan2 = r.plan(&r2)?;
        r.apply(&r2, &plan2)?;
        let weights = [
            Weight {
                revision: r1.id.clone(),
                basis_points: 5_000,
            },
            Weight {
                revision: r2.id.clone(),
                basis_points: 5_000,
            },
        ];
        let got = instance(r.sb)?.deployer()?.set_traffic(&split(2, &weights));
        let _ = instance(r.sb)?.deployer()?.teardown(&r2);
        if info.supports_traffic_split {
            let report = got.map_err(|e| {
                Fail(format!(
                    "supports-traffic-split=true, but a 50/50 split returned {}",
                    show(&Err::<(), _>(e))
                ))
            })?;
            let sum: u32 = report.applied.iter().map(|w| w.basis_points).sum();
            ensure(sum == 10_000, || {
                format!("the 50/50 split reported weights summing to {sum}")
            })?;
            Ok("supports-traffic-split=true; a 50/50 split was accepted".into())
        } else {
            ensure(
                matches!(&got, Err(e) if e.kind() == Kind::InvalidInput),
                || {
                    format!(
                        "supports-traffic-split=false, but a 50/50 split returned {}",
                        show(&got)
                    )
                },
            )?;
            Ok("supports-traffic-split=false; a 50/50 split was refused with invalid-input".into())
        }
    });
}

fn split<'a>(generation: u64, weights: &'a [Weight]) -> TrafficSplit<'a> {
    TrafficSplit {
        environment: ENVIRONMENT,
        deployment: DEPLOYMENT,
        generation,
        weights,
    }
}

fn teardown_cases(r: &Run<'_, '_>, r1: &RevisionRef, applied: bool, c: &mut Cases) {
    let removes_rule = "teardown stops the revision: with supports-observe=true, observe no longer reports it running";
    if !applied {
        c.skip(
            "teardown-removes",
            removes_rule,
            "needs an applied revision; apply failed",
        );
    } else {
        c.check("teardown-removes", removes_rule, || {
            instance(r.sb)?.deployer()?.teardown(r1)?;
            if !r.observes() {
                return Ok("teardown succeeded (supports-observe=false: not observed)".into());
            }
            let still = settle(|| {
                let still = r.running(&r1.id)?;
                Ok((still.is_empty(), still))
            })?;
            ensure(still.is_empty(), || {
                format!("10 s after teardown observe still reports {}", json(&still))
            })?;
            Ok("teardown succeeded; observe no longer reports it".into())
        });
    }
    c.check(
        "teardown-idempotent",
        "teardown of a revision already torn down, or never applied, succeeds",
        || {
            let gone = instance(r.sb)?.deployer()?.teardown(r1);
            ensure(gone.is_ok(), || {
                format!("a second teardown returned {}", show(&gone))
            })?;
            let never = revision("conformance-r9", 9);
            let none = instance(r.sb)?.deployer()?.teardown(&never);
            ensure(none.is_ok(), || {
                format!(
                    "teardown of a never-applied revision returned {}",
                    show(&none)
                )
            })?;
            Ok("both succeeded".into())
        },
    );
}
