//! The commands declared in `pack.toml`: `kinetic solutions ...`,
//! `kinetic schema ...`, `kinetic layers ...` and `kinetic inventory`.
//! Mutating ones print their plan first and stop there with `--dry-run`.

mod layers;
mod schema;
mod solutions;

use envpack_sdk::{Args, Error, Output};
use serde_json::{Value, json};

use super::host::{client, to_sdk, ud_tables};
use super::render;
use crate::inventory::{inventory, parse_kind};
use crate::rest::{Io, KineticError};

/// Runs command `name`.
pub fn run(name: &str, args: &Args) -> Result<Output, Error> {
    let r = match name {
        "kinetic solutions list" => solutions::list(args),
        "kinetic solutions backup" => solutions::backup(args),
        "kinetic solutions recreate" => solutions::recreate(args),
        "kinetic solutions build" => solutions::build(args),
        "kinetic solutions install" => solutions::install(args),
        "kinetic solutions remove" => solutions::remove(args),
        "kinetic schema diff" => schema::diff(args),
        "kinetic schema apply" => schema::apply(args),
        "kinetic layers list" => layers::list(args),
        "kinetic layers conflicts" => layers::conflicts(args),
        "kinetic layers export" => layers::export(args),
        "kinetic layers clear" => layers::clear(args),
        "kinetic inventory" => inventory_cmd(args),
        other => {
            return Err(Error::invalid_input(format!(
                "this pack declares no command {other:?}"
            )));
        }
    };
    r.map_err(to_sdk)
}

/// Text plus JSON.
pub fn output(text: String, json: Value) -> Output {
    Output::text(text).with_json(json.to_string())
}

/// A required argument.
pub fn required<'a>(args: &'a Args, name: &str) -> Result<&'a str, KineticError> {
    args.get(name)
        .ok_or_else(|| KineticError::Input(format!("missing argument {name:?}")))
}

fn inventory_cmd(args: &Args) -> Result<Output, KineticError> {
    let c = client(args.get("company"))?;
    let mut kinds = Vec::new();
    for k in args.all("kind") {
        kinds.push(parse_kind(k).ok_or_else(|| {
            KineticError::Input(format!(
                "unknown kind {k:?}; expected solution, installed-solution, ud-table, ud-field, layer, baq, directive or efx-library"
            ))
        })?);
    }
    let (items, skipped) = inventory(&c, &kinds, &ud_tables()?)?;
    let json_items: Vec<Value> = items.iter().map(render::item).collect();
    let doc = json!({"company": c.company(), "items": json_items, "skipped": skipped});
    // The last inventory, so operators (and `state get`) can see what was seen.
    c.io().store("inventory/last", doc.to_string().as_bytes())?;
    let mut text = format!("{} items in company {}\n", items.len(), c.company());
    for i in &items {
        text.push_str(&format!(
            "  {:<18} {:<48} {} {}\n",
            crate::inventory::kind_name(i.kind),
            i.id,
            &i.digest[..i.digest.len().min(19)],
            i.summary
        ));
    }
    if !skipped.is_empty() {
        text.push_str(&format!(
            "  skipped (the server has no service for them): {}\n",
            skipped.join(", ")
        ));
    }
    Ok(output(text.trim_end().to_string(), doc))
}
