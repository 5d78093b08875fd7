//! The 0.2 `kinetic` export: conversions between its generated records and
//! the domain types of `runtime::slots::kinetic`, and its typed wrapper.

use wasmtime::Store;

use super::guest::kinetic as w;
use super::{done, done_list};
use crate::runtime::slots::kinetic as k;
use crate::runtime::store_data::StoreData;
use crate::runtime::wit::{CallResult, KineticGuest};

/// Maps the cases of two fieldless enums with the same case names onto each
/// other, both ways.
macro_rules! same_cases {
    ($a:ty, $b:ty, [$($case:ident),+ $(,)?]) => {
        impl From<$a> for $b {
            fn from(x: $a) -> Self {
                match x { $(<$a>::$case => Self::$case),+ }
            }
        }
        impl From<$b> for $a {
            fn from(x: $b) -> Self {
                match x { $(<$b>::$case => Self::$case),+ }
            }
        }
    };
}

same_cases!(w::RecordKind, k::RecordKind, [Info, Warning, Error]);
same_cases!(w::BuildSource, k::BuildSource, [Inline, ServerFiles]);
same_cases!(
    w::VerdictBasis,
    k::VerdictBasis,
    [Structured, TextHeuristics]
);
same_cases!(
    w::ConflictForm,
    k::ConflictForm,
    [Identifier, AllCompanies, AppLayers]
);
same_cases!(w::SpecFormat, k::SpecFormat, [ZdatatableXml, Toml, Json]);
same_cases!(
    w::ItemKind,
    k::ItemKind,
    [
        Solution,
        InstalledSolution,
        UdTable,
        UdField,
        Layer,
        Baq,
        Directive,
        EfxLibrary
    ]
);

impl From<w::TargetInfo> for k::TargetInfo {
    fn from(t: w::TargetInfo) -> Self {
        Self {
            base_url: t.base_url,
            company: t.company,
            plant: t.plant,
            app_version: t.app_version,
            attributes: t.attributes,
        }
    }
}

impl From<w::LogRecord> for k::LogRecord {
    fn from(r: w::LogRecord) -> Self {
        Self {
            kind: r.kind.into(),
            at: r.at,
            message: r.message,
        }
    }
}

impl From<&k::LogRecord> for w::LogRecord {
    fn from(r: &k::LogRecord) -> Self {
        Self {
            kind: r.kind.into(),
            at: r.at.clone(),
            message: r.message.clone(),
        }
    }
}

fn records_in(v: Vec<w::LogRecord>) -> Vec<k::LogRecord> {
    v.into_iter().map(Into::into).collect()
}

impl From<w::Solution> for k::Solution {
    fn from(s: w::Solution) -> Self {
        Self {
            id: s.id,
            description: s.description,
            version: s.version,
            item_count: s.item_count,
            digest: s.digest,
            attributes: s.attributes,
        }
    }
}

impl From<w::SolutionBackup> for k::SolutionBackup {
    fn from(b: w::SolutionBackup) -> Self {
        Self {
            solution: b.solution,
            document: b.document,
            digest: b.digest,
        }
    }
}

impl From<w::BuiltPackage> for k::BuiltPackage {
    fn from(b: w::BuiltPackage) -> Self {
        Self {
            solution: b.solution,
            file_name: b.file_name,
            content: b.content,
            build_log: b.build_log,
            hash: b.hash,
            records: records_in(b.records),
            has_errors: b.has_errors,
            source: b.source.into(),
        }
    }
}

impl From<&k::BuiltPackage> for w::BuiltPackage {
    fn from(b: &k::BuiltPackage) -> Self {
        Self {
            solution: b.solution.clone(),
            file_name: b.file_name.clone(),
            content: b.content.clone(),
            build_log: b.build_log.clone(),
            hash: b.hash.clone(),
            records: b.records.iter().map(Into::into).collect(),
            has_errors: b.has_errors,
            source: b.source.into(),
        }
    }
}

impl From<w::PreflightReport> for k::PreflightReport {
    fn from(r: w::PreflightReport) -> Self {
        Self {
            ok: r.ok,
            basis: r.basis.into(),
            problems: records_in(r.problems),
            summary: r.summary,
        }
    }
}

impl From<w::InstallOptions> for k::InstallOptions {
    fn from(o: w::InstallOptions) -> Self {
        Self {
            overwrite_duplicate_files: o.overwrite_duplicate_files,
            overwrite_duplicate_data: o.overwrite_duplicate_data,
            delete_previous_install: o.delete_previous_install,
            override_directives: o.override_directives,
            only_current_company: o.only_current_company,
        }
    }
}

impl From<k::InstallOptions> for w::InstallOptions {
    fn from(o: k::InstallOptions) -> Self {
        Self {
            overwrite_duplicate_files: o.overwrite_duplicate_files,
            overwrite_duplicate_data: o.overwrite_duplicate_data,
            delete_previous_install: o.delete_previous_install,
            override_directives: o.override_directives,
            only_current_company: o.only_current_company,
        }
    }
}

impl From<w::LayerRef> for k::LayerRef {
    fn from(l: w::LayerRef) -> Self {
        Self {
            app_id: l.app_id,
            layer_name: l.layer_name,
            type_code: l.type_code,
            company: l.company,
            device_type: l.device_type,
            cgc_code: l.cgc_code,
        }
    }
}

impl From<&k::LayerRef> for w::LayerRef {
    fn from(l: &k::LayerRef) -> Self {
        Self {
            app_id: l.app_id.clone(),
            layer_name: l.layer_name.clone(),
            type_code: l.type_code.clone(),
            company: l.company.clone(),
            device_type: l.device_type.clone(),
            cgc_code: l.cgc_code.clone(),
        }
    }
}

impl From<w::LayerConflict> for k::LayerConflict {
    fn from(c: w::LayerConflict) -> Self {
        Self {
            layer: c.layer.into(),
            form: c.form.into(),
            message: c.message,
        }
    }
}

impl From<&k::LayerConflict> for w::LayerConflict {
    fn from(c: &k::LayerConflict) -> Self {
        Self {
            layer: (&c.layer).into(),
            form: c.form.into(),
            message: c.message.clone(),
        }
    }
}

impl From<&k::ConflictSource> for w::ConflictSource {
    fn from(s: &k::ConflictSource) -> Self {
        match s {
            k::ConflictSource::Messages(m) => Self::Messages(m.clone()),
            k::ConflictSource::App(a) => Self::App(a.clone()),
        }
    }
}

impl From<w::InstallPlan> for k::InstallPlan {
    fn from(p: w::InstallPlan) -> Self {
        Self {
            solution: p.solution,
            file_name: p.file_name,
            package_digest: p.package_digest,
            package_version: p.package_version,
            destination_version: p.destination_version,
            installed_version: p.installed_version,
            min_app_version: p.min_app_version,
            source_company: p.source_company,
            options: p.options.into(),
            settings: p.settings,
            predicted_conflicts: p.predicted_conflicts.into_iter().map(Into::into).collect(),
            summary: p.summary,
            attributes: p.attributes,
        }
    }
}

impl From<&k::InstallPlan> for w::InstallPlan {
    fn from(p: &k::InstallPlan) -> Self {
        Self {
            solution: p.solution.clone(),
            file_name: p.file_name.clone(),
            package_digest: p.package_digest.clone(),
            package_version: p.package_version.clone(),
            destination_version: p.destination_version.clone(),
            installed_version: p.installed_version.clone(),
            min_app_version: p.min_app_version.clone(),
            source_company: p.source_company.clone(),
            options: p.options.into(),
            settings: p.settings.clone(),
            predicted_conflicts: p.predicted_conflicts.iter().map(Into::into).collect(),
            summary: p.summary.clone(),
            attributes: p.attributes.clone(),
        }
    }
}

impl From<w::InstallReport> for k::InstallReport {
    fn from(r: w::InstallReport) -> Self {
        Self {
            has_errors: r.has_errors,
            records: records_in(r.records),
            conflicts: r.conflicts.into_iter().map(Into::into).collect(),
            regenerate_data_model: r.regenerate_data_model,
            installed_version: r.installed_version,
            attributes: r.attributes,
        }
    }
}

impl From<w::Layer> for k::Layer {
    fn from(l: w::Layer) -> Self {
        Self {
            layer: l.layer.into(),
            published: l.published,
            has_draft: l.has_draft,
            system: l.system,
            last_updated: l.last_updated,
            last_updated_by: l.last_updated_by,
            digest: l.digest,
        }
    }
}

impl From<w::LayerExport> for k::LayerExport {
    fn from(e: w::LayerExport) -> Self {
        Self {
            layer: e.layer.into(),
            file_name: e.file_name,
            content: e.content,
            digest: e.digest,
        }
    }
}

impl From<&k::TableSpec> for w::TableSpec {
    fn from(s: &k::TableSpec) -> Self {
        Self {
            format: s.format.into(),
            text: s.text.clone(),
        }
    }
}

impl From<w::SyncState> for k::SyncState {
    fn from(s: w::SyncState) -> Self {
        Self {
            db_exists: s.db_exists,
            zdata_synced: s.zdata_synced,
            data_model_synced: s.data_model_synced,
            message: s.message,
        }
    }
}

impl From<&k::SyncState> for w::SyncState {
    fn from(s: &k::SyncState) -> Self {
        Self {
            db_exists: s.db_exists,
            zdata_synced: s.zdata_synced,
            data_model_synced: s.data_model_synced,
            message: s.message.clone(),
        }
    }
}

impl From<w::SchemaDiff> for k::SchemaDiff {
    fn from(d: w::SchemaDiff) -> Self {
        Self {
            system_code: d.system_code,
            table: d.table,
            table_exists: d.table_exists,
            missing: d.missing,
            extra: d.extra,
            drifted: d
                .drifted
                .into_iter()
                .map(|f| k::FieldDrift {
                    field: f.field,
                    properties: f
                        .properties
                        .into_iter()
                        .map(|p| k::PropertyDrift {
                            property: p.property,
                            declared: p.declared,
                            actual: p.actual,
                        })
                        .collect(),
                })
                .collect(),
            sync: d.sync.into(),
        }
    }
}

impl From<&k::SchemaDiff> for w::SchemaDiff {
    fn from(d: &k::SchemaDiff) -> Self {
        Self {
            system_code: d.system_code.clone(),
            table: d.table.clone(),
            table_exists: d.table_exists,
            missing: d.missing.clone(),
            extra: d.extra.clone(),
            drifted: d
                .drifted
                .iter()
                .map(|f| w::FieldDrift {
                    field: f.field.clone(),
                    properties: f
                        .properties
                        .iter()
                        .map(|p| w::PropertyDrift {
                            property: p.property.clone(),
                            declared: p.declared.clone(),
                            actual: p.actual.clone(),
                        })
                        .collect(),
                })
                .collect(),
            sync: (&d.sync).into(),
        }
    }
}

impl From<w::SchemaReport> for k::SchemaReport {
    fn from(r: w::SchemaReport) -> Self {
        Self {
            system_code: r.system_code,
            table: r.table,
            created: r.created,
            updated: r.updated,
            sync: r.sync.into(),
        }
    }
}

impl From<w::InventoryItem> for k::InventoryItem {
    fn from(i: w::InventoryItem) -> Self {
        Self {
            kind: i.kind.into(),
            id: i.id,
            version: i.version,
            digest: i.digest,
            summary: i.summary,
            attributes: i.attributes,
        }
    }
}

/// `kinetic`.
pub(crate) struct Kinetic(pub(super) w::Guest);

impl KineticGuest for Kinetic {
    fn describe(&self, store: &mut Store<StoreData>) -> CallResult<k::TargetInfo> {
        done(self.0.call_describe(store))
    }

    fn list_solutions(&self, store: &mut Store<StoreData>) -> CallResult<Vec<k::Solution>> {
        done_list(self.0.call_list_solutions(store))
    }

    fn backup_solution(
        &self,
        store: &mut Store<StoreData>,
        solution: &str,
    ) -> CallResult<k::SolutionBackup> {
        done(self.0.call_backup_solution(store, solution))
    }

    fn recreate_solution(
        &self,
        store: &mut Store<StoreData>,
        document: &str,
        replace: bool,
    ) -> CallResult<k::Solution> {
        done(self.0.call_recreate_solution(store, document, replace))
    }

    fn build_solution(
        &self,
        store: &mut Store<StoreData>,
        solution: &str,
    ) -> CallResult<k::BuiltPackage> {
        done(self.0.call_build_solution(store, solution))
    }

    fn preflight(
        &self,
        store: &mut Store<StoreData>,
        build: &k::BuiltPackage,
    ) -> CallResult<k::PreflightReport> {
        done(self.0.call_preflight(store, &build.into()))
    }

    fn plan_install(
        &self,
        store: &mut Store<StoreData>,
        file_name: &str,
        content: &[u8],
        options: k::InstallOptions,
    ) -> CallResult<k::InstallPlan> {
        done(
            self.0
                .call_plan_install(store, file_name, content, options.into()),
        )
    }

    fn install(
        &self,
        store: &mut Store<StoreData>,
        plan: &k::InstallPlan,
        content: &[u8],
    ) -> CallResult<k::InstallReport> {
        done(self.0.call_install(store, &plan.into(), content))
    }

    fn remove_solution(&self, store: &mut Store<StoreData>, solution: &str) -> CallResult<bool> {
        done(self.0.call_remove_solution(store, solution))
    }

    fn diff_schema(
        &self,
        store: &mut Store<StoreData>,
        spec: &k::TableSpec,
    ) -> CallResult<k::SchemaDiff> {
        done(self.0.call_diff_schema(store, &spec.into()))
    }

    fn apply_schema(
        &self,
        store: &mut Store<StoreData>,
        spec: &k::TableSpec,
        plan: &k::SchemaDiff,
    ) -> CallResult<k::SchemaReport> {
        done(self.0.call_apply_schema(store, &spec.into(), &plan.into()))
    }

    fn conflicting_layers(
        &self,
        store: &mut Store<StoreData>,
        source: &k::ConflictSource,
    ) -> CallResult<Vec<k::LayerConflict>> {
        done_list(self.0.call_conflicting_layers(store, &source.into()))
    }

    fn list_layers(&self, store: &mut Store<StoreData>, app_id: &str) -> CallResult<Vec<k::Layer>> {
        done_list(self.0.call_list_layers(store, app_id))
    }

    fn export_layer(
        &self,
        store: &mut Store<StoreData>,
        layer: &k::LayerRef,
    ) -> CallResult<k::LayerExport> {
        done(self.0.call_export_layer(store, &layer.into()))
    }

    fn clear_layer(&self, store: &mut Store<StoreData>, layer: &k::LayerRef) -> CallResult<bool> {
        done(self.0.call_clear_layer(store, &layer.into()))
    }

    fn inventory(
        &self,
        store: &mut Store<StoreData>,
        kinds: &[k::ItemKind],
    ) -> CallResult<Vec<k::InventoryItem>> {
        let kinds: Vec<w::ItemKind> = kinds.iter().map(|&x| x.into()).collect();
        done_list(self.0.call_inventory(store, &kinds))
    }
}
