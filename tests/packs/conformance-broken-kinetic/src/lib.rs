//! `acme.kinetic.broken`: `greentic.kinetic.rest` with one deliberate bug,
//! chosen by the config key `bug`, so `envpack pack test` can be shown to
//! fail exactly the case of the rule broken:
//!
//! | `bug`                    | what it does wrong                                        | failing case                  |
//! |--------------------------|-----------------------------------------------------------|-------------------------------|
//! | `describe-wrong-company` | describe names another company                            | `describe`                    |
//! | `inventory-unstable`     | the second inventory's digests differ from the first's    | `inventory-stable`            |
//! | `inventory-layer-ids`    | a layer's digest covers its id, not its content           | `inventory-sees-edits`        |
//! | `schema-diff-writes`     | diff-schema saves the table it compared                   | `schema-diff`                 |
//! | `apply-reports-synced`   | apply-schema says the data model is in sync after adding  | `schema-apply`                |
//! | `list-unsorted`          | list-solutions in reverse order                           | `list-solutions`              |
//! | `backup-unknown-empty`   | backing up an unknown id returns an empty backup          | `backup-unknown-not-found`    |
//! | `backup-digest-wrong`    | the backup's digest is not its document's                 | `backup-digest`               |
//! | `recreate-reports-empty` | recreate reports the definition with no items             | `backup-recreate-round-trip`  |
//! | `recreate-overwrites`    | recreate replaces an existing definition unasked          | `recreate-existing-conflict`  |
//! | `remove-always-true`     | remove-solution says `true` for a missing definition      | `remove-solution`             |
//! | `build-no-hash`          | the build's hash is dropped                               | `build-returns-package`       |
//! | `preflight-text-only`    | preflight judges the log text even when records are given | `preflight-structured`        |
//! | `preflight-naive`        | the text fallback takes any "error"/"failed" for an error | `preflight-text-fallback`     |
//! | `plan-uploads`           | plan-install uploads the package to the server            | `plan-install-pure`           |
//! | `install-clears`         | install clears conflicting layers itself and retries      | `install-conflict-stops`      |
//! | `export-clears`          | export-layer deletes the layer it exported                | `export-before-clear`         |

use envpack_sdk::kinetic::KineticPack;
use envpack_sdk::{Error, config, kv};
use kinetic_rest::pack::export::KineticRest;
use kinetic_rest::pack::host::{client, to_sdk};
use kinetic_rest::wit::*;
use sha2::Digest as _;

#[derive(Default)]
struct Broken(KineticRest);

fn bug(name: &str) -> bool {
    config::get("bug").ok().flatten().as_deref() == Some(name)
}

fn digest(text: &str) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(text.as_bytes()))
}

/// The naive pre-flight the reference warns about: `\berror\b|failed`.
fn naive(build: &BuiltPackage) -> PreflightReport {
    let problems: Vec<LogRecord> = build
        .build_log
        .lines()
        .filter(|l| {
            let l = l.to_ascii_lowercase();
            l.contains("error") || l.contains("failed")
        })
        .map(|l| LogRecord {
            kind: RecordKind::Error,
            at: None,
            message: l.to_string(),
        })
        .collect();
    PreflightReport {
        ok: problems.is_empty(),
        basis: VerdictBasis::TextHeuristics,
        summary: format!("{} error lines", problems.len()),
        problems,
    }
}

impl KineticPack for Broken {
    fn describe(&self) -> Result<TargetInfo, Error> {
        let mut t = self.0.describe()?;
        if bug("describe-wrong-company") {
            t.company = "EPIC00".into();
        }
        Ok(t)
    }

    fn list_solutions(&self) -> Result<Vec<Solution>, Error> {
        let mut all = self.0.list_solutions()?;
        if bug("list-unsorted") {
            all.reverse();
        }
        Ok(all)
    }

    fn backup_solution(&self, solution: String) -> Result<SolutionBackup, Error> {
        match self.0.backup_solution(solution.clone()) {
            Err(Error::NotFound(_)) if bug("backup-unknown-empty") => Ok(SolutionBackup {
                solution,
                document: "{}".into(),
                digest: digest("{}"),
            }),
            Ok(mut b) if bug("backup-digest-wrong") => {
                b.digest = digest(&b.solution);
                Ok(b)
            }
            other => other,
        }
    }

    fn recreate_solution(&self, document: String, replace: bool) -> Result<Solution, Error> {
        let replace = replace || bug("recreate-overwrites");
        let mut s = self.0.recreate_solution(document, replace)?;
        if bug("recreate-reports-empty") {
            s.item_count = 0;
        }
        Ok(s)
    }

    fn build_solution(&self, solution: String) -> Result<BuiltPackage, Error> {
        let mut b = self.0.build_solution(solution)?;
        if bug("build-no-hash") {
            b.hash.clear();
        }
        Ok(b)
    }

    fn preflight(&self, build: BuiltPackage) -> Result<PreflightReport, Error> {
        if bug("preflight-text-only") {
            // The pack's own text heuristics, records and HasErrors ignored.
            let text = BuiltPackage {
                records: vec![],
                has_errors: None,
                ..build
            };
            return self.0.preflight(text);
        }
        let structured = build.has_errors.is_some() || !build.records.is_empty();
        if bug("preflight-naive") && !structured {
            return Ok(naive(&build));
        }
        self.0.preflight(build)
    }

    fn plan_install(
        &self,
        file_name: String,
        content: Vec<u8>,
        options: InstallOptions,
    ) -> Result<InstallPlan, Error> {
        if bug("plan-uploads") {
            let c = client(None).map_err(to_sdk)?;
            let body = serde_json::json!({"folder": 4, "serverPath": format!("Solutions/{file_name}"), "data": ""});
            // Whatever the server answers, the upload was asked for.
            let _ = c.call("Ice.Lib.FileTransferSvc", "UploadFile", &body);
        }
        self.0.plan_install(file_name, content, options)
    }

    fn install(&self, plan: InstallPlan, content: Vec<u8>) -> Result<InstallReport, Error> {
        let report = self.0.install(plan.clone(), content.clone())?;
        if bug("install-clears") && report.has_errors && !report.conflicts.is_empty() {
            for conflict in &report.conflicts {
                self.0.clear_layer(conflict.layer.clone())?;
            }
            return self.0.install(plan, content);
        }
        Ok(report)
    }

    fn remove_solution(&self, solution: String) -> Result<bool, Error> {
        Ok(self.0.remove_solution(solution)? || bug("remove-always-true"))
    }

    fn diff_schema(&self, spec: TableSpec) -> Result<SchemaDiff, Error> {
        let d = self.0.diff_schema(spec)?;
        if bug("schema-diff-writes") {
            // An empty save: whatever it does, it was asked for.
            let c = client(None).map_err(to_sdk)?;
            let _ = c.call(
                "Ice.BO.ZDataTableSvc",
                "Update",
                &serde_json::json!({"ds": {}}),
            );
        }
        Ok(d)
    }

    fn apply_schema(&self, spec: TableSpec, plan: SchemaDiff) -> Result<SchemaReport, Error> {
        let mut r = self.0.apply_schema(spec, plan)?;
        if bug("apply-reports-synced") {
            r.sync.data_model_synced = true;
        }
        Ok(r)
    }

    fn conflicting_layers(&self, source: ConflictSource) -> Result<Vec<LayerConflict>, Error> {
        self.0.conflicting_layers(source)
    }

    fn list_layers(&self, app_id: String) -> Result<Vec<Layer>, Error> {
        self.0.list_layers(app_id)
    }

    fn export_layer(&self, layer: LayerRef) -> Result<LayerExport, Error> {
        let e = self.0.export_layer(layer)?;
        if bug("export-clears") {
            self.0.clear_layer(e.layer.clone())?;
        }
        Ok(e)
    }

    fn clear_layer(&self, layer: LayerRef) -> Result<bool, Error> {
        self.0.clear_layer(layer)
    }

    fn inventory(&self, kinds: Vec<ItemKind>) -> Result<Vec<InventoryItem>, Error> {
        let mut items = self.0.inventory(kinds)?;
        if bug("inventory-unstable") {
            let n = kv::get("broken/calls")?
                .map_or(0, |b| b.first().copied().unwrap_or(0))
                .wrapping_add(1);
            kv::set("broken/calls", &[n])?;
            // The second inventory differs from the first (later ones
            // do not, so only the case comparing two calls fails).
            if n == 2
                && let Some(first) = items.first_mut()
            {
                first.digest = digest(&first.digest);
            }
        }
        if bug("inventory-layer-ids") {
            for i in items
                .iter_mut()
                .filter(|i| matches!(i.kind, ItemKind::Layer))
            {
                i.digest = digest(&i.id);
            }
        }
        Ok(items)
    }
}

envpack_sdk::export_kinetic!(Broken);
