//! The `kinetic` interface's types, as the SDK exposes them.

pub use envpack_sdk::kinetic::{
    BuildSource, BuiltPackage, ConflictForm, ConflictSource, FieldDrift, InstallOptions,
    InstallPlan, InstallReport, InventoryItem, ItemKind, Layer, LayerConflict, LayerExport,
    LayerRef, LogRecord, PreflightReport, PropertyDrift, RecordKind, SchemaDiff, SchemaReport,
    Solution, SolutionBackup, SpecFormat, SyncState, TableSpec, TargetInfo, VerdictBasis,
};
