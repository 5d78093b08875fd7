//! `envpack registry ...`, `pack push`, and `bundle push|pull`: the CLI
//! side of [`crate::registry`].

use std::path::Path;

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::{RegistryAddArgs, RegistryCommand};
use crate::cli::output::{Report, table};
use crate::error::{Error, Result};
use crate::registry::{self, Credentials, Registries, RegistryEntry, SecretFrom};
use crate::types::OciRef;

/// Dispatches `envpack registry`.
pub fn run(ctx: &Ctx, cmd: RegistryCommand) -> Result<Report> {
    match cmd {
        RegistryCommand::Add(a) => add(ctx, a),
        RegistryCommand::List => list(ctx),
        RegistryCommand::Rm { name } => rm(ctx, &name),
        RegistryCommand::Tags {
            repository,
            insecure,
        } => tags(ctx, &repository, insecure),
    }
}

fn add(ctx: &Ctx, a: RegistryAddArgs) -> Result<Report> {
    let password = a
        .password_env
        .map(SecretFrom::Env)
        .or(a.password_file.map(SecretFrom::File));
    let token = a
        .token_env
        .map(SecretFrom::Env)
        .or(a.token_file.map(SecretFrom::File));
    let entry = RegistryEntry {
        name: a.name,
        url: a.url.parse()?,
        insecure: a.insecure,
        credentials: Credentials {
            username: a.username,
            password,
            token,
        },
    };
    let mut registries = Registries::load(&ctx.home)?;
    let previous = registries.add(entry.clone())?;
    let verb = if previous.is_some() {
        "replaced"
    } else {
        "added"
    };
    if ctx.dry_run {
        return Ok(Report::new(
            format!(
                "would have {verb} registry {} ({})\ndry run: nothing was changed",
                entry.name, entry.url
            ),
            &json!({"registry": entry, "previous": previous, "dry_run": true}),
        ));
    }
    home_audited(
        ctx,
        "registry.add",
        &entry.name,
        &previous,
        &Some(&entry),
        || registries.save(),
    )?;
    Ok(Report::new(
        format!(
            "{verb} registry {} ({}, {})\n  install from it: envpack pack install <ns.slot.name>@<requirement>",
            entry.name,
            entry.url,
            entry.credentials.shown()
        ),
        &json!({"registry": entry, "previous": previous}),
    ))
}

fn list(ctx: &Ctx) -> Result<Report> {
    let registries = Registries::load(&ctx.home)?;
    let entries = registries.entries();
    let human = if entries.is_empty() {
        "no registries; help: envpack registry add NAME oci://HOST/PREFIX".to_string()
    } else {
        table(
            &["name", "url", "transport", "login"],
            entries
                .iter()
                .map(|e| {
                    let access = registries.access(&e.url, false);
                    vec![
                        e.name.clone(),
                        e.url.to_string(),
                        if access.plain_http { "http" } else { "https" }.to_string(),
                        e.credentials.shown(),
                    ]
                })
                .collect(),
        )
    };
    let names = entries.iter().map(|e| e.name.clone()).collect();
    Ok(Report::new(human, &entries).with_names(names))
}

fn rm(ctx: &Ctx, name: &str) -> Result<Report> {
    let mut registries = Registries::load(&ctx.home)?;
    let removed = registries.remove(name)?;
    if ctx.dry_run {
        return Ok(Report::new(
            format!(
                "would remove registry {name} ({})\ndry run: nothing was changed",
                removed.url
            ),
            &json!({"removed": removed, "dry_run": true}),
        ));
    }
    home_audited(
        ctx,
        "registry.rm",
        name,
        &Some(&removed),
        &None::<&RegistryEntry>,
        || registries.save(),
    )?;
    Ok(Report::new(
        format!(
            "removed registry {name} ({}); packs installed from it stay installed",
            removed.url
        ),
        &json!({"removed": removed}),
    ))
}

fn tags(ctx: &Ctx, repository: &str, insecure: bool) -> Result<Report> {
    let r: OciRef = repository.parse()?;
    let registries = Registries::load(&ctx.home)?;
    let remote = registry::client::Remote::connect(&registries, &r, insecure)?;
    let tags = remote.tags(&r.unpinned())?;
    let human = if tags.is_empty() {
        format!("{} has no tags", r.unpinned())
    } else {
        tags.join("\n")
    };
    Ok(Report::new(human, &json!({"repository": r.unpinned(), "tags": tags})).with_names(tags))
}

/// A change to the home's registry list, in the home audit log.
fn home_audited(
    ctx: &Ctx,
    verb: &'static str,
    target: &str,
    before: &impl serde::Serialize,
    after: &impl serde::Serialize,
    apply: impl FnOnce() -> Result<()>,
) -> Result<()> {
    use crate::env::audit::{AuditLog, Change, audited};
    let change = Change {
        verb,
        target: target.to_string(),
        before: serde_json::to_value(before).unwrap_or_default(),
        after: serde_json::to_value(after).unwrap_or_default(),
    };
    let backend = crate::backend::open(&ctx.home);
    audited(AuditLog::Home(backend.as_ref(), None), change, apply)
}

/// `envpack pack push FILE DEST`.
pub fn pack_push(ctx: &Ctx, file: &Path, dest: &str, insecure: bool) -> Result<Report> {
    let out = registry::push(&ctx.home, file, dest, insecure)?;
    Ok(Report::new(
        format!(
            "pushed {} to {}\n  manifest {}\n  layer    {} ({} bytes)\n  install it: envpack pack install {}",
            out.descriptor,
            out.reference.unpinned(),
            out.manifest,
            out.digest,
            out.size,
            out.reference.by_digest(out.manifest)
        ),
        &out,
    ))
}

/// `envpack bundle push BUNDLE DEST`.
pub fn bundle_push(ctx: &Ctx, file: &Path, dest: &str, insecure: bool) -> Result<Report> {
    let dest: OciRef = dest.parse()?;
    let out = registry::bundle::push(&ctx.home, file, &dest, insecure)?;
    Ok(Report::new(
        format!(
            "pushed bundle {} {} ({}) to {}\n  manifest  {}\n  signature {}\n  pull it:  envpack bundle pull {}",
            out.name,
            out.version,
            out.bundle,
            out.reference.unpinned(),
            out.manifest,
            if out.signed {
                "pushed with it"
            } else {
                "none (unsigned)"
            },
            out.reference.by_digest(out.manifest)
        ),
        &out,
    ))
}

/// `envpack bundle pull REF [--out FILE]`.
pub fn bundle_pull(
    ctx: &Ctx,
    reference: &str,
    out: Option<&Path>,
    insecure: bool,
) -> Result<Report> {
    let r: OciRef = reference.parse()?;
    let here = std::env::current_dir()
        .map_err(|e| Error::internal(format!("cannot read the working directory: {e}")))?;
    let got = registry::bundle::pull(&ctx.home, &r, out, &here, insecure)?;
    let file = got
        .file
        .as_ref()
        .map_or_else(String::new, |f| f.display().to_string());
    Ok(Report::new(
        format!(
            "pulled bundle {} {} ({}) from {}\n  manifest  {} (verified)\n  file      {file}{}\n  deploy it: envpack deploy {file} --env ENV",
            got.name,
            got.version,
            got.bundle,
            got.reference.unpinned(),
            got.manifest,
            if got.signed {
                format!("\n  signature {file}.sig (verified)")
            } else {
                String::new()
            },
        ),
        &got,
    ))
}

/// `envpack pack outdated --env E`: exit 2 when a tag moved or a newer
/// version is available.
pub fn pack_outdated(ctx: &Ctx) -> Result<Report> {
    let env = ctx.env_name()?;
    let rows = registry::outdated::outdated(&ctx.home, &env)?;
    let attention = rows.iter().filter(|r| r.needs_attention()).count();
    let mut human = table(
        &["slot", "pinned", "tag", "newer"],
        rows.iter()
            .map(|r| {
                let tag = match &r.tag {
                    None => "-".to_string(),
                    Some(t) if t.moved() => format!(
                        "{} MOVED to {}",
                        t.reference,
                        t.current.map_or(String::new(), |d| d.to_string())
                    ),
                    Some(t) if t.current.is_none() => {
                        format!(
                            "{} (cannot check: {})",
                            t.reference,
                            t.error.clone().unwrap_or_default()
                        )
                    }
                    Some(t) => format!("{} (unchanged)", t.reference),
                };
                vec![
                    r.slot.to_string(),
                    r.descriptor.to_string(),
                    tag,
                    r.newer.as_ref().map_or("-".into(), ToString::to_string),
                ]
            })
            .collect(),
    );
    if attention > 0 {
        human.push_str(&format!(
            "\n{attention} pack(s) to look at; {env} keeps running what its lock pins (take a new one on purpose: envpack pack install ... && envpack env bind {env} SLOT REQ)"
        ));
    }
    let report = Report::new(human, &json!({"environment": env, "packs": rows}));
    Ok(if attention > 0 {
        report.exit_with(2)
    } else {
        report
    })
}
