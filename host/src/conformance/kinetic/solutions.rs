//! Solutions: list, backup, recreate, remove, build and pre-flight.

use sha2::Digest as _;

use envpack_kinetic_double::JournalEntry;

use super::{DEV, PROD, SOLUTION, World};
use crate::conformance::{Cases, Fail, Verdict, ensure};
use crate::error::Kind;
use crate::runtime::slots::kinetic::{
    BuildSource, BuiltPackage, LogRecord, RecordKind, SolutionBackup, VerdictBasis,
};

/// `sha256:<64 lowercase hex>`.
pub(super) fn is_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

/// `sha256:<hex>` of `bytes`.
pub(super) fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(sha2::Sha256::digest(bytes)))
}

/// Runs the solution cases; the build of [`SOLUTION`] in [`DEV`], when it
/// succeeded, for the install cases.
pub(super) fn run(w: &World<'_, '_>, c: &mut Cases) -> Option<BuiltPackage> {
    c.check(
        "list-solutions",
        "list-solutions returns the company's definitions sorted by id, each with a sha256 digest",
        || list(w),
    );
    c.check(
        "backup-unknown-not-found",
        "backup-solution of an unknown id returns not-found",
        || {
            let mut i = w.instance(DEV)?;
            let r = i.kinetic()?.backup_solution("NoSuchSolution");
            match r {
                Err(e) if e.kind() == Kind::NotFound => Ok("not-found".into()),
                other => Err(Fail(format!(
                    "backup of an unknown id returned {}",
                    show(&other.map(|b| b.solution))
                ))),
            }
        },
    );
    let mut backup = None;
    c.check(
        "backup-digest",
        "backup-solution returns a JSON document and digest = sha256 of its bytes",
        || {
            let mut i = w.instance(DEV)?;
            let b = i.kinetic()?.backup_solution(SOLUTION)?;
            let verdict = backup_digest(&b);
            backup = Some(b);
            verdict
        },
    );
    match &backup {
        Some(b) => {
            // The dependent cases run when the recreate call succeeded,
            // not only when its case passed: one bug, one failing case.
            let mut recreated = false;
            c.check(
                "backup-recreate-round-trip",
                "recreate-solution of a backup made in another company recreates the definition with the same items",
                || round_trip(w, b, &mut recreated),
            );
            if recreated {
                c.check(
                    "recreate-existing-conflict",
                    "recreate-solution of an existing definition without replace returns conflict",
                    || recreate_again(w, b),
                );
                c.check(
                    "remove-solution",
                    "remove-solution returns true when the definition existed, false once it is gone",
                    || remove(w),
                );
            } else {
                for case in ["recreate-existing-conflict", "remove-solution"] {
                    c.skip(
                        case,
                        "needs a recreated definition",
                        "backup-recreate-round-trip failed",
                    );
                }
            }
        }
        None => {
            for case in [
                "backup-recreate-round-trip",
                "recreate-existing-conflict",
                "remove-solution",
            ] {
                c.skip(case, "needs a backup", "backup-digest failed");
            }
        }
    }
    let mut built = None;
    c.check(
        "build-returns-package",
        "build-solution returns the package bytes (a ZIP), the server's hash and a build log or records",
        || {
            let mut i = w.instance(DEV)?;
            let b = i.kinetic()?.build_solution(SOLUTION)?;
            let verdict = build_evidence(&b);
            built = Some(b);
            verdict
        },
    );
    c.check(
        "preflight-structured",
        "preflight judges from has-errors and LogRecords[].Type when given (basis structured), never from the text",
        || preflight_structured(w, built.as_ref()),
    );
    c.check(
        "preflight-text-fallback",
        "without a structured result preflight judges the log text (basis text-heuristics); \"0 failed\" and \"No errors found\" are not errors",
        || preflight_text(w),
    );
    built
}

fn show<T: std::fmt::Debug>(r: &crate::error::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok({v:?})"),
        Err(e) => format!("{}({:?})", e.kind().as_str(), e.message()),
    }
}

fn list(w: &World<'_, '_>) -> Verdict {
    let mut i = w.instance(DEV)?;
    let all = i.kinetic()?.list_solutions()?;
    let ids: Vec<&str> = all.iter().map(|s| s.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort();
    ensure(ids == sorted, || format!("ids are not sorted: {ids:?}"))?;
    for want in [SOLUTION, "OrderFixes"] {
        ensure(ids.contains(&want), || {
            format!("company {DEV} holds {want}, but list-solutions returned {ids:?}")
        })?;
    }
    if let Some(bad) = all.iter().find(|s| !is_digest(&s.digest)) {
        return Err(Fail(format!("{} has digest {:?}", bad.id, bad.digest)));
    }
    Ok(format!("{} solutions: {ids:?}", all.len()))
}

fn backup_digest(b: &SolutionBackup) -> Verdict {
    ensure(b.solution == SOLUTION, || {
        format!("the backup names solution {:?}", b.solution)
    })?;
    serde_json::from_str::<serde_json::Value>(&b.document)
        .map_err(|e| Fail(format!("the document is not JSON: {e}")))?;
    let want = digest_of(b.document.as_bytes());
    ensure(b.digest == want, || {
        format!("digest {:?}, but the document's sha256 is {want}", b.digest)
    })?;
    Ok(format!("{} bytes, {}", b.document.len(), b.digest))
}

fn item_count(w: &World<'_, '_>, company: &str) -> Result<Option<u32>, Fail> {
    let mut i = w.instance(company)?;
    Ok(i.kinetic()?
        .list_solutions()?
        .into_iter()
        .find(|s| s.id == SOLUTION)
        .map(|s| s.item_count))
}

fn round_trip(w: &World<'_, '_>, b: &SolutionBackup, recreated: &mut bool) -> Verdict {
    let source =
        item_count(w, DEV)?.ok_or_else(|| Fail(format!("{SOLUTION} is not listed in {DEV}")))?;
    let mut i = w.instance(PROD)?;
    let s = i.kinetic()?.recreate_solution(&b.document, false)?;
    *recreated = true;
    ensure(s.id == SOLUTION && s.item_count == source, || {
        format!(
            "recreate returned {} with {} items; {DEV} has {source}",
            s.id, s.item_count
        )
    })?;
    let listed = item_count(w, PROD)?;
    ensure(listed == Some(source), || {
        format!("after recreate, {PROD} lists {SOLUTION} with {listed:?} items; {DEV} has {source}")
    })?;
    Ok(format!(
        "{SOLUTION} recreated in {PROD} with {source} items"
    ))
}

fn recreate_again(w: &World<'_, '_>, b: &SolutionBackup) -> Verdict {
    let mut i = w.instance(PROD)?;
    let r = i
        .kinetic()
        .and_then(|mut k| k.recreate_solution(&b.document, false));
    match r {
        Err(e) if e.kind() == Kind::Conflict => Ok("conflict".into()),
        other => Err(Fail(format!(
            "recreate of an existing definition without replace returned {}",
            show(&other.map(|s| s.id))
        ))),
    }
}

fn remove(w: &World<'_, '_>) -> Verdict {
    let mut i = w.instance(PROD)?;
    let first = i.kinetic()?.remove_solution(SOLUTION)?;
    let mut i = w.instance(PROD)?;
    let second = i.kinetic()?.remove_solution(SOLUTION)?;
    ensure(first && !second, || {
        format!("remove returned {first}, then {second} (expected true, then false)")
    })?;
    ensure(item_count(w, PROD)?.is_none(), || {
        format!("{SOLUTION} is still listed in {PROD} after remove")
    })?;
    Ok("true, then false".into())
}

fn build_evidence(b: &BuiltPackage) -> Verdict {
    ensure(b.content.starts_with(b"PK"), || {
        format!(
            "the package ({} bytes) is not a ZIP: starts with {:?}",
            b.content.len(),
            &b.content[..b.content.len().min(4)]
        )
    })?;
    ensure(!b.file_name.is_empty(), || {
        "the package has no file name".into()
    })?;
    ensure(!b.hash.is_empty(), || {
        "the build returned no hash, but the server computed one (HashContent)".into()
    })?;
    ensure(!b.build_log.is_empty() || !b.records.is_empty(), || {
        "the build returned neither a log nor records".into()
    })?;
    Ok(format!(
        "{} ({} bytes), hash {}, {} records, has-errors {:?}",
        b.file_name,
        b.content.len(),
        b.hash,
        b.records.len(),
        b.has_errors
    ))
}

fn record(kind: RecordKind, message: &str) -> LogRecord {
    LogRecord {
        kind,
        at: None,
        message: message.into(),
    }
}

fn crafted(log: &str, records: Vec<LogRecord>, has_errors: Option<bool>) -> BuiltPackage {
    BuiltPackage {
        solution: SOLUTION.into(),
        file_name: format!("{SOLUTION}.cab"),
        content: b"PK\x03\x04".to_vec(),
        build_log: log.into(),
        hash: String::new(),
        records,
        has_errors,
        source: BuildSource::ServerFiles,
    }
}

fn preflight_structured(w: &World<'_, '_>, built: Option<&BuiltPackage>) -> Verdict {
    let mut seen = Vec::new();
    let failing = crafted(
        "No errors found",
        vec![
            record(RecordKind::Info, "Packing"),
            record(RecordKind::Error, "BAQ zMissing was not found"),
        ],
        Some(true),
    );
    let clean = crafted(
        "ERROR handler library packed",
        vec![record(RecordKind::Info, "Build finished")],
        Some(false),
    );
    let mut cases = vec![("a build with an error record and HasErrors", failing, false)];
    cases.push(("a clean structured build whose log says ERROR", clean, true));
    if let Some(b) = built {
        cases.push(("the real build", b.clone(), true));
    }
    for (what, b, want) in cases {
        let mut i = w.instance(DEV)?;
        let (r, calls) = w
            .double
            .watched(|| i.kinetic().and_then(|mut k| k.preflight(&b)));
        let r = r?;
        ensure(calls.is_empty(), || {
            format!(
                "preflight of {what} called the server: {:?}",
                calls.iter().map(JournalEntry::route).collect::<Vec<_>>()
            )
        })?;
        ensure(r.basis == VerdictBasis::Structured, || {
            format!("preflight of {what} judged by {:?}", r.basis)
        })?;
        ensure(r.ok == want, || {
            format!("preflight of {what} said ok={} ({})", r.ok, r.summary)
        })?;
        seen.push(format!("{what}: ok={}", r.ok));
    }
    Ok(seen.join("; "))
}

fn preflight_text(w: &World<'_, '_>) -> Verdict {
    let mut seen = Vec::new();
    for (log, want) in [
        ("Build finished: 4 items packed, 0 failed.", true),
        ("Validating items\nNo errors found", true),
        ("Packing BAQ zX\nERROR: BAQ zX was not found", false),
    ] {
        let mut i = w.instance(DEV)?;
        let r = i.kinetic()?.preflight(&crafted(log, vec![], None))?;
        ensure(r.basis == VerdictBasis::TextHeuristics, || {
            format!("a log-only build ({log:?}) was judged by {:?}", r.basis)
        })?;
        ensure(r.ok == want, || {
            format!("the log {log:?} was judged ok={} ({})", r.ok, r.summary)
        })?;
        seen.push(format!("{log:?}: ok={}", r.ok));
    }
    Ok(seen.join("; "))
}
