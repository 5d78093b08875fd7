//! Where a PostgreSQL backend lives: the URL an operator gives
//! (`postgres://USER@HOST:PORT/DB?schema=NAME`), its password from a file
//! or the environment, and the URL as it may be shown (never with a
//! password).
//!
//! A password inside the URL is accepted from `ENVPACK_BACKEND` (a CI
//! secret) but never stored in a home's settings and never shown: every
//! message, log line and `--json` output uses [`Target::shown`].

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::error::{Error, Result};

/// The schema envpack's tables live in when the URL names none.
pub const DEFAULT_SCHEMA: &str = "envpack";

/// The environment variables a password is read from, in order.
pub const PASSWORD_VARS: [&str; 2] = ["ENVPACK_BACKEND_PASSWORD", "PGPASSWORD"];

/// A parsed PostgreSQL target.
#[derive(Clone)]
pub struct Target {
    /// The connection settings (password included, never printed).
    pub config: tokio_postgres::Config,
    /// The schema holding envpack's tables.
    pub schema: String,
    /// The URL without its password, for messages.
    pub shown: String,
    /// The URL as given, minus any password: what a home stores.
    pub stored: String,
    /// Whether the given URL carried a password of its own.
    pub inline_password: bool,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

/// Whether `s` names a PostgreSQL target.
pub fn is_postgres_url(s: &str) -> bool {
    s.starts_with("postgres://") || s.starts_with("postgresql://")
}

/// `url` with any password replaced by `***`: safe to print.
pub fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_string();
    };
    let (authority, tail) = match rest.find(['/', '?']) {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    let tail = redact_query_password(tail);
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return format!("{scheme}://{authority}{tail}");
    };
    let user = match userinfo.split_once(':') {
        Some((user, _)) => format!("{user}:***"),
        None => userinfo.to_string(),
    };
    format!("{scheme}://{user}@{host}{tail}")
}

fn redact_query_password(tail: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let pairs: Vec<String> = query
        .split('&')
        .map(|p| match p.split_once('=') {
            Some(("password", _)) => "password=***".to_string(),
            _ => p.to_string(),
        })
        .collect();
    format!("{path}?{}", pairs.join("&"))
}

/// Removes the userinfo password and a `password=` parameter.
fn without_password(url: &str) -> String {
    redact(url)
        .replace(":***@", "@")
        .replace("&password=***", "")
        .replace("?password=***&", "?")
        .replace("?password=***", "")
}

fn valid_schema(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && s.len() <= 63
}

/// Splits envpack's own `schema=` parameter off the URL.
fn split_schema(url: &str) -> Result<(String, String)> {
    let Some((base, query)) = url.split_once('?') else {
        return Ok((url.to_string(), DEFAULT_SCHEMA.to_string()));
    };
    let mut schema = DEFAULT_SCHEMA.to_string();
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("schema", v)) => schema = v.to_string(),
            _ => rest.push(pair),
        }
    }
    if !valid_schema(&schema) {
        return Err(Error::invalid(format!(
            "schema {schema:?} in the backend URL is not a valid schema name (lowercase letters, digits and _, starting with a letter or _)"
        ))
        .hint("envpack backend set postgres://USER@HOST:PORT/DB?schema=envpack"));
    }
    let base = if rest.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", rest.join("&"))
    };
    Ok((base, schema))
}

/// Reads a password file: its first line, without the newline.
pub fn read_password_file(path: &Path) -> Result<String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::io("read the backend password file", path, e))?;
    Ok(text.lines().next().unwrap_or("").to_string())
}

impl Target {
    /// Parses `url`; the password comes from the URL, else
    /// `password_file`, else the first of [`PASSWORD_VARS`] that is set.
    pub fn parse(url: &str, password_file: Option<&PathBuf>) -> Result<Self> {
        let shown = redact(url);
        if !is_postgres_url(url) {
            return Err(Error::invalid(format!(
                "backend {shown:?} is neither `fs` nor a postgres:// URL"
            ))
            .hint("envpack backend set postgres://USER@HOST:PORT/DB"));
        }
        let (base, schema) = split_schema(url)?;
        let mut config = tokio_postgres::Config::from_str(&base).map_err(|e| {
            Error::invalid(format!("backend URL {shown:?} is not valid: {e}"))
                .hint("envpack backend set postgres://USER@HOST:PORT/DB")
        })?;
        let inline_password = config.get_password().is_some();
        if !inline_password {
            let from_file = password_file.map(|p| read_password_file(p)).transpose()?;
            let from_env = || PASSWORD_VARS.iter().find_map(|v| std::env::var(v).ok());
            if let Some(pw) = from_file.or_else(from_env) {
                config.password(pw);
            }
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(10));
        }
        if config.get_application_name().is_none() {
            config.application_name("envpack");
        }
        let stored = without_password(url);
        Ok(Self {
            config,
            schema,
            shown,
            stored,
            inline_password,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_never_shown() {
        let cases = [
            (
                "postgres://u:secret@h:5432/db",
                "postgres://u:***@h:5432/db",
            ),
            ("postgres://u@h/db", "postgres://u@h/db"),
            (
                "postgresql://u:s%40x@h/db?schema=t1",
                "postgresql://u:***@h/db?schema=t1",
            ),
            (
                "postgres://h/db?user=u&password=secret",
                "postgres://h/db?user=u&password=***",
            ),
            ("postgres://u:p@h", "postgres://u:***@h"),
        ];
        for (url, want) in cases {
            assert_eq!(redact(url), want, "{url}");
            assert!(!without_password(url).contains("secret"), "{url}");
        }
    }

    #[test]
    fn the_schema_parameter_is_envpacks_own() {
        let t = Target::parse("postgres://u@127.0.0.1:1/db?schema=team_a", None).expect("parse");
        assert_eq!(t.schema, "team_a");
        assert_eq!(t.config.get_dbname(), Some("db"));
        let t = Target::parse("postgres://u@127.0.0.1:1/db", None).expect("parse");
        assert_eq!(t.schema, DEFAULT_SCHEMA);
        assert!(Target::parse("postgres://u@h/db?schema=Bad-Name", None).is_err());
        assert!(Target::parse("mysql://u@h/db", None).is_err());
    }

    #[test]
    fn an_inline_password_is_not_stored() {
        let t = Target::parse("postgres://u:pw@127.0.0.1:1/db?schema=x", None).expect("parse");
        assert!(t.inline_password);
        assert_eq!(t.stored, "postgres://u@127.0.0.1:1/db?schema=x");
        assert_eq!(t.config.get_password(), Some(&b"pw"[..]));
    }
}
