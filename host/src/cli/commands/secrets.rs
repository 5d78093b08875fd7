//! `envpack secrets ...`: through the environment's secrets pack.

use std::io::Read;

use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::SecretsCommand;
use crate::cli::output::Report;
use crate::env::audit::{AuditLog, Change, audited};
use crate::env::plan::Plan;
use crate::env::{EnvName, Session};
use crate::error::{Error, Result};

/// Dispatches `envpack secrets`.
pub fn run(ctx: &Ctx, cmd: SecretsCommand) -> Result<Report> {
    let name = ctx.env_name()?;
    if let SecretsCommand::Recipients(cmd) = cmd {
        return super::recipients::run(ctx, &name, cmd);
    }
    let plan = plan_of(&name, &cmd);
    if let Some(plan) = plan
        && let Some(report) = ctx.plan_first(&name, || Ok(plan))?
    {
        return Ok(report);
    }
    Session::scoped(&ctx.home, ctx.runtime()?, &name, |session| {
        Ok(match cmd {
            SecretsCommand::Put {
                key,
                value,
                from_file,
                allow_empty,
            } => {
                let value = read_value(&key, value, from_file)?;
                if value.is_empty() && !allow_empty {
                    return Err(Error::invalid(format!(
                        "the value of secret {key} is empty; nothing was stored"
                    ))
                    .hint(format!(
                        "envpack secrets put --env {name} {key} --from-file FILE (or --allow-empty to store an empty value)"
                    )));
                }
                put(session, &key, &value)?
            }
            SecretsCommand::Get { key } => {
                let value = session
                    .with_secrets(false, |i| i.secrets()?.get(&key))?
                    .ok_or_else(|| {
                        Error::not_found(format!("environment {name} has no secret {key:?}"))
                            .hint(format!("envpack secrets put --env {name} {key}"))
                    })?;
                Report::new(
                    value.clone(),
                    &json!({"environment": name, "name": key, "value": value}),
                )
            }
            SecretsCommand::List => {
                let names = session.with_secrets(false, |i| i.secrets()?.list())?;
                let human = if names.is_empty() {
                    format!("no secrets in {name}")
                } else {
                    names.join("\n")
                };
                Report::new(human, &names).with_names(names.clone())
            }
            // Dispatched above, before any session opens.
            SecretsCommand::Recipients(_) => {
                return Err(Error::internal(
                    "secrets recipients reached the session of secrets commands",
                ));
            }
            SecretsCommand::Rm { key } => {
                let change = Change {
                    verb: "secrets.rm",
                    target: key.clone(),
                    before: json!({"name": key}),
                    after: serde_json::Value::Null,
                };
                let removed = audited(AuditLog::Env(session.records()), change, || {
                    session.with_secrets(true, |i| i.secrets()?.delete(&key))
                })?;
                if !removed {
                    return Err(Error::not_found(format!(
                        "environment {name} has no secret {key:?}"
                    ))
                    .hint(format!("envpack secrets list --env {name}")));
                }
                session.event(
                    "secrets.rm",
                    crate::runtime::Level::Info,
                    vec![("name".into(), key.clone())],
                );
                Report::new(
                    format!("removed secret {key} from {name}"),
                    &json!({"environment": name, "name": key}),
                )
            }
        })
    })
}

/// The plan of a write, for `--dry-run` and production confirmation.
fn plan_of(name: &EnvName, cmd: &SecretsCommand) -> Option<Plan> {
    match cmd {
        SecretsCommand::Put { key, .. } => Some(Plan::new("secrets.put", name, key).change(
            format!("secret {key}"),
            "?",
            "<redacted>",
        )),
        SecretsCommand::Rm { key } => Some(Plan::new("secrets.rm", name, key).change(
            format!("secret {key}"),
            "<redacted>",
            "-",
        )),
        _ => None,
    }
}

/// `secrets put`, audited by name only.
fn put(session: &Session<'_>, key: &str, value: &str) -> Result<Report> {
    let name = session.name();
    let change = Change {
        verb: "secrets.put",
        target: key.to_string(),
        before: serde_json::Value::Null,
        after: json!({"name": key, "value": "<redacted>"}),
    };
    audited(AuditLog::Env(session.records()), change, || {
        session.with_secrets(true, |i| i.secrets()?.put(key, value))
    })?;
    session.event(
        "secrets.put",
        crate::runtime::Level::Info,
        vec![("name".into(), key.to_string())],
    );
    Ok(Report::new(
        format!("stored secret {key} in {name}"),
        &json!({"environment": name, "name": key}),
    ))
}

/// The secret's value: given, from a file, or from standard input (a
/// trailing newline from `echo` is not part of it).
fn read_value(
    key: &str,
    value: Option<String>,
    from_file: Option<std::path::PathBuf>,
) -> Result<String> {
    Ok(match (value, from_file) {
        (Some(v), _) => v,
        (None, Some(path)) => {
            std::fs::read_to_string(&path).map_err(|e| Error::io("read secret file", &path, e))?
        }
        (None, None) if std::io::IsTerminal::is_terminal(&std::io::stdin()) => {
            // At a terminal the value is typed without echo, like a password.
            rpassword::prompt_password(format!("value of {key} (not shown): ")).map_err(|e| {
                Error::invalid(format!("cannot read the secret from the terminal: {e}"))
            })?
        }
        (None, None) => {
            let mut buf = String::new();
            std::io::stdin().read_to_string(&mut buf).map_err(|e| {
                Error::invalid(format!("cannot read the secret from standard input: {e}"))
            })?;
            // A value piped with `echo` ends in a newline that is not part of it.
            if buf.ends_with('\n') {
                buf.pop();
                if buf.ends_with('\r') {
                    buf.pop();
                }
            }
            buf
        }
    })
}
