//! The `kinetic` slot (API 0.2.0): Epicor Kinetic solution handling, as
//! domain types the version modules convert to and from WIT, and the client
//! that calls it. The host knows these shapes only as data to plan, show,
//! store and compare; what they mean on a Kinetic server is the pack's.

use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::runtime::instance::Calls;
use crate::runtime::wit::KineticGuest;

/// Ordered key/value pairs.
pub type Attributes = Vec<(String, String)>;

/// The server and company a kinetic pack talks to.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TargetInfo {
    /// Base URL.
    pub base_url: String,
    /// Company every call is made in.
    pub company: String,
    /// Plant, when configured.
    pub plant: Option<String>,
    /// Server application version, when known.
    pub app_version: Option<String>,
    /// Extra facts.
    pub attributes: Attributes,
}

/// Severity of a Kinetic log record.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RecordKind {
    /// Information.
    Info,
    /// A warning.
    Warning,
    /// An error.
    Error,
}

/// One structured log record of a build or an install.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogRecord {
    /// Severity.
    pub kind: RecordKind,
    /// `UtcDate` as sent.
    pub at: Option<String>,
    /// Text.
    pub message: String,
}

/// One solution definition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Solution {
    /// Solution id.
    pub id: String,
    /// Description.
    pub description: String,
    /// Version, when set.
    pub version: Option<String>,
    /// Items tracked.
    pub item_count: u32,
    /// Digest of the definition.
    pub digest: String,
    /// Extra facts.
    pub attributes: Attributes,
}

/// A definition backup.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SolutionBackup {
    /// Solution id.
    pub solution: String,
    /// The JSON document that recreates it.
    pub document: String,
    /// `sha256:` of the document.
    pub digest: String,
}

/// Where a build's package came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum BuildSource {
    /// Returned inline by `Build`.
    Inline,
    /// Fetched from the server's files after `BuildSolution`.
    ServerFiles,
}

/// A built package and its evidence.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BuiltPackage {
    /// Solution id.
    pub solution: String,
    /// Package file name.
    pub file_name: String,
    /// Package bytes.
    #[serde(skip)]
    pub content: Vec<u8>,
    /// Build log text.
    pub build_log: String,
    /// Server hash.
    pub hash: String,
    /// Structured records.
    pub records: Vec<LogRecord>,
    /// `HasErrors`, when the server said.
    pub has_errors: Option<bool>,
    /// Where the package came from.
    pub source: BuildSource,
}

/// How a pre-flight verdict was reached.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum VerdictBasis {
    /// From structured results.
    Structured,
    /// From the log text.
    TextHeuristics,
}

/// A pre-flight verdict.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreflightReport {
    /// Whether the package may be installed.
    pub ok: bool,
    /// How the verdict was reached.
    pub basis: VerdictBasis,
    /// The records behind it.
    pub problems: Vec<LogRecord>,
    /// One line.
    pub summary: String,
}

/// Install options.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallOptions {
    /// `AutoOverwriteDuplicateFile`.
    pub overwrite_duplicate_files: bool,
    /// `AutoOverwriteDuplicateData`.
    pub overwrite_duplicate_data: bool,
    /// `DeletePreviousInstall`.
    pub delete_previous_install: bool,
    /// `OverrideDirectives`.
    pub override_directives: bool,
    /// `OnlyTargetCurrentCompany`.
    pub only_current_company: bool,
}

/// The address of one UI layer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct LayerRef {
    /// Application id.
    pub app_id: String,
    /// Layer name.
    pub layer_name: String,
    /// Type code.
    pub type_code: String,
    /// Owning company, when known.
    pub company: Option<String>,
    /// Device type, when not the default.
    pub device_type: Option<String>,
    /// CGC code, when any.
    pub cgc_code: Option<String>,
}

impl std::fmt::Display for LayerRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}~{}~{}", self.app_id, self.layer_name, self.type_code)?;
        if let Some(c) = &self.company {
            write!(f, " (company {c:?})")?;
        }
        Ok(())
    }
}

/// How a layer conflict was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictForm {
    /// `Layer with identifier ...`.
    Identifier,
    /// `Cannot override all companies customization ...`.
    AllCompanies,
    /// From the application's layers.
    AppLayers,
}

/// A layer that blocks an install.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerConflict {
    /// The layer.
    pub layer: LayerRef,
    /// How it was found.
    pub form: ConflictForm,
    /// The message it came from.
    pub message: String,
}

/// Where to look for layer conflicts.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ConflictSource {
    /// Install messages.
    Messages(Vec<String>),
    /// An application id.
    App(String),
}

/// An install plan, passed back to `install` unchanged.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallPlan {
    /// Solution id.
    pub solution: String,
    /// Package file name.
    pub file_name: String,
    /// `sha256:` of the package bytes.
    pub package_digest: String,
    /// `SourceVersion`.
    pub package_version: String,
    /// `DestinationVersion`.
    pub destination_version: String,
    /// Installed now, when installed.
    pub installed_version: Option<String>,
    /// `MinAppVersion`.
    pub min_app_version: Option<String>,
    /// `SourceCompany`.
    pub source_company: String,
    /// The options used.
    pub options: InstallOptions,
    /// The settings to send, as JSON.
    pub settings: String,
    /// Predicted conflicts.
    pub predicted_conflicts: Vec<LayerConflict>,
    /// One line.
    pub summary: String,
    /// Extra facts.
    pub attributes: Attributes,
}

/// What `install` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallReport {
    /// Whether the server reported errors.
    pub has_errors: bool,
    /// Log records.
    pub records: Vec<LogRecord>,
    /// Layer conflicts found.
    pub conflicts: Vec<LayerConflict>,
    /// Whether the data model must be regenerated.
    pub regenerate_data_model: bool,
    /// Installed version now.
    pub installed_version: Option<String>,
    /// Extra facts.
    pub attributes: Attributes,
}

/// One layer on the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Layer {
    /// Its address.
    pub layer: LayerRef,
    /// Published.
    pub published: bool,
    /// Has draft content.
    pub has_draft: bool,
    /// Shipped by Epicor.
    pub system: bool,
    /// `LastUpdated`.
    pub last_updated: Option<String>,
    /// `LastUpdatedBy`.
    pub last_updated_by: Option<String>,
    /// Content digest.
    pub digest: String,
}

/// An exported layer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerExport {
    /// The layer.
    pub layer: LayerRef,
    /// A file name.
    pub file_name: String,
    /// The ZIP.
    pub content: Vec<u8>,
    /// `sha256:` of `content`.
    pub digest: String,
}

/// Format of a UD table spec.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SpecFormat {
    /// `ZDataTableDataSet` XML.
    ZdatatableXml,
    /// TOML.
    Toml,
    /// JSON.
    Json,
}

impl SpecFormat {
    /// The format a file name implies: `.xml`, `.toml`, `.json`.
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = name.rsplit_once('.')?.1.to_ascii_lowercase();
        match ext.as_str() {
            "xml" => Some(Self::ZdatatableXml),
            "toml" => Some(Self::Toml),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// A declared UD table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSpec {
    /// Format.
    pub format: SpecFormat,
    /// Text.
    pub text: String,
}

/// One property that differs.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PropertyDrift {
    /// Property name.
    pub property: String,
    /// Declared value.
    pub declared: Option<String>,
    /// Target value.
    pub actual: Option<String>,
}

/// A drifted field.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldDrift {
    /// Field name.
    pub field: String,
    /// What differs.
    pub properties: Vec<PropertyDrift>,
}

/// Data-model sync state of a table.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyncState {
    /// `dbExists`.
    pub db_exists: bool,
    /// `zDataSynced`.
    pub zdata_synced: bool,
    /// `dataModelSynced`.
    pub data_model_synced: bool,
    /// `syncMessage`.
    pub message: String,
}

/// A declared table compared with the target.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaDiff {
    /// System code.
    pub system_code: String,
    /// Table id.
    pub table: String,
    /// Whether the table exists.
    pub table_exists: bool,
    /// Declared fields the target lacks.
    pub missing: Vec<String>,
    /// Fields only the target has.
    pub extra: Vec<String>,
    /// Fields that differ.
    pub drifted: Vec<FieldDrift>,
    /// Sync state.
    pub sync: SyncState,
}

impl SchemaDiff {
    /// Whether applying would change nothing.
    pub fn is_clean(&self) -> bool {
        self.missing.is_empty() && self.drifted.is_empty()
    }
}

/// What `apply-schema` did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SchemaReport {
    /// System code.
    pub system_code: String,
    /// Table id.
    pub table: String,
    /// Created fields.
    pub created: Vec<String>,
    /// Updated fields.
    pub updated: Vec<String>,
    /// Sync state after.
    pub sync: SyncState,
}

/// Kinds of inventory items.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ItemKind {
    /// Solution definition.
    Solution,
    /// Installed solution.
    InstalledSolution,
    /// UD table.
    UdTable,
    /// UD field.
    UdField,
    /// UI layer.
    Layer,
    /// BAQ.
    Baq,
    /// BPM directive.
    Directive,
    /// EFx library.
    EfxLibrary,
}

impl ItemKind {
    /// The WIT name, such as `installed-solution`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Solution => "solution",
            Self::InstalledSolution => "installed-solution",
            Self::UdTable => "ud-table",
            Self::UdField => "ud-field",
            Self::Layer => "layer",
            Self::Baq => "baq",
            Self::Directive => "directive",
            Self::EfxLibrary => "efx-library",
        }
    }
}

/// One observable item.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InventoryItem {
    /// Kind.
    pub kind: ItemKind,
    /// Id within its kind.
    pub id: String,
    /// Version, when any.
    pub version: Option<String>,
    /// Content digest.
    pub digest: String,
    /// One line.
    pub summary: String,
    /// Extra facts.
    pub attributes: Attributes,
}

/// Calls a kinetic pack.
pub struct KineticClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn KineticGuest,
}

impl<'a> KineticClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn KineticGuest) -> Self {
        Self { calls, guest }
    }

    /// `kinetic.describe`.
    pub fn describe(&mut self) -> Result<TargetInfo> {
        self.calls
            .call("kinetic.describe", |s| self.guest.describe(s))
    }

    /// `kinetic.list-solutions`.
    pub fn list_solutions(&mut self) -> Result<Vec<Solution>> {
        self.calls
            .call("kinetic.list-solutions", |s| self.guest.list_solutions(s))
    }

    /// `kinetic.backup-solution`.
    pub fn backup_solution(&mut self, solution: &str) -> Result<SolutionBackup> {
        let out = self.calls.call("kinetic.backup-solution", |s| {
            self.guest.backup_solution(s, solution)
        })?;
        self.calls
            .check_output("kinetic.backup-solution", out.document.len())?;
        Ok(out)
    }

    /// `kinetic.recreate-solution`.
    pub fn recreate_solution(&mut self, document: &str, replace: bool) -> Result<Solution> {
        self.calls.call("kinetic.recreate-solution", |s| {
            self.guest.recreate_solution(s, document, replace)
        })
    }

    /// `kinetic.build-solution`.
    pub fn build_solution(&mut self, solution: &str) -> Result<BuiltPackage> {
        let out = self.calls.call("kinetic.build-solution", |s| {
            self.guest.build_solution(s, solution)
        })?;
        self.calls.check_output(
            "kinetic.build-solution",
            out.content.len() + out.build_log.len(),
        )?;
        Ok(out)
    }

    /// `kinetic.preflight`.
    pub fn preflight(&mut self, build: &BuiltPackage) -> Result<PreflightReport> {
        self.calls
            .call("kinetic.preflight", |s| self.guest.preflight(s, build))
    }

    /// `kinetic.plan-install`.
    pub fn plan_install(
        &mut self,
        file_name: &str,
        content: &[u8],
        options: InstallOptions,
    ) -> Result<InstallPlan> {
        self.calls.call("kinetic.plan-install", |s| {
            self.guest.plan_install(s, file_name, content, options)
        })
    }

    /// `kinetic.install` with exactly the recorded plan.
    pub fn install(&mut self, plan: &InstallPlan, content: &[u8]) -> Result<InstallReport> {
        self.calls
            .call("kinetic.install", |s| self.guest.install(s, plan, content))
    }

    /// `kinetic.remove-solution`.
    pub fn remove_solution(&mut self, solution: &str) -> Result<bool> {
        self.calls.call("kinetic.remove-solution", |s| {
            self.guest.remove_solution(s, solution)
        })
    }

    /// `kinetic.diff-schema`.
    pub fn diff_schema(&mut self, spec: &TableSpec) -> Result<SchemaDiff> {
        self.calls
            .call("kinetic.diff-schema", |s| self.guest.diff_schema(s, spec))
    }

    /// `kinetic.apply-schema` with exactly the recorded diff.
    pub fn apply_schema(&mut self, spec: &TableSpec, plan: &SchemaDiff) -> Result<SchemaReport> {
        self.calls.call("kinetic.apply-schema", |s| {
            self.guest.apply_schema(s, spec, plan)
        })
    }

    /// `kinetic.conflicting-layers`.
    pub fn conflicting_layers(&mut self, source: &ConflictSource) -> Result<Vec<LayerConflict>> {
        self.calls.call("kinetic.conflicting-layers", |s| {
            self.guest.conflicting_layers(s, source)
        })
    }

    /// `kinetic.list-layers`.
    pub fn list_layers(&mut self, app_id: &str) -> Result<Vec<Layer>> {
        self.calls
            .call("kinetic.list-layers", |s| self.guest.list_layers(s, app_id))
    }

    /// `kinetic.export-layer`.
    pub fn export_layer(&mut self, layer: &LayerRef) -> Result<LayerExport> {
        let out = self.calls.call("kinetic.export-layer", |s| {
            self.guest.export_layer(s, layer)
        })?;
        self.calls
            .check_output("kinetic.export-layer", out.content.len())?;
        Ok(out)
    }

    /// `kinetic.clear-layer`.
    pub fn clear_layer(&mut self, layer: &LayerRef) -> Result<bool> {
        self.calls
            .call("kinetic.clear-layer", |s| self.guest.clear_layer(s, layer))
    }

    /// `kinetic.inventory`: every kind for an empty `kinds`.
    pub fn inventory(&mut self, kinds: &[ItemKind]) -> Result<Vec<InventoryItem>> {
        self.calls
            .call("kinetic.inventory", |s| self.guest.inventory(s, kinds))
    }
}
