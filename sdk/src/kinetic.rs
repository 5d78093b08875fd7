//! The `kinetic` slot (Epicor Kinetic solution handling, API 0.2.0): the
//! [`KineticPack`] trait, its export macro, and helpers every Kinetic pack
//! needs (the pre-flight verdict and the parsing of install-time layer
//! conflicts), so each pack judges builds and reads conflicts the same way.

use crate::{Args, Error, Output};

pub use crate::__wit::kinetic::exports::greentic::envpack::kinetic::{
    BuildSource, BuiltPackage, ConflictForm, ConflictSource, FieldDrift, InstallOptions,
    InstallPlan, InstallReport, InventoryItem, ItemKind, Layer, LayerConflict, LayerExport,
    LayerRef, LogRecord, PreflightReport, PropertyDrift, RecordKind, SchemaDiff, SchemaReport,
    Solution, SolutionBackup, SpecFormat, SyncState, TableSpec, TargetInfo, VerdictBasis,
};

/// The type code install messages of the second form imply.
pub const DEFAULT_LAYER_TYPE: &str = "KNTCCustLayer";

/// A `kinetic` slot pack. Export it with
/// [`export_kinetic!`](crate::export_kinetic). See `docs/wit-reference.md`
/// for what each function must and must not do; in short: the functions
/// that change the target are called only after the host planned and
/// checked policy, and a pack never clears a layer on its own.
pub trait KineticPack: Default + 'static {
    /// The server and company this pack talks to.
    fn describe(&self) -> Result<TargetInfo, Error>;
    /// Solution definitions, sorted by id.
    fn list_solutions(&self) -> Result<Vec<Solution>, Error>;
    /// Backs up one definition as a document [`recreate_solution`](Self::recreate_solution) reads.
    fn backup_solution(&self, solution: String) -> Result<SolutionBackup, Error>;
    /// Recreates a definition from a backup; `conflict` when it exists and
    /// `replace` is false.
    fn recreate_solution(&self, document: String, replace: bool) -> Result<Solution, Error>;
    /// Builds a definition into a package and fetches its evidence.
    fn build_solution(&self, solution: String) -> Result<BuiltPackage, Error>;
    /// Judges a build. The default is [`preflight`]: structured first, the
    /// log text only as a fallback.
    fn preflight(&self, build: BuiltPackage) -> Result<PreflightReport, Error> {
        Ok(preflight(&build))
    }
    /// Plans an install; changes nothing.
    fn plan_install(
        &self,
        file_name: String,
        content: Vec<u8>,
        options: InstallOptions,
    ) -> Result<InstallPlan, Error>;
    /// Installs exactly `plan` with the package bytes `content`; a failed
    /// install is a report, with its conflicts (see [`parse_conflicts`]).
    fn install(&self, plan: InstallPlan, content: Vec<u8>) -> Result<InstallReport, Error>;
    /// Removes a definition; `true` when it existed.
    fn remove_solution(&self, solution: String) -> Result<bool, Error>;
    /// Compares a declared UD table with the target.
    fn diff_schema(&self, spec: TableSpec) -> Result<SchemaDiff, Error>;
    /// Applies a diff returned by [`diff_schema`](Self::diff_schema).
    fn apply_schema(&self, spec: TableSpec, plan: SchemaDiff) -> Result<SchemaReport, Error>;
    /// The layers that conflict. The default reads messages with
    /// [`parse_conflicts`] and, for an application id, keeps the layers of
    /// [`list_layers`](Self::list_layers) in another company than
    /// [`describe`](Self::describe)'s, or in a `T_` company.
    fn conflicting_layers(&self, source: ConflictSource) -> Result<Vec<LayerConflict>, Error> {
        match source {
            ConflictSource::Messages(messages) => Ok(parse_conflicts(&messages)),
            ConflictSource::App(app) => {
                let company = self.describe()?.company;
                Ok(self
                    .list_layers(app)?
                    .into_iter()
                    .filter(|l| !l.system && conflicts_with(&l.layer, &company))
                    .map(|l| LayerConflict {
                        layer: l.layer,
                        form: ConflictForm::AppLayers,
                        message: String::new(),
                    })
                    .collect())
            }
        }
    }
    /// The layers of one application id.
    fn list_layers(&self, app_id: String) -> Result<Vec<Layer>, Error>;
    /// Exports one layer.
    fn export_layer(&self, layer: LayerRef) -> Result<LayerExport, Error>;
    /// Deletes one layer (the host exported it first).
    fn clear_layer(&self, layer: LayerRef) -> Result<bool, Error>;
    /// Items of the given kinds (all for an empty list), sorted by kind then id.
    fn inventory(&self, kinds: Vec<ItemKind>) -> Result<Vec<InventoryItem>, Error>;
    /// Runs a command declared in `pack.toml`.
    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        let _ = args;
        crate::slots::__no_command(name)
    }
}

/// Whether a layer of another company (or a `T_` one) stands in the way of
/// installing into `company`.
fn conflicts_with(layer: &LayerRef, company: &str) -> bool {
    match layer.company.as_deref() {
        Some(c) => c != company || c.starts_with("T_"),
        None => false,
    }
}

/// The pre-flight verdict on a build: from `has-errors` and the records'
/// kinds when the server gave them, else from the log text, where a line
/// counts as an error only when it says so as a word and not as a count of
/// nothing (`0 errors`, `0 failed`).
///
/// ```
/// use envpack_sdk::kinetic::{preflight, BuiltPackage, BuildSource, VerdictBasis};
/// let build = BuiltPackage {
///     solution: "S".into(), file_name: "S.cab".into(), content: vec![],
///     build_log: "Build complete: 12 succeeded, 0 failed, 0 errors".into(),
///     hash: String::new(), records: vec![], has_errors: None, source: BuildSource::ServerFiles,
/// };
/// let report = preflight(&build);
/// assert!(report.ok);
/// assert!(matches!(report.basis, VerdictBasis::TextHeuristics));
/// ```
pub fn preflight(build: &BuiltPackage) -> PreflightReport {
    let structured = build.has_errors.is_some() || !build.records.is_empty();
    let problems: Vec<LogRecord> = if structured {
        build
            .records
            .iter()
            .filter(|r| !matches!(r.kind, RecordKind::Info))
            .cloned()
            .collect()
    } else {
        build.build_log.lines().filter_map(text_problem).collect()
    };
    let errors = problems
        .iter()
        .filter(|r| matches!(r.kind, RecordKind::Error))
        .count();
    // A build with neither a structured result nor a log says nothing:
    // not a verdict to install on.
    let silent = !structured && build.build_log.trim().is_empty();
    let ok = match build.has_errors {
        Some(has) => !has && errors == 0,
        None => errors == 0 && !silent,
    };
    let basis = if structured {
        VerdictBasis::Structured
    } else {
        VerdictBasis::TextHeuristics
    };
    let how = if structured {
        "structured records"
    } else {
        "build log text"
    };
    let summary = if silent {
        format!(
            "{} gave no build result and no log; build it again",
            build.solution
        )
    } else if ok {
        format!(
            "{} builds cleanly ({how}; {} warning(s))",
            build.solution,
            problems.len() - errors
        )
    } else {
        format!(
            "{} has {errors} build error(s) ({how}){}",
            build.solution,
            if build.has_errors == Some(true) && errors == 0 {
                "; the server reported HasErrors without an error record"
            } else {
                ""
            }
        )
    };
    PreflightReport {
        ok,
        basis,
        problems,
        summary,
    }
}

/// A log line's problem, if it reports one.
fn text_problem(line: &str) -> Option<LogRecord> {
    let lower = line.to_ascii_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    // "0 failed", "no errors found", "without errors", "errors: 0",
    // "warnings: none": the word names a count of nothing.
    let counted_nothing = |i: usize| {
        let before = i.checked_sub(1).map(|j| words[j]);
        let after = words.get(i + 1).copied();
        matches!(before, Some("0" | "no" | "zero" | "without" | "none"))
            || matches!(after, Some("0" | "none"))
    };
    let says = |needles: &[&str]| {
        words
            .iter()
            .enumerate()
            .any(|(i, w)| needles.contains(w) && !counted_nothing(i))
    };
    let kind = if says(&["error", "errors", "failed", "failure", "exception"]) {
        RecordKind::Error
    } else if says(&["warning", "warnings"]) {
        RecordKind::Warning
    } else {
        return None;
    };
    Some(LogRecord {
        kind,
        at: None,
        message: line.trim().to_string(),
    })
}

/// The layer conflicts in install messages, in both forms the server
/// writes them; other messages are ignored, and a layer named twice is
/// reported once.
///
/// ```
/// use envpack_sdk::kinetic::{parse_conflicts, ConflictForm};
/// let found = parse_conflicts(&[
///     "Layer with identifier Erp.UI.PartEntry~Shop~KNTCCustLayer already exists in another company".into(),
///     "Cannot override all companies customization for application layer Shop Erp.UI.JobEntry as the layer already exists in another company.".into(),
///     "Installed 12 items".into(),
/// ]);
/// assert_eq!(found.len(), 2);
/// assert_eq!(found[0].layer.app_id, "Erp.UI.PartEntry");
/// assert!(matches!(found[1].form, ConflictForm::AllCompanies));
/// assert_eq!(found[1].layer.type_code, "KNTCCustLayer");
/// ```
pub fn parse_conflicts(messages: &[String]) -> Vec<LayerConflict> {
    let mut out: Vec<LayerConflict> = Vec::new();
    for message in messages {
        for line in message.lines() {
            let Some(conflict) = identifier_form(line).or_else(|| all_companies_form(line)) else {
                continue;
            };
            let seen = out.iter().any(|c| {
                c.layer.app_id == conflict.layer.app_id
                    && c.layer.layer_name == conflict.layer.layer_name
                    && c.layer.type_code == conflict.layer.type_code
            });
            if !seen {
                out.push(conflict);
            }
        }
    }
    out
}

fn layer(app_id: &str, layer_name: &str, type_code: &str) -> LayerRef {
    LayerRef {
        app_id: app_id.into(),
        layer_name: layer_name.into(),
        type_code: type_code.into(),
        company: None,
        device_type: None,
        cgc_code: None,
    }
}

/// `Layer with identifier <App>~<Layer>~<Type> already exists in another company`.
fn identifier_form(line: &str) -> Option<LayerConflict> {
    const START: &str = "Layer with identifier ";
    let at = line.find(START)?;
    let rest = &line[at + START.len()..];
    let id = rest.split_whitespace().next()?;
    if !rest.contains("already exists in another company") {
        return None;
    }
    let mut parts = id.split('~');
    let (app, name, kind) = (parts.next()?, parts.next()?, parts.next()?);
    if app.is_empty() || name.is_empty() || kind.is_empty() || parts.next().is_some() {
        return None;
    }
    Some(LayerConflict {
        layer: layer(app, name, kind),
        form: ConflictForm::Identifier,
        message: line.trim().to_string(),
    })
}

/// `Cannot override all companies customization for application layer <Layer> <App> as the layer already exists in another company.`
fn all_companies_form(line: &str) -> Option<LayerConflict> {
    const START: &str = "Cannot override all companies customization for application layer ";
    const END: &str = " as the layer already exists in another company";
    let at = line.find(START)?;
    let rest = &line[at + START.len()..];
    let names = &rest[..rest.find(END)?];
    let mut words = names.split_whitespace();
    let (name, app) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    Some(LayerConflict {
        layer: layer(app, name, DEFAULT_LAYER_TYPE),
        form: ConflictForm::AllCompanies,
        message: line.trim().to_string(),
    })
}

/// Exports a [`KineticPack`] implementation as the pack's component.
#[macro_export]
macro_rules! export_kinetic {
    ($ty:ty) => {
        // Only the wasm32 build exports: a native build (`cargo test`)
        // links no component glue, whose symbol names native linkers reject.
        #[cfg(target_arch = "wasm32")]
        const _: () = {
            struct __EnvpackExport;
            $crate::__export_common!($ty, $crate::KineticPack);
            use $crate::__wit::kinetic::exports::greentic::envpack::kinetic as __s;
            use ::std::string::String as __Str;
            use ::std::vec::Vec as __Vec;
            use ::core::result::Result as __R;
            use $crate::KineticPack as __K;
            impl __s::Guest for __EnvpackExport {
                fn describe() -> __R<__s::TargetInfo, $crate::Error> { __envpack_with(|p| <$ty as __K>::describe(p)) }
                fn list_solutions() -> __R<__Vec<__s::Solution>, $crate::Error> { __envpack_with(|p| <$ty as __K>::list_solutions(p)) }
                fn backup_solution(solution: __Str) -> __R<__s::SolutionBackup, $crate::Error> { __envpack_with(|p| <$ty as __K>::backup_solution(p, solution)) }
                fn recreate_solution(document: __Str, replace: bool) -> __R<__s::Solution, $crate::Error> { __envpack_with(|p| <$ty as __K>::recreate_solution(p, document, replace)) }
                fn build_solution(solution: __Str) -> __R<__s::BuiltPackage, $crate::Error> { __envpack_with(|p| <$ty as __K>::build_solution(p, solution)) }
                fn preflight(build: __s::BuiltPackage) -> __R<__s::PreflightReport, $crate::Error> { __envpack_with(|p| <$ty as __K>::preflight(p, build)) }
                fn plan_install(file_name: __Str, content: __Vec<u8>, options: __s::InstallOptions) -> __R<__s::InstallPlan, $crate::Error> { __envpack_with(|p| <$ty as __K>::plan_install(p, file_name, content, options)) }
                fn install(plan: __s::InstallPlan, content: __Vec<u8>) -> __R<__s::InstallReport, $crate::Error> { __envpack_with(|p| <$ty as __K>::install(p, plan, content)) }
                fn remove_solution(solution: __Str) -> __R<bool, $crate::Error> { __envpack_with(|p| <$ty as __K>::remove_solution(p, solution)) }
                fn diff_schema(spec: __s::TableSpec) -> __R<__s::SchemaDiff, $crate::Error> { __envpack_with(|p| <$ty as __K>::diff_schema(p, spec)) }
                fn apply_schema(spec: __s::TableSpec, plan: __s::SchemaDiff) -> __R<__s::SchemaReport, $crate::Error> { __envpack_with(|p| <$ty as __K>::apply_schema(p, spec, plan)) }
                fn conflicting_layers(source: __s::ConflictSource) -> __R<__Vec<__s::LayerConflict>, $crate::Error> { __envpack_with(|p| <$ty as __K>::conflicting_layers(p, source)) }
                fn list_layers(app_id: __Str) -> __R<__Vec<__s::Layer>, $crate::Error> { __envpack_with(|p| <$ty as __K>::list_layers(p, app_id)) }
                fn export_layer(layer: __s::LayerRef) -> __R<__s::LayerExport, $crate::Error> { __envpack_with(|p| <$ty as __K>::export_layer(p, layer)) }
                fn clear_layer(layer: __s::LayerRef) -> __R<bool, $crate::Error> { __envpack_with(|p| <$ty as __K>::clear_layer(p, layer)) }
                fn inventory(kinds: __Vec<__s::ItemKind>) -> __R<__Vec<__s::InventoryItem>, $crate::Error> { __envpack_with(|p| <$ty as __K>::inventory(p, kinds)) }
            }
            $crate::__wit::kinetic::__export_kinetic_world!(__EnvpackExport with_types_in $crate::__wit::kinetic);
        };
    };
}

#[cfg(test)]
mod tests {
    use super::*;

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

    fn record(kind: RecordKind, message: &str) -> LogRecord {
        LogRecord {
            kind,
            at: None,
            message: message.into(),
        }
    }

    #[test]
    fn structured_results_win_over_the_text() {
        // The text says "error", the structured result says clean.
        let r = preflight(&build(
            "error handling module built",
            vec![record(RecordKind::Info, "ok")],
            Some(false),
        ));
        assert!(r.ok && matches!(r.basis, VerdictBasis::Structured));
        let r = preflight(&build(
            "",
            vec![record(RecordKind::Error, "Missing BAQ")],
            Some(true),
        ));
        assert!(!r.ok);
        assert_eq!(r.problems.len(), 1);
        // HasErrors alone fails, even without an error record.
        assert!(!preflight(&build("", vec![], Some(true))).ok);
    }

    #[test]
    fn text_heuristics_ignore_counts_of_nothing() {
        for clean in [
            "12 succeeded, 0 failed",
            "0 errors, 0 warnings",
            "Build complete",
            "No errors found",
            "Build finished without errors; no warnings",
            "Errors: 0, Warnings: 0",
            "warnings: none",
        ] {
            let r = preflight(&build(clean, vec![], None));
            assert!(r.ok, "{clean}: {:?}", r.problems);
            assert!(matches!(r.basis, VerdictBasis::TextHeuristics));
        }
        let r = preflight(&build(
            "step 3: ERROR: table UD01 missing\n1 warning",
            vec![],
            None,
        ));
        assert!(!r.ok);
        assert_eq!(r.problems.len(), 2);
        assert!(matches!(r.problems[1].kind, RecordKind::Warning));
        // "no" only negates the word it precedes.
        let r = preflight(&build("no warnings\n2 errors found", vec![], None));
        assert!(!r.ok, "{:?}", r.problems);
        // Neither a result nor a log: no verdict to install on.
        let r = preflight(&build("  \n", vec![], None));
        assert!(
            !r.ok && r.summary.contains("no build result"),
            "{}",
            r.summary
        );
    }

    /// Structured results decide even when the log text alone would be
    /// judged otherwise: the text is only a fallback.
    #[test]
    fn the_text_never_overrules_a_structured_result() {
        let r = preflight(&build(
            "No errors found",
            vec![record(RecordKind::Error, "BAQ zX missing")],
            None,
        ));
        assert!(!r.ok && matches!(r.basis, VerdictBasis::Structured));
        let r = preflight(&build("FATAL error", vec![], Some(false)));
        assert!(r.ok && matches!(r.basis, VerdictBasis::Structured));
    }

    #[test]
    fn conflicts_in_both_forms_and_noise() {
        let found = parse_conflicts(&[
            "Layer with identifier A~L~KNTCCustLayer already exists in another company\nLayer with identifier A~L~KNTCCustLayer already exists in another company".into(),
            "Layer with identifier broken already exists in another company".into(),
            "Cannot override all companies customization for application layer L2 B as the layer already exists in another company.".into(),
            "Cannot override all companies customization for application layer too many words here as the layer already exists in another company.".into(),
        ]);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(found[0].layer.layer_name, "L");
        assert!(matches!(found[0].form, ConflictForm::Identifier));
        assert_eq!(
            (
                found[1].layer.app_id.as_str(),
                found[1].layer.layer_name.as_str()
            ),
            ("B", "L2")
        );
        assert_eq!(found[1].layer.type_code, DEFAULT_LAYER_TYPE);
    }
}
