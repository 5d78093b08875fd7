//! `acme.kinetic.fake`: a simulated Kinetic company kept in the pack's
//! private kv, for driving the host's Kinetic lifecycle without a server.
//!
//! kv layout: `installed/<solution>` = version; `layer/<app>~<layer>~<type>~<company>`
//! = content; `journal/<seq>` = the kinetic function called.

use envpack_sdk::kinetic::{
    BuildSource, BuiltPackage, ConflictForm, InstallOptions, InstallPlan, InstallReport,
    InventoryItem, ItemKind, KineticPack, Layer, LayerConflict, LayerExport, LayerRef, LogRecord,
    RecordKind, SchemaDiff, SchemaReport, Solution, SolutionBackup, SyncState, TableSpec,
    TargetInfo,
};
use envpack_sdk::{Args, Error, Output, config, kv};
use sha2::{Digest, Sha256};

#[derive(Default)]
struct Fake;

const LAYER_TYPE: &str = "KNTCCustLayer";

fn sha(bytes: &[u8]) -> String {
    let hex: String = Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("sha256:{hex}")
}

fn company() -> String {
    config::get("company")
        .ok()
        .flatten()
        .unwrap_or_else(|| "EPIC06".into())
}

/// Records a call, so tests can see what the host asked and when. A dry
/// run's kv is read-only, so there the record is skipped.
fn journal(call: &str) -> Result<(), Error> {
    let n = kv::list_keys("journal/")?.len();
    let _ = kv::set(&format!("journal/{n:06}"), call.as_bytes());
    Ok(())
}

/// A package's `key=value` lines.
struct Package {
    solution: String,
    version: String,
    apps: Vec<String>,
    regenerate: bool,
}

fn package(content: &[u8]) -> Result<Package, Error> {
    let text = std::str::from_utf8(content)
        .map_err(|_| Error::invalid_input("the package is not a fake solution package (not text)"))?;
    let get = |k: &str| {
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{k}=")))
            .map(str::trim)
            .map(str::to_string)
    };
    let solution = get("solution")
        .ok_or_else(|| Error::invalid_input("the package names no solution= line"))?;
    Ok(Package {
        solution,
        version: get("version").unwrap_or_else(|| "1.0.0".into()),
        apps: get("apps")
            .map(|a| a.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default(),
        regenerate: get("regenerate").as_deref() == Some("true"),
    })
}

fn layer_key(l: &LayerRef) -> String {
    format!(
        "layer/{}~{}~{}~{}",
        l.app_id,
        l.layer_name,
        l.type_code,
        l.company.clone().unwrap_or_default()
    )
}

/// Every stored layer.
fn layers() -> Result<Vec<(LayerRef, Vec<u8>)>, Error> {
    let mut out = Vec::new();
    for k in kv::list_keys("layer/")? {
        let id = &k["layer/".len()..];
        let parts: Vec<&str> = id.split('~').collect();
        if let [app, name, kind, company] = parts[..] {
            out.push((
                LayerRef {
                    app_id: app.into(),
                    layer_name: name.into(),
                    type_code: kind.into(),
                    company: Some(company.into()),
                    device_type: None,
                    cgc_code: None,
                },
                kv::get(&k)?.unwrap_or_default(),
            ));
        }
    }
    Ok(out)
}

/// The stored layer a (possibly company-less) reference means.
fn find_layer(l: &LayerRef) -> Result<Option<(LayerRef, Vec<u8>)>, Error> {
    Ok(layers()?.into_iter().find(|(r, _)| {
        r.app_id == l.app_id
            && r.layer_name == l.layer_name
            && r.type_code == l.type_code
            && (l.company.is_none() || l.company == r.company)
    }))
}

fn conflicts_for(apps: &[String]) -> Result<Vec<LayerConflict>, Error> {
    let own = company();
    Ok(layers()?
        .into_iter()
        .filter(|(l, _)| apps.contains(&l.app_id) && l.company.as_deref() != Some(own.as_str()))
        .map(|(l, _)| {
            let message = format!(
                "Layer with identifier {}~{}~{} already exists in another company",
                l.app_id, l.layer_name, l.type_code
            );
            LayerConflict {
                layer: LayerRef { company: None, ..l },
                form: ConflictForm::Identifier,
                message,
            }
        })
        .collect())
}

fn sync() -> SyncState {
    SyncState {
        db_exists: true,
        zdata_synced: true,
        data_model_synced: true,
        message: "in sync".into(),
    }
}

impl KineticPack for Fake {
    fn describe(&self) -> Result<TargetInfo, Error> {
        journal("describe")?;
        Ok(TargetInfo {
            base_url: "fake://kinetic".into(),
            company: company(),
            plant: None,
            app_version: Some("2024.1".into()),
            attributes: vec![],
        })
    }

    fn list_solutions(&self) -> Result<Vec<Solution>, Error> {
        journal("list-solutions")?;
        Ok(Vec::new())
    }

    fn backup_solution(&self, solution: String) -> Result<SolutionBackup, Error> {
        Err(Error::not_found(format!("the fake company holds no definition {solution:?}")))
    }

    fn recreate_solution(&self, _document: String, _replace: bool) -> Result<Solution, Error> {
        Err(Error::invalid_input("the fake company keeps no definitions"))
    }

    fn build_solution(&self, solution: String) -> Result<BuiltPackage, Error> {
        journal("build-solution")?;
        let content = format!("solution={solution}\nversion=1.0.0\n").into_bytes();
        Ok(BuiltPackage {
            solution: solution.clone(),
            file_name: format!("{solution}.cab"),
            hash: sha(&content),
            content,
            build_log: "Build complete: 1 succeeded, 0 failed".into(),
            records: vec![],
            has_errors: Some(false),
            source: BuildSource::Inline,
        })
    }

    fn plan_install(
        &self,
        file_name: String,
        content: Vec<u8>,
        options: InstallOptions,
    ) -> Result<InstallPlan, Error> {
        journal("plan-install")?;
        let p = package(&content)?;
        let installed = kv::get(&format!("installed/{}", p.solution))?
            .map(|v| String::from_utf8_lossy(&v).into_owned());
        Ok(InstallPlan {
            summary: format!("install {} {} into {}", p.solution, p.version, company()),
            predicted_conflicts: conflicts_for(&p.apps)?,
            solution: p.solution,
            file_name,
            package_digest: sha(&content),
            destination_version: p.version.clone(),
            package_version: p.version,
            installed_version: installed,
            min_app_version: None,
            source_company: "EPIC03".into(),
            options,
            settings: "{\"MainInstallSettings\":[]}".into(),
            attributes: vec![],
        })
    }

    fn install(&self, plan: InstallPlan, content: Vec<u8>) -> Result<InstallReport, Error> {
        journal("install")?;
        if sha(&content) != plan.package_digest {
            return Err(Error::invalid_input("the package is not the planned one"));
        }
        let p = package(&content)?;
        let conflicts = conflicts_for(&p.apps)?;
        if !conflicts.is_empty() {
            return Ok(InstallReport {
                has_errors: true,
                records: conflicts
                    .iter()
                    .map(|c| LogRecord {
                        kind: RecordKind::Error,
                        at: None,
                        message: c.message.clone(),
                    })
                    .collect(),
                conflicts,
                regenerate_data_model: false,
                installed_version: None,
                attributes: vec![],
            });
        }
        kv::set(&format!("installed/{}", p.solution), p.version.as_bytes())?;
        Ok(InstallReport {
            has_errors: false,
            records: vec![LogRecord {
                kind: RecordKind::Info,
                at: None,
                message: format!("installed {} {}", p.solution, p.version),
            }],
            conflicts: vec![],
            regenerate_data_model: p.regenerate,
            installed_version: Some(p.version),
            attributes: vec![],
        })
    }

    fn remove_solution(&self, _solution: String) -> Result<bool, Error> {
        Ok(false)
    }

    fn diff_schema(&self, spec: TableSpec) -> Result<SchemaDiff, Error> {
        let _ = spec;
        Ok(SchemaDiff {
            system_code: "ICE".into(),
            table: "UD01".into(),
            table_exists: true,
            missing: vec![],
            extra: vec![],
            drifted: vec![],
            sync: sync(),
        })
    }

    fn apply_schema(&self, _spec: TableSpec, plan: SchemaDiff) -> Result<SchemaReport, Error> {
        Ok(SchemaReport {
            system_code: plan.system_code,
            table: plan.table,
            created: vec![],
            updated: vec![],
            sync: sync(),
        })
    }

    fn list_layers(&self, app_id: String) -> Result<Vec<Layer>, Error> {
        Ok(layers()?
            .into_iter()
            .filter(|(l, _)| l.app_id == app_id)
            .map(|(layer, content)| Layer {
                layer,
                published: true,
                has_draft: false,
                system: false,
                last_updated: None,
                last_updated_by: None,
                digest: sha(&content),
            })
            .collect())
    }

    fn export_layer(&self, layer: LayerRef) -> Result<LayerExport, Error> {
        journal("export-layer")?;
        let (found, content) = find_layer(&layer)?
            .ok_or_else(|| Error::not_found(format!("no layer {}~{}", layer.app_id, layer.layer_name)))?;
        Ok(LayerExport {
            file_name: format!("{}~{}.zip", found.app_id, found.layer_name),
            digest: sha(&content),
            layer: found,
            content,
        })
    }

    fn clear_layer(&self, layer: LayerRef) -> Result<bool, Error> {
        journal("clear-layer")?;
        match find_layer(&layer)? {
            Some((found, _)) => kv::delete(&layer_key(&found)),
            None => Ok(false),
        }
    }

    fn inventory(&self, kinds: Vec<ItemKind>) -> Result<Vec<InventoryItem>, Error> {
        journal("inventory")?;
        let wants = |k: ItemKind| kinds.is_empty() || kinds.contains(&k);
        let mut out = Vec::new();
        if wants(ItemKind::InstalledSolution) {
            for k in kv::list_keys("installed/")? {
                let version = String::from_utf8_lossy(&kv::get(&k)?.unwrap_or_default()).into_owned();
                let id = k["installed/".len()..].to_string();
                out.push(InventoryItem {
                    kind: ItemKind::InstalledSolution,
                    digest: sha(format!("{id}={version}").as_bytes()),
                    summary: format!("{id} {version}"),
                    id,
                    version: Some(version),
                    attributes: vec![],
                });
            }
        }
        if wants(ItemKind::Layer) {
            for (l, content) in layers()? {
                out.push(InventoryItem {
                    kind: ItemKind::Layer,
                    id: format!(
                        "{}~{}~{}~{}",
                        l.app_id,
                        l.layer_name,
                        l.type_code,
                        l.company.unwrap_or_default()
                    ),
                    version: None,
                    digest: sha(&content),
                    summary: "a UI layer".into(),
                    attributes: vec![],
                });
            }
        }
        Ok(out)
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        match name {
            "fake layer add" => {
                let layer = LayerRef {
                    app_id: args.required("app")?.into(),
                    layer_name: args.required("layer")?.into(),
                    type_code: LAYER_TYPE.into(),
                    company: Some(args.required("company")?.into()),
                    device_type: None,
                    cgc_code: None,
                };
                if args.flag("dry-run") {
                    return Ok(Output::text(format!("would add layer {}", layer_key(&layer))));
                }
                kv::set(&layer_key(&layer), args.get("content").unwrap_or("{}").as_bytes())?;
                Ok(Output::text(format!("added {}", layer_key(&layer))))
            }
            "fake installed" => {
                let mut pairs = Vec::new();
                for k in kv::list_keys("installed/")? {
                    let v = String::from_utf8_lossy(&kv::get(&k)?.unwrap_or_default()).into_owned();
                    pairs.push(format!("{:?}:{v:?}", &k["installed/".len()..]));
                }
                Ok(Output {
                    text: pairs.join("\n"),
                    json: Some(format!("{{{}}}", pairs.join(","))),
                })
            }
            "fake journal" => {
                let mut calls = Vec::new();
                for k in kv::list_keys("journal/")? {
                    calls.push(String::from_utf8_lossy(&kv::get(&k)?.unwrap_or_default()).into_owned());
                }
                let json = format!(
                    "[{}]",
                    calls.iter().map(|c| format!("{c:?}")).collect::<Vec<_>>().join(",")
                );
                Ok(Output {
                    text: calls.join("\n"),
                    json: Some(json),
                })
            }
            other => Err(Error::invalid_input(format!("no command {other:?}"))),
        }
    }
}

envpack_sdk::export_kinetic!(Fake);
