//! Which backend a home uses.
//!
//! `$ENVPACK_HOME/backend.toml` holds the choice (`envpack backend set`);
//! `ENVPACK_BACKEND` (`fs` or a `postgres://` URL) overrides it for one
//! process, with `ENVPACK_BACKEND_PASSWORD_FILE` beside it. Without either,
//! the home uses the filesystem under `envs/`. A password is never stored
//! in the settings: it comes from the password file they name, or from
//! `ENVPACK_BACKEND_PASSWORD` / `PGPASSWORD`.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use super::postgres::{PgBackend, Target, target};
use super::{Backend, fs::FsBackend, unavailable::Unavailable};
use crate::error::{Error, Result};
use crate::home::Home;

/// The settings file in a home.
const FILE: &str = "backend.toml";

/// What `backend.toml` holds.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    /// `fs` or `postgres`.
    kind: String,
    /// The PostgreSQL URL, without a password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    url: Option<String>,
    /// Where the password is read from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    password_file: Option<PathBuf>,
}

/// A home's backend choice.
#[derive(Clone, Debug)]
pub enum Choice {
    /// The filesystem under `envs/`.
    Fs,
    /// A PostgreSQL schema.
    Postgres {
        /// Where.
        target: Box<Target>,
        /// Where the password comes from, if a file.
        password_file: Option<PathBuf>,
    },
}

/// The choice and where it came from.
#[derive(Clone, Debug)]
pub struct Chosen {
    /// The backend.
    pub choice: Choice,
    /// `ENVPACK_BACKEND`, the home's settings file, or the default.
    pub source: String,
}

impl Choice {
    /// `fs`, or the URL without its password.
    pub fn shown(&self) -> String {
        match self {
            Choice::Fs => "fs".into(),
            Choice::Postgres { target, .. } => target.shown.clone(),
        }
    }

    /// Parses `fs` or a URL, with an optional password file.
    pub fn parse(spec: &str, password_file: Option<PathBuf>) -> Result<Self> {
        if spec == "fs" {
            return Ok(Choice::Fs);
        }
        let target = Target::parse(spec, password_file.as_ref())?;
        Ok(Choice::Postgres {
            target: Box::new(target),
            password_file,
        })
    }

    /// Opens it for `home`, checking the schema version unless `checked`
    /// is false (`backend migrate`, `backend show`).
    pub fn open(&self, home: &Home, checked: bool) -> Result<Arc<dyn Backend>> {
        Ok(match self {
            Choice::Fs => Arc::new(FsBackend::new(home.envs_dir())),
            Choice::Postgres { target, .. } => Arc::new(self.postgres(home, target, checked)?),
        })
    }

    /// The PostgreSQL backend it names, connected but its schema version
    /// not checked (`backend show`, `backend migrate`); none for `fs`.
    pub fn postgres_unchecked(&self, home: &Home) -> Result<Option<PgBackend>> {
        match self {
            Choice::Fs => Ok(None),
            Choice::Postgres { target, .. } => self.postgres(home, target, false).map(Some),
        }
    }

    fn postgres(&self, home: &Home, target: &Target, checked: bool) -> Result<PgBackend> {
        let local = home.envs_dir();
        if checked {
            PgBackend::connect(target.clone(), local)
        } else {
            PgBackend::connect_unchecked(target.clone(), local)
        }
    }
}

fn settings_path(home: &Home) -> PathBuf {
    home.root().join(FILE)
}

fn read_stored(path: &Path) -> Result<Option<Stored>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io("read the backend settings", path, e)),
    };
    toml::from_str(&text).map(Some).map_err(|e| {
        Error::invalid(format!(
            "the backend settings {} are not valid: {e}",
            path.display()
        ))
        .hint("envpack backend set fs (or envpack backend set postgres://USER@HOST:PORT/DB)")
    })
}

/// The backend `home` uses, and why.
pub fn chosen(home: &Home) -> Result<Chosen> {
    if let Some(spec) = std::env::var("ENVPACK_BACKEND")
        .ok()
        .filter(|v| !v.is_empty())
    {
        let file = std::env::var_os("ENVPACK_BACKEND_PASSWORD_FILE").map(PathBuf::from);
        return Ok(Chosen {
            choice: Choice::parse(&spec, file)?,
            source: "ENVPACK_BACKEND".into(),
        });
    }
    let path = settings_path(home);
    let Some(stored) = read_stored(&path)? else {
        return Ok(Chosen {
            choice: Choice::Fs,
            source: "default".into(),
        });
    };
    let choice = match (stored.kind.as_str(), stored.url) {
        ("fs", _) => Choice::Fs,
        ("postgres", Some(url)) => Choice::parse(&url, stored.password_file)?,
        (kind, _) => {
            return Err(Error::invalid(format!(
                "the backend settings {} name backend {kind:?}; expected fs, or postgres with a url",
                path.display()
            ))
            .hint("envpack backend set fs"));
        }
    };
    Ok(Chosen {
        choice,
        source: path.display().to_string(),
    })
}

/// Stores `choice` as the home's backend.
pub fn store(home: &Home, choice: &Choice) -> Result<()> {
    let stored = match choice {
        Choice::Fs => Stored {
            kind: "fs".into(),
            ..Default::default()
        },
        Choice::Postgres {
            target,
            password_file,
        } => {
            if target.inline_password {
                return Err(Error::invalid(format!(
                    "the backend URL {} carries a password; a home never stores one",
                    target.shown
                ))
                .hint(format!(
                    "envpack backend set {} --password-file FILE (or export PGPASSWORD)",
                    target.stored
                )));
            }
            let password_file = password_file
                .as_ref()
                .map(|p| std::path::absolute(p).unwrap_or_else(|_| p.clone()));
            Stored {
                kind: "postgres".into(),
                url: Some(target.stored.clone()),
                password_file,
            }
        }
    };
    let text = toml::to_string(&stored)
        .map_err(|e| Error::internal(format!("cannot encode the backend settings: {e}")))?;
    crate::fsutil::create_dir_all(home.root())?;
    crate::fsutil::write_atomic(&settings_path(home), text.as_bytes())
}

/// Opened backends, by home and choice: a PostgreSQL backend holds a
/// connection and a runtime, opened once per process.
static OPENED: Mutex<Vec<Opened>> = Mutex::new(Vec::new());

/// A home's root, its choice as shown, the backend opened for them.
type Opened = (PathBuf, String, Arc<dyn Backend>);

/// The home's backend, opened once; checks the schema version.
pub fn open_checked(home: &Home) -> Result<Arc<dyn Backend>> {
    let chosen = chosen(home)?;
    let key = (home.root().to_path_buf(), chosen.choice.shown());
    if let Ok(opened) = OPENED.lock()
        && let Some((_, _, b)) = opened.iter().find(|(h, c, _)| (h, c) == (&key.0, &key.1))
    {
        return Ok(Arc::clone(b));
    }
    let backend = chosen.choice.open(home, true)?;
    if let Ok(mut opened) = OPENED.lock() {
        opened.push((key.0, key.1, Arc::clone(&backend)));
    }
    Ok(backend)
}

/// As [`open_checked`], or a backend failing every call with the reason.
pub fn open_cached(home: &Home) -> Arc<dyn Backend> {
    open_checked(home).unwrap_or_else(|e| Arc::new(Unavailable(e)))
}

/// Fails with the reason the home's backend cannot be used (unreachable,
/// schema older or newer, settings damaged).
pub fn check(home: &Home) -> Result<()> {
    open_checked(home).map(|_| ())
}

/// `PASSWORD_VARS`, for help texts.
pub fn password_vars() -> &'static [&'static str] {
    &target::PASSWORD_VARS
}
