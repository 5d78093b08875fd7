//! Pre-flight: may this built package be installed?
//!
//! The structured result decides when the server gave one (`HasErrors` and
//! `LogRecords[].Type`). Only a build that returned text alone
//! (`BuildSolution`'s `logRecords` string, a log file) is judged from the
//! text, and then by words, not a `\berror\b` match: "0 failed", "no
//! errors" and "Errors: 0" are not errors.

use crate::wit::{BuiltPackage, LogRecord, PreflightReport, RecordKind, VerdictBasis};

/// Judges `build`.
pub fn preflight(build: &BuiltPackage) -> PreflightReport {
    if build.has_errors.is_some() || !build.records.is_empty() {
        return structured(build);
    }
    heuristics(&build.build_log)
}

fn structured(build: &BuiltPackage) -> PreflightReport {
    let problems: Vec<LogRecord> = build
        .records
        .iter()
        .filter(|r| !matches!(r.kind, RecordKind::Info))
        .cloned()
        .collect();
    let errors = problems
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Error))
        .count();
    let has_errors = build.has_errors.unwrap_or(false);
    let ok = !has_errors && errors == 0;
    let warnings = problems.len() - errors;
    let summary = if ok {
        format!(
            "build of {} has no errors ({warnings} warnings)",
            build.solution
        )
    } else if errors == 0 {
        format!(
            "the server reports errors building {} (HasErrors)",
            build.solution
        )
    } else {
        format!(
            "build of {} has {errors} errors and {warnings} warnings",
            build.solution
        )
    };
    PreflightReport {
        ok,
        basis: VerdictBasis::Structured,
        problems,
        summary,
    }
}

/// Kind of one log line judged by its words.
pub fn line_kind(line: &str) -> RecordKind {
    let words: Vec<String> = line
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let negated = |i: usize| {
        let before = i
            .checked_sub(1)
            .and_then(|j| words.get(j))
            .map(String::as_str);
        let after = words.get(i + 1).map(String::as_str);
        matches!(before, Some("0" | "no" | "zero" | "without" | "none"))
            || matches!(after, Some("0" | "none"))
    };
    let mut kind = RecordKind::Info;
    for (i, w) in words.iter().enumerate() {
        let error = matches!(
            w.as_str(),
            "error" | "errors" | "failed" | "failure" | "exception" | "fatal"
        );
        let warning = matches!(w.as_str(), "warning" | "warnings");
        if error && !negated(i) {
            return RecordKind::Error;
        }
        if warning && !negated(i) {
            kind = RecordKind::Warning;
        }
    }
    kind
}

fn heuristics(log: &str) -> PreflightReport {
    let problems: Vec<LogRecord> = log
        .lines()
        .filter(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let kind = line_kind(l);
            (!matches!(kind, RecordKind::Info)).then(|| LogRecord {
                kind,
                at: None,
                message: l.trim().to_string(),
            })
        })
        .collect();
    let errors = problems
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Error))
        .count();
    let summary = if log.trim().is_empty() {
        "the server returned no build result and no log; build again".to_string()
    } else if errors == 0 {
        format!(
            "no error lines in the build log ({} warnings; judged from text)",
            problems.len()
        )
    } else {
        format!("{errors} error lines in the build log (judged from text)")
    };
    PreflightReport {
        ok: errors == 0 && !log.trim().is_empty(),
        basis: VerdictBasis::TextHeuristics,
        problems,
        summary,
    }
}

/// `LogRecords[].Type` to a kind.
pub fn kind_of(type_: &str) -> RecordKind {
    let t = type_.to_ascii_lowercase();
    if t.contains("err") || t.contains("fail") || t.contains("fatal") {
        RecordKind::Error
    } else if t.contains("warn") {
        RecordKind::Warning
    } else {
        RecordKind::Info
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wit::BuildSource;

    fn build(log: &str, records: Vec<LogRecord>, has_errors: Option<bool>) -> BuiltPackage {
        BuiltPackage {
            solution: "S".into(),
            file_name: "S.cab".into(),
            content: vec![],
            build_log: log.into(),
            hash: String::new(),
            records,
            has_errors,
            source: BuildSource::Inline,
        }
    }

    fn rec(kind: RecordKind, m: &str) -> LogRecord {
        LogRecord {
            kind,
            at: None,
            message: m.into(),
        }
    }

    #[test]
    fn structured_result_wins_over_text() {
        // The text says "error", the structured result says fine.
        let b = build(
            "Error handling: none",
            vec![rec(RecordKind::Info, "done")],
            Some(false),
        );
        let r = preflight(&b);
        assert!(r.ok && matches!(r.basis, VerdictBasis::Structured));
        let b = build(
            "",
            vec![rec(RecordKind::Warning, "w"), rec(RecordKind::Error, "e")],
            Some(false),
        );
        let r = preflight(&b);
        assert!(!r.ok);
        assert_eq!(r.problems.len(), 2);
        assert!(!preflight(&build("", vec![], Some(true))).ok);
    }

    #[test]
    fn heuristics_do_not_take_zero_failed_for_an_error() {
        for line in [
            "Build complete: 12 succeeded, 0 failed",
            "No errors found",
            "Errors: 0",
            "0 errors, 2 warnings",
        ] {
            assert!(!matches!(line_kind(line), RecordKind::Error), "{line}");
        }
        for line in [
            "ERROR: item BAQ1 missing",
            "Export failed for Erp.UI.X",
            "System.Exception at ...",
        ] {
            assert!(matches!(line_kind(line), RecordKind::Error), "{line}");
        }
        let r = preflight(&build(
            "Started\nBuild complete: 3 succeeded, 0 failed\n",
            vec![],
            None,
        ));
        assert!(
            r.ok && matches!(r.basis, VerdictBasis::TextHeuristics),
            "{}",
            r.summary
        );
        let r = preflight(&build("Started\nerror: layer X not found\n", vec![], None));
        assert!(!r.ok && r.problems.len() == 1);
        assert!(!preflight(&build("", vec![], None)).ok);
    }
}
