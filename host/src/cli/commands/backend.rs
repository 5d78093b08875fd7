//! `envpack backend show | set | migrate | copy`.

use serde_json::json;

use crate::backend::postgres::{PgBackend, schema};
use crate::backend::settings::{self, Choice};
use crate::backend::{Backend, copy};
use crate::cli::Ctx;
use crate::cli::args::BackendCommand;
use crate::cli::output::Report;
use crate::error::{Error, Result};

/// `envpack backend ...`.
pub fn run(ctx: &Ctx, cmd: BackendCommand) -> Result<Report> {
    match cmd {
        BackendCommand::Show => show(ctx),
        BackendCommand::Set {
            backend,
            password_file,
        } => set(ctx, &backend, password_file),
        BackendCommand::Migrate => migrate(ctx),
        BackendCommand::Copy {
            from,
            to,
            password_file,
        } => copy_cmd(ctx, &from, &to, password_file),
    }
}

fn postgres(ctx: &Ctx, choice: &Choice) -> Result<Option<PgBackend>> {
    choice.postgres_unchecked(&ctx.home)
}

fn password_source(choice: &Choice) -> String {
    match choice {
        Choice::Fs => "none".into(),
        Choice::Postgres {
            target,
            password_file,
        } => match (target.inline_password, password_file) {
            (true, _) => "the URL (ENVPACK_BACKEND)".into(),
            (false, Some(file)) => format!("file {}", file.display()),
            (false, None) => settings::password_vars()
                .iter()
                .find(|v| std::env::var_os(v).is_some())
                .map_or("none".into(), |v| format!("${v}")),
        },
    }
}

fn show(ctx: &Ctx) -> Result<Report> {
    let chosen = settings::chosen(&ctx.home)?;
    let shown = chosen.choice.shown();
    let Some(pg) = postgres(ctx, &chosen.choice)? else {
        let path = chosen.choice.open(&ctx.home, false)?.describe();
        let human = format!("backend: {path}\nchosen by: {}\n", chosen.source);
        return Ok(Report::new(
            human,
            &json!({"backend": "fs", "path": path.strip_prefix("fs:").unwrap_or(&path), "source": chosen.source}),
        ));
    };
    let (found, want) = (pg.schema_version()?, schema::expected());
    let leases = if found >= 1 { pg.leases()? } else { Vec::new() };
    let mut human = format!(
        "backend: {shown}\nchosen by: {}\npassword from: {}\nschema version: {found} (this envpack expects {want})\n",
        chosen.source,
        password_source(&chosen.choice)
    );
    if found < want {
        human.push_str("help: envpack backend migrate\n");
    }
    for (env, scope, who, left) in &leases {
        human.push_str(&format!(
            "lease: {env} {scope} held by {who} ({left:.0}s left)\n"
        ));
    }
    let leases: Vec<_> = leases
        .iter()
        .map(|(env, scope, who, left)| json!({"environment": env, "scope": scope, "holder": who, "expires_in_secs": left}))
        .collect();
    Ok(Report::new(
        human,
        &json!({
            "backend": "postgres", "url": shown, "source": chosen.source,
            "password_from": password_source(&chosen.choice),
            "schema_version": found, "expected_schema_version": want, "leases": leases,
        }),
    ))
}

fn set(ctx: &Ctx, spec: &str, password_file: Option<std::path::PathBuf>) -> Result<Report> {
    let choice = Choice::parse(spec, password_file)?;
    let shown = choice.shown();
    // Reachable before it is stored: a typo fails here, not on the next verb.
    let version = postgres(ctx, &choice)?
        .map(|pg| pg.schema_version())
        .transpose()?;
    settings::store(&ctx.home, &choice)?;
    if std::env::var_os("ENVPACK_BACKEND").is_some() {
        tracing::warn!("ENVPACK_BACKEND is set and overrides the home's backend in this shell");
    }
    let want = schema::expected();
    let mut human = format!("backend: {shown}\n");
    if let Some(found) = version.filter(|v| *v != want) {
        human.push_str(&format!(
            "schema version {found}, this envpack expects {want}\nhelp: envpack backend migrate\n"
        ));
    }
    Ok(Report::new(
        human,
        &json!({"backend": if version.is_some() { "postgres" } else { "fs" }, "url": shown,
                "schema_version": version, "expected_schema_version": version.map(|_| want)}),
    ))
}

fn migrate(ctx: &Ctx) -> Result<Report> {
    let chosen = settings::chosen(&ctx.home)?;
    let Some(pg) = postgres(ctx, &chosen.choice)? else {
        return Err(
            Error::invalid("the home uses the fs backend, which has no schema to migrate")
                .hint("envpack backend show"),
        );
    };
    let done = pg.migrate()?;
    let human = if done.from == done.to {
        format!(
            "schema of {} is at version {} already\n",
            pg.describe(),
            done.to
        )
    } else {
        format!(
            "migrated {} from schema version {} to {}\n",
            pg.describe(),
            done.from,
            done.to
        )
    };
    Ok(Report::new(
        human,
        &json!({"url": pg.describe(), "from": done.from, "to": done.to}),
    ))
}

/// `fs`, `current`, or a URL, opened for a copy; an empty PostgreSQL
/// target is migrated first.
fn open_side(
    ctx: &Ctx,
    spec: &str,
    password_file: Option<std::path::PathBuf>,
    target: bool,
) -> Result<std::sync::Arc<dyn Backend>> {
    let choice = if spec == "current" {
        settings::chosen(&ctx.home)?.choice
    } else {
        Choice::parse(spec, password_file)?
    };
    if let Some(pg) = postgres(ctx, &choice)? {
        let found = pg.schema_version()?;
        if target && found == 0 {
            pg.migrate()?;
        } else if let Some(e) = schema::mismatch(found, &pg.describe()) {
            return Err(e);
        }
        return Ok(std::sync::Arc::new(pg));
    }
    choice.open(&ctx.home, true)
}

fn copy_cmd(
    ctx: &Ctx,
    from: &str,
    to: &str,
    password_file: Option<std::path::PathBuf>,
) -> Result<Report> {
    let source = open_side(ctx, from, password_file.clone(), false)?;
    let target = open_side(ctx, to, password_file, true)?;
    if source.describe() == target.describe() {
        return Err(Error::invalid(format!(
            "--from and --to are the same backend ({})",
            source.describe()
        ))
        .hint("envpack backend show"));
    }
    let copied = copy::copy(source.as_ref(), target.as_ref())?;
    let mut human = format!("copied {} to {} (verified)\n", copied.from, copied.to);
    for e in &copied.environments {
        human.push_str(&format!(
            "  {}: {} records, {} journal lines, {} blobs\n",
            e.name, e.records, e.journal_lines, e.blobs
        ));
    }
    human.push_str(&format!(
        "  home audit: {} lines\n",
        copied.home_audit_lines
    ));
    let current = settings::chosen(&ctx.home)?.choice.shown();
    let target = if to == "fs" {
        "fs".to_string()
    } else {
        copied.to.clone()
    };
    if current == target {
        human.push_str("the home uses that backend already\n");
    } else {
        human.push_str(&format!(
            "the home still uses {current}; to switch: envpack backend set {target}\n"
        ));
    }
    Ok(Report::new(human, &copied))
}
