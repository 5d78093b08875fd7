//! `envpack pack ...`: build, inspect, install, list, remove, verify, call.

use std::collections::BTreeMap;
use std::path::Path;

use envpack_descriptor::Descriptor;
use envpack_manifest::{Capability, Digest, exported_interfaces, read_manifest};
use serde_json::json;

use crate::builder::{self, BuildOptions};
use crate::cli::Ctx;
use crate::cli::args::{CallArgs, PackCommand};
use crate::cli::output::{Report, table};
use crate::env::plan::Plan;
use crate::error::{Error, Result};
use crate::packs;
use crate::registry::PackSource;
use crate::store::findings_error;

mod dev;
mod new;

/// Dispatches `envpack pack`.
pub fn run(ctx: &Ctx, cmd: PackCommand) -> Result<Report> {
    match cmd {
        PackCommand::Build(a) => build(ctx, a),
        PackCommand::Inspect { file } => inspect(&file),
        PackCommand::Install { packs, insecure } => install(ctx, &packs, insecure),
        PackCommand::Outdated => super::registry::pack_outdated(ctx),
        PackCommand::Push {
            file,
            destination,
            insecure,
        } => super::registry::pack_push(ctx, &file, &destination, insecure),
        PackCommand::List => list(ctx),
        PackCommand::Remove { descriptor, force } => remove(ctx, descriptor, force),
        PackCommand::Verify => verify(ctx),
        PackCommand::Call(a) => call(ctx, a),
        PackCommand::Test(a) => super::pack_test::run(ctx, a),
        PackCommand::New(a) => new::run(a),
        PackCommand::Dev(a) => dev::run(ctx, a),
    }
}

fn build(ctx: &Ctx, a: crate::cli::args::BuildArgs) -> Result<Report> {
    let built = builder::build(
        &BuildOptions {
            dir: a.dir,
            out_dir: a.out,
            debug: a.debug,
            dev: false,
            target_dir: a.target_dir,
            quiet: ctx.json,
        },
        &crate::cli::progress::Terminal,
    )?;
    let human = format!(
        "built {} -> {}\n  digest {}\n  size   {} bytes",
        built.manifest.descriptor,
        built.path.display(),
        built.digest,
        built.size
    );
    Ok(Report::new(human, &built))
}

fn install(ctx: &Ctx, args: &[String], insecure: bool) -> Result<Report> {
    let sources = args
        .iter()
        .map(|a| PackSource::parse(a))
        .collect::<Result<Vec<_>>>()?;
    if ctx.dry_run {
        let mut plan = Plan::home("pack.install", sources.len().to_string() + " pack(s)");
        for source in &sources {
            plan = match source {
                PackSource::File(file) => {
                    let bytes =
                        std::fs::read(file).map_err(|e| Error::io("read pack file", file, e))?;
                    let manifest = read_manifest(&bytes)
                        .map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?;
                    plan.change(
                        format!("pack {}", manifest.descriptor),
                        "-",
                        format!("installed ({})", Digest::of(&bytes)),
                    )
                }
                PackSource::Oci(r) => {
                    plan.change(format!("pack from {r}"), "-", "pulled, verified, installed")
                }
                PackSource::Requirement(req) => plan.change(
                    format!("pack {req}"),
                    "-",
                    "installed, or found in the registries (envpack registry list) and pulled",
                ),
            };
        }
        return Ok(Report::new(
            format!("{}\ndry run: nothing was changed", plan.human()),
            &plan,
        ));
    }
    let outcomes = crate::registry::install(&ctx.home, ctx.runtime()?, &sources, insecure)?;
    let human = outcomes
        .iter()
        .map(|o| {
            let i = &o.installed;
            let from = o.origin.as_ref().map_or(String::new(), |g| {
                format!("\n          from {} ({})", g.reference, g.manifest)
            });
            format!("{:<9} {} ({}){from}", i.outcome, i.descriptor, i.digest)
        })
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Report::new(human, &outcomes))
}

fn list(ctx: &Ctx) -> Result<Report> {
    let list = ctx.store().list()?;
    let human = if list.is_empty() {
        "no packs installed; help: envpack pack install <FILE.wasm>".to_string()
    } else {
        table(
            &["descriptor", "digest", "size", "installed", "build"],
            list.iter()
                .map(|p| {
                    vec![
                        p.descriptor.to_string(),
                        format!("sha256:{}", p.digest.short()),
                        p.size.to_string(),
                        p.installed_at.clone(),
                        build_kind(&p.descriptor).to_string(),
                    ]
                })
                .collect(),
        )
    };
    let names = list.iter().map(|p| p.descriptor.to_string()).collect();
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|p| {
            let mut v = json!(p);
            v["dev"] = json!(crate::devloop::is_dev(&p.descriptor));
            v
        })
        .collect();
    Ok(Report::new(human, &rows).with_names(names))
}

/// `dev` for a build of `envpack pack dev`, else `release`.
fn build_kind(d: &Descriptor) -> &'static str {
    if crate::devloop::is_dev(d) {
        "dev"
    } else {
        "release"
    }
}

fn remove(ctx: &Ctx, descriptor: String, force: bool) -> Result<Report> {
    let d: Descriptor = descriptor.parse()?;
    if ctx.dry_run {
        ctx.store().load(&d, None)?;
        let plan = Plan::home("pack.remove", d.to_string()).change(
            format!("pack {d}"),
            "installed",
            "removed",
        );
        return Ok(Report::new(
            format!("{}\ndry run: nothing was changed", plan.human()),
            &plan,
        ));
    }
    let digest = crate::env::remove_pack(&ctx.home, &d, force)?;
    Ok(Report::new(
        format!("removed {d} ({digest})"),
        &json!({"descriptor": d, "digest": digest}),
    ))
}

fn verify(ctx: &Ctx) -> Result<Report> {
    let (count, findings) = ctx.store().verify()?;
    if let Some(err) = findings_error(&findings) {
        for f in &findings {
            eprintln!("{}: {}\n  fix: {}", f.severity, f.message, f.fix);
        }
        return Err(err.with_details(json!({"verified": count, "findings": findings})));
    }
    let mut human = format!("verified {count} pack(s): all match their digests");
    for f in &findings {
        human.push_str(&format!(
            "\n{}: {}\n  fix: {}",
            f.severity, f.message, f.fix
        ));
    }
    Ok(Report::new(
        human,
        &json!({"verified": count, "findings": findings}),
    ))
}

fn inspect(file: &Path) -> Result<Report> {
    let bytes = std::fs::read(file).map_err(|e| Error::io("read pack file", file, e))?;
    let manifest =
        read_manifest(&bytes).map_err(|e| Error::invalid(format!("{}: {e}", file.display())))?;
    let exports = exported_interfaces(&bytes).map_err(|e| Error::invalid(e.to_string()))?;
    let digest = Digest::of(&bytes);
    let mut human = format!(
        "{}\n  {}\n  digest       {digest}\n  size         {} bytes\n  api version  {}\n  exports      {}\n",
        manifest.descriptor,
        manifest.description,
        bytes.len(),
        manifest.api_version,
        exports.join(", ")
    );
    let caps: Vec<String> = manifest
        .requested()
        .iter()
        .map(ToString::to_string)
        .collect();
    human.push_str(&format!(
        "  capabilities {}\n",
        if caps.is_empty() {
            "none".to_string()
        } else {
            caps.join(", ")
        }
    ));
    for c in &manifest.commands {
        human.push_str(&format!(
            "  command      envpack {}  # {}\n",
            c.name, c.about
        ));
    }
    let mut value = serde_json::to_value(&manifest).unwrap_or_default();
    if let Some(obj) = value.as_object_mut() {
        obj.insert("digest".into(), json!(digest));
        obj.insert("size".into(), json!(bytes.len()));
        obj.insert("exports".into(), json!(exports));
        obj.insert("requested".into(), json!(caps));
    }
    Ok(Report::raw(human, value, 0))
}

fn call(ctx: &Ctx, a: CallArgs) -> Result<Report> {
    let config = pairs("--config", &a.config, |kv| {
        Err(Error::invalid(format!("--config {kv:?} is not KEY=VALUE")))
    })?;
    let secrets = pairs("--secret", &a.secrets, |name| {
        std::env::var(name).map_err(|_| {
            Error::invalid(format!(
                "--secret {name:?} has no value and no environment variable {name} is set"
            ))
            .hint(format!("give the value: --secret {name}=VALUE"))
        })
    })?;
    let grants = a
        .grants
        .iter()
        .map(|g| g.parse::<Capability>().map_err(Error::from))
        .collect::<Result<Vec<_>>>()?;
    let out = packs::call(
        &ctx.home,
        ctx.runtime()?,
        &packs::CallOptions {
            pack: &a.pack,
            grants,
            grant_requested: a.grant_requested,
            config,
            secrets,
            calls: &a.calls,
        },
    )?;
    let human = out
        .calls
        .iter()
        .map(|c| c.result.clone())
        .collect::<Vec<_>>()
        .join("\n");
    Ok(Report::new(human, &out))
}

/// `KEY=VALUE` options as a map; `alone` decides what a bare `KEY` means.
fn pairs(
    flag: &str,
    values: &[String],
    alone: impl Fn(&str) -> Result<String>,
) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in values {
        let (k, v) = match kv.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (kv.clone(), alone(kv)?),
        };
        if k.is_empty() {
            return Err(Error::invalid(format!("{flag} {kv:?} has an empty name")));
        }
        out.insert(k, v);
    }
    Ok(out)
}
