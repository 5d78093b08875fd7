//! `kinetic layers list|conflicts|export|clear`.

use envpack_sdk::{Args, Output, log};
use serde_json::json;

use super::{output, required};
use crate::conflicts;
use crate::layers;
use crate::pack::host::client;
use crate::pack::{artifacts, render};
use crate::rest::KineticError;
use crate::wit::LayerRef;

fn layer_arg(args: &Args) -> Result<LayerRef, KineticError> {
    Ok(LayerRef {
        app_id: required(args, "app")?.to_string(),
        layer_name: required(args, "layer")?.to_string(),
        type_code: args
            .get("type")
            .unwrap_or(conflicts::DEFAULT_TYPE)
            .to_string(),
        company: args.get("layer-company").map(str::to_string),
        device_type: None,
        cgc_code: None,
    })
}

pub fn list(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let app = required(args, "app")?;
    let all = layers::list(&c, app)?;
    let mut text = format!("{} layers of {app}\n", all.len());
    for l in &all {
        text.push_str(&format!(
            "  {}{}{}\n",
            render::layer_text(&l.layer),
            if l.published { "" } else { " unpublished" },
            if l.system { " system" } else { "" }
        ));
    }
    Ok(output(
        text.trim_end().to_string(),
        json!({"app": app, "layers": all.iter().map(render::layer).collect::<Vec<_>>()}),
    ))
}

pub fn conflicts(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let found = match args.get("app") {
        Some(app) => layers::conflicts_for_app(&c, app)?,
        None => {
            let messages = args.all("message").to_vec();
            if messages.is_empty() {
                return Err(KineticError::Input(
                    "give --app <AppId> or one or more --message <install message>".into(),
                ));
            }
            conflicts::parse(&messages)
        }
    };
    let mut text = format!("{} conflicting layers\n", found.len());
    for f in &found {
        text.push_str(&format!("  {}\n", render::layer_text(&f.layer)));
    }
    Ok(output(
        text.trim_end().to_string(),
        json!({"conflicts": found.iter().map(render::conflict).collect::<Vec<_>>()}),
    ))
}

fn export_and_keep(
    c: &crate::rest::Client<'_, crate::pack::host::HostIo>,
    r: &LayerRef,
) -> Result<(crate::wit::LayerExport, String), KineticError> {
    let e = layers::export(c, r)?;
    let company = e
        .layer
        .company
        .clone()
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "all".into());
    let path = artifacts::save("layers", &company, &e.file_name, &e.content)?;
    log::info(
        "exported a layer",
        &[
            ("layer", &render::layer_text(&e.layer)),
            ("digest", &e.digest),
        ],
    );
    Ok((e, path.display().to_string()))
}

pub fn export(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let (e, path) = export_and_keep(&c, &layer_arg(args)?)?;
    Ok(output(
        format!(
            "exported {} ({} bytes, {})\n  kept as {path}",
            render::layer_text(&e.layer),
            e.content.len(),
            e.digest
        ),
        json!({"layer": render::layer_ref(&e.layer), "file_name": e.file_name, "digest": e.digest, "size": e.content.len(), "path": path}),
    ))
}

pub fn clear(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let r = layer_arg(args)?;
    let found = layers::find(&c, &r)?;
    let Some(layer) = found else {
        return Ok(output(
            format!(
                "layer {} does not exist: nothing to clear",
                render::layer_text(&r)
            ),
            json!({"cleared": false}),
        ));
    };
    let what = render::layer_text(&layer.layer);
    let plan = format!("plan:\n  1. export {what} (kept in the pack's scratch)\n  2. clear {what}");
    if args.flag("dry-run") {
        return Ok(output(
            format!("{plan}\ndry run: nothing changed"),
            json!({"dry_run": true, "layer": render::layer_ref(&layer.layer)}),
        ));
    }
    // Never clear what was not exported first.
    let (e, path) = export_and_keep(&c, &layer.layer)?;
    let cleared = layers::clear(&c, &layer.layer)?;
    log::info("cleared a layer", &[("layer", &what)]);
    Ok(output(
        format!("{plan}\nexported to {path} ({})\ncleared {what}", e.digest),
        json!({"layer": render::layer_ref(&layer.layer), "export": {"digest": e.digest, "path": path}, "cleared": cleared}),
    ))
}
