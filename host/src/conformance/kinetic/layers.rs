//! Installing: plan-install is pure, an install that meets a conflicting
//! layer stops and names it (the pack never clears on its own), and the
//! host's `export-clear-and-retry-once` works with the pack: each layer is
//! exported (changing nothing) before it is cleared, then the install is
//! retried once.

use super::solutions::{digest_of, is_digest};
use super::{PROD, SOLUTION, World, mutating};
use crate::conformance::{Cases, Fail, Verdict, ensure};
use crate::runtime::slots::kinetic::{BuiltPackage, InstallOptions, InstallPlan, InstallReport};

/// The layer the seeded solution packs.
const APP: &str = "Erp.UI.CustomerEntry";
const LAYER: &str = "CustTracking";
/// The company that owns the conflicting copy in [`PROD`]'s view.
const OTHER: &str = "T_EPIC07";

fn options() -> InstallOptions {
    InstallOptions {
        only_current_company: true,
        ..InstallOptions::default()
    }
}

fn layer_present(w: &World<'_, '_>) -> bool {
    w.double.handle().layers(PROD).iter().any(|l| {
        l.get("ViewId").and_then(|v| v.as_str()) == Some(APP)
            && l.get("LayerName").and_then(|v| v.as_str()) == Some(LAYER)
            && l.get("Company").and_then(|v| v.as_str()) == Some(OTHER)
    })
}

/// Runs the install cases with the package built in dev.
pub(super) fn run(w: &World<'_, '_>, built: Option<&BuiltPackage>, c: &mut Cases) {
    const NEEDS: &str = "needs the package of build-returns-package";
    let Some(b) = built else {
        for case in [
            "plan-install-pure",
            "install-conflict-stops",
            "export-before-clear",
        ] {
            c.skip(case, NEEDS, "build-returns-package failed");
        }
        return;
    };
    let mut plan = None;
    c.check(
        "plan-install-pure",
        "plan-install changes nothing on the target and plans exactly the given package",
        || plan_pure(w, b, &mut plan),
    );
    let Some(plan) = plan else {
        for case in ["install-conflict-stops", "export-before-clear"] {
            c.skip(case, "needs a plan", "plan-install-pure failed");
        }
        return;
    };
    let mut report = None;
    c.check(
        "install-conflict-stops",
        "an install that meets a layer owned by another company reports has-errors and names the layer; the pack clears nothing on its own",
        || install_conflict(w, &plan, b, &mut report),
    );
    match report {
        Some(r) => {
            c.check(
                "export-before-clear",
                "each conflicting layer can be exported (changing nothing) before clear-layer removes it; the retried install succeeds",
                || export_clear_retry(w, &plan, b, &r),
            );
        }
        None => c.skip(
            "export-before-clear",
            "needs the conflicts of an install",
            "install-conflict-stops failed",
        ),
    }
}

/// The dependent cases run when the call succeeded (`out` is set), not
/// only when its case passed: one bug, one failing case.
fn plan_pure(w: &World<'_, '_>, b: &BuiltPackage, out: &mut Option<InstallPlan>) -> Verdict {
    let mut i = w.instance(PROD)?;
    let (p, calls) = w.double.watched(|| {
        i.kinetic()
            .and_then(|mut k| k.plan_install(&b.file_name, &b.content, options()))
    });
    let p = out.insert(p?);
    let changed = mutating(&calls);
    ensure(changed.is_empty(), || {
        format!("plan-install asked the server to change: {changed:?}")
    })?;
    let want = digest_of(&b.content);
    ensure(p.package_digest == want, || {
        format!(
            "the plan is for package {:?}, the bytes are {want}",
            p.package_digest
        )
    })?;
    ensure(p.solution == SOLUTION, || {
        format!("the plan installs {:?}", p.solution)
    })?;
    serde_json::from_str::<serde_json::Value>(&p.settings)
        .map_err(|e| Fail(format!("the plan's settings are not JSON: {e}")))?;
    Ok(format!(
        "{} calls, none changing; {} {} -> {} ({} predicted conflicts)",
        calls.len(),
        p.solution,
        p.package_version,
        p.destination_version,
        p.predicted_conflicts.len()
    ))
}

fn install_conflict(
    w: &World<'_, '_>,
    plan: &InstallPlan,
    b: &BuiltPackage,
    out: &mut Option<InstallReport>,
) -> Verdict {
    w.double
        .handle()
        .put_layer(
            PROD,
            OTHER,
            APP,
            LAYER,
            serde_json::json!({"conformance": true}),
        )
        .map_err(|e| {
            Fail(format!(
                "cannot set up the conflicting layer in the double: {e}"
            ))
        })?;
    let mut i = w.instance(PROD)?;
    let (r, calls) = w
        .double
        .watched(|| i.kinetic().and_then(|mut k| k.install(plan, &b.content)));
    let r = out.insert(r?);
    let changed = mutating(&calls);
    let others: Vec<&String> = changed
        .iter()
        .filter(|c| !c.ends_with("/Install"))
        .collect();
    ensure(others.is_empty(), || {
        format!(
            "install made other changes than the install: {others:?} (the pack clears no layer on its own)"
        )
    })?;
    ensure(changed.len() <= 1, || {
        format!("install asked the server to install more than once: {changed:?}")
    })?;
    ensure(layer_present(w), || {
        format!(
            "the conflicting layer {APP}~{LAYER} of {OTHER} is gone after install; calls {changed:?}"
        )
    })?;
    ensure(r.has_errors && r.installed_version.is_none(), || {
        format!(
            "the install reported has-errors={} installed-version={:?}",
            r.has_errors, r.installed_version
        )
    })?;
    let named: Vec<String> = r
        .conflicts
        .iter()
        .map(|c| {
            format!(
                "{}~{}~{}",
                c.layer.app_id, c.layer.layer_name, c.layer.type_code
            )
        })
        .collect();
    ensure(
        named
            .iter()
            .any(|n| n.starts_with(&format!("{APP}~{LAYER}~"))),
        || format!("the report's conflicts {named:?} do not name {APP}~{LAYER}"),
    )?;
    Ok(format!("has-errors, conflicts {named:?}"))
}

fn export_clear_retry(
    w: &World<'_, '_>,
    plan: &InstallPlan,
    b: &BuiltPackage,
    report: &InstallReport,
) -> Verdict {
    let mut done = Vec::new();
    for conflict in &report.conflicts {
        let mut i = w.instance(PROD)?;
        let (e, calls) = w.double.watched(|| {
            i.kinetic()
                .and_then(|mut k| k.export_layer(&conflict.layer))
        });
        let e = e?;
        let changed = mutating(&calls);
        ensure(changed.is_empty() && layer_present(w), || {
            format!(
                "export-layer changed the target before clear-layer was called: {changed:?}, layer still there: {}",
                layer_present(w)
            )
        })?;
        ensure(e.content.starts_with(b"PK"), || {
            format!("the export ({} bytes) is not a ZIP", e.content.len())
        })?;
        ensure(
            is_digest(&e.digest) && e.digest == digest_of(&e.content),
            || {
                format!(
                    "the export's digest {:?} is not the sha256 of its content",
                    e.digest
                )
            },
        )?;
        let mut i = w.instance(PROD)?;
        let cleared = i.kinetic()?.clear_layer(&e.layer)?;
        ensure(cleared && !layer_present(w), || {
            format!(
                "clear-layer of {:?} returned {cleared}; the layer is still there: {}",
                e.layer,
                layer_present(w)
            )
        })?;
        done.push(format!("exported {} ({}), cleared", e.file_name, e.digest));
    }
    let mut i = w.instance(PROD)?;
    let again = i.kinetic()?.install(plan, &b.content)?;
    ensure(!again.has_errors, || {
        format!(
            "the retried install still has errors: {:?}",
            again.records.iter().map(|r| &r.message).collect::<Vec<_>>()
        )
    })?;
    ensure(
        again.installed_version.as_deref() == Some(plan.package_version.as_str()),
        || {
            format!(
                "the retried install reports version {:?}, the plan {}",
                again.installed_version, plan.package_version
            )
        },
    )?;
    done.push(format!("installed {}", plan.package_version));
    Ok(done.join("; "))
}
