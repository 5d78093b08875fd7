//! The `kinetic` interface, exported: each function is one call into the
//! modules above with the environment's settings.

use envpack_sdk::kinetic::KineticPack;
use envpack_sdk::{Args, Error, Output};

use super::host::{build_method, client, to_sdk, ud_tables};
use crate::wit::*;
use crate::{conflicts, inventory, layers, preflight, schema, solutions};

/// The pack.
#[derive(Default)]
pub struct KineticRest;

fn c() -> Result<crate::rest::Client<'static, super::host::HostIo>, Error> {
    client(None).map_err(to_sdk)
}

impl KineticPack for KineticRest {
    fn describe(&self) -> Result<TargetInfo, Error> {
        let c = c()?;
        // The cheap authenticated probe Kinetic clients use after login.
        let q = [
            ("whereClauseUserFile", String::new()),
            ("pageSize", "1".to_string()),
            ("absolutePage", "1".to_string()),
        ];
        let probe = c.get("Erp.BO.UserFileSvc", "GetRows", &q).map_err(to_sdk)?;
        let version = crate::json::field(&probe, "AppVersion");
        let s = c.settings();
        Ok(TargetInfo {
            base_url: s.base_url.clone(),
            company: s.company.clone(),
            plant: s.plant.clone(),
            app_version: Some(version).filter(|v| !v.is_empty()),
            attributes: vec![("api_key_secret".into(), s.api_key_secret.clone())],
        })
    }

    fn list_solutions(&self) -> Result<Vec<Solution>, Error> {
        solutions::list(&c()?).map_err(to_sdk)
    }

    fn backup_solution(&self, solution: String) -> Result<SolutionBackup, Error> {
        solutions::backup(&c()?, &solution).map_err(to_sdk)
    }

    fn recreate_solution(&self, document: String, replace: bool) -> Result<Solution, Error> {
        solutions::recreate(&c()?, &document, replace).map_err(to_sdk)
    }

    fn build_solution(&self, solution: String) -> Result<BuiltPackage, Error> {
        let method = build_method().map_err(to_sdk)?;
        solutions::build::build(&c()?, &solution, method).map_err(to_sdk)
    }

    fn preflight(&self, build: BuiltPackage) -> Result<PreflightReport, Error> {
        Ok(preflight::preflight(&build))
    }

    fn plan_install(
        &self,
        file_name: String,
        content: Vec<u8>,
        options: InstallOptions,
    ) -> Result<InstallPlan, Error> {
        solutions::install::plan(&c()?, &file_name, &content, options).map_err(to_sdk)
    }

    fn install(&self, plan: InstallPlan, content: Vec<u8>) -> Result<InstallReport, Error> {
        solutions::install::install(&c()?, &plan, &content).map_err(to_sdk)
    }

    fn remove_solution(&self, solution: String) -> Result<bool, Error> {
        solutions::remove(&c()?, &solution).map_err(to_sdk)
    }

    fn diff_schema(&self, spec: TableSpec) -> Result<SchemaDiff, Error> {
        let declared = schema::spec::parse(&spec).map_err(to_sdk)?;
        schema::diff::diff(&c()?, &declared)
            .map(|(d, _)| d)
            .map_err(to_sdk)
    }

    fn apply_schema(&self, spec: TableSpec, plan: SchemaDiff) -> Result<SchemaReport, Error> {
        let declared = schema::spec::parse(&spec).map_err(to_sdk)?;
        schema::apply::apply(&c()?, &declared, &plan).map_err(to_sdk)
    }

    fn conflicting_layers(&self, source: ConflictSource) -> Result<Vec<LayerConflict>, Error> {
        match source {
            ConflictSource::Messages(m) => Ok(conflicts::parse(&m)),
            ConflictSource::App(app) => layers::conflicts_for_app(&c()?, &app).map_err(to_sdk),
        }
    }

    fn list_layers(&self, app_id: String) -> Result<Vec<Layer>, Error> {
        layers::list(&c()?, &app_id).map_err(to_sdk)
    }

    fn export_layer(&self, layer: LayerRef) -> Result<LayerExport, Error> {
        layers::export(&c()?, &layer).map_err(to_sdk)
    }

    fn clear_layer(&self, layer: LayerRef) -> Result<bool, Error> {
        layers::clear(&c()?, &layer).map_err(to_sdk)
    }

    fn inventory(&self, kinds: Vec<ItemKind>) -> Result<Vec<InventoryItem>, Error> {
        let tables = ud_tables().map_err(to_sdk)?;
        let (items, skipped) = inventory::inventory(&c()?, &kinds, &tables).map_err(to_sdk)?;
        if !skipped.is_empty() {
            envpack_sdk::log::warn(
                "inventory skipped kinds the server has no service for",
                &[("kinds", &skipped.join(","))],
            );
        }
        Ok(items)
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        super::commands::run(name, args)
    }
}

#[cfg(feature = "export")]
envpack_sdk::export_kinetic!(KineticRest);
