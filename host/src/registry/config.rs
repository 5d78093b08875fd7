//! The registries a home resolves descriptors through, and how to log in.
//!
//! `$ENVPACK_HOME/registries.toml` lists them in the order `registry add`
//! added them (`pack install DESCRIPTOR` asks each in turn). A secret is
//! never stored there: an entry names the environment variable or the file
//! a password or token is read from when a request needs it, and no output
//! ever shows the value. A reference to a registry no entry covers uses
//! `ENVPACK_REGISTRY_USERNAME` with `ENVPACK_REGISTRY_PASSWORD`, or
//! `ENVPACK_REGISTRY_TOKEN`, else no credentials.

use std::path::{Path, PathBuf};

use oci_client::secrets::RegistryAuth;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::home::Home;
use crate::types::OciRef;

const FILE: &str = "registries.toml";

/// Where a secret comes from: never the secret itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SecretFrom {
    /// An environment variable's name.
    Env(String),
    /// A file's path (its content, trailing newline removed).
    File(PathBuf),
}

impl SecretFrom {
    fn read(&self, registry: &str) -> Result<String> {
        match self {
            SecretFrom::Env(var) => std::env::var(var).map_err(|_| {
                Error::invalid(format!(
                    "the credentials of registry {registry} come from the environment variable {var}, which is not set"
                ))
                .hint(format!("export {var}=... (the password or token), then run the command again"))
            }),
            SecretFrom::File(path) => std::fs::read_to_string(path)
                .map(|s| s.trim_end_matches(['\n', '\r']).to_string())
                .map_err(|e| {
                    Error::io("read the registry credentials", path, e)
                        .context(format!("registry {registry}"))
                }),
        }
    }

    /// How it is shown: where the secret comes from, not what it is.
    pub fn shown(&self) -> String {
        match self {
            SecretFrom::Env(var) => format!("${var}"),
            SecretFrom::File(p) => p.display().to_string(),
        }
    }
}

/// How to log in to a registry.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credentials {
    /// Basic authentication's user (with `password`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Basic authentication's password.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<SecretFrom>,
    /// A bearer token (instead of a user and password).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<SecretFrom>,
}

impl Credentials {
    /// Checks the combination: a password needs a user, a token excludes both.
    pub fn check(&self) -> Result<()> {
        let hint = "give --username USER with --password-env VAR (or --password-file FILE), or --token-env VAR (or --token-file FILE) alone";
        match (&self.username, &self.password, &self.token) {
            (Some(_), None, _) | (None, Some(_), _) => Err(Error::invalid(
                "a registry login needs both a user and where its password comes from",
            )
            .hint(hint)),
            (Some(_), Some(_), Some(_)) => Err(Error::invalid(
                "a registry login is either a user and password or a token, not both",
            )
            .hint(hint)),
            _ => Ok(()),
        }
    }

    /// The credentials, read now.
    pub fn auth(&self, registry: &str) -> Result<RegistryAuth> {
        if let Some(t) = &self.token {
            return Ok(RegistryAuth::Bearer(t.read(registry)?));
        }
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Ok(RegistryAuth::Basic(u.clone(), p.read(registry)?)),
            _ => Ok(RegistryAuth::Anonymous),
        }
    }

    /// What a listing shows: the user and where secrets come from.
    pub fn shown(&self) -> String {
        match (&self.username, &self.password, &self.token) {
            (_, _, Some(t)) => format!("token from {}", t.shown()),
            (Some(u), Some(p), None) => format!("{u}, password from {}", p.shown()),
            _ => "anonymous".into(),
        }
    }

    fn from_process_env() -> Self {
        let set = |v: &str| std::env::var_os(v).is_some_and(|x| !x.is_empty());
        if set("ENVPACK_REGISTRY_TOKEN") {
            return Self {
                token: Some(SecretFrom::Env("ENVPACK_REGISTRY_TOKEN".into())),
                ..Self::default()
            };
        }
        match std::env::var("ENVPACK_REGISTRY_USERNAME") {
            Ok(u) if !u.is_empty() && set("ENVPACK_REGISTRY_PASSWORD") => Self {
                username: Some(u),
                password: Some(SecretFrom::Env("ENVPACK_REGISTRY_PASSWORD".into())),
                token: None,
            },
            _ => Self::default(),
        }
    }
}

/// A registry the home knows by name.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegistryEntry {
    /// Its name (`registry add NAME`).
    pub name: String,
    /// `oci://HOST[:PORT]/PREFIX`: packs live at `PREFIX/<ns.slot.name>`,
    /// tagged with their versions.
    pub url: OciRef,
    /// Plain HTTP even though the host is not loopback.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub insecure: bool,
    /// How to log in.
    #[serde(default, skip_serializing_if = "is_anonymous")]
    pub credentials: Credentials,
}

fn is_anonymous(c: &Credentials) -> bool {
    *c == Credentials::default()
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Stored {
    #[serde(default, rename = "registry")]
    registries: Vec<RegistryEntry>,
}

/// The home's registries.
#[derive(Clone, Debug)]
pub struct Registries {
    path: PathBuf,
    entries: Vec<RegistryEntry>,
}

impl Registries {
    /// Reads `registries.toml` (none yet is an empty list).
    pub fn load(home: &Home) -> Result<Self> {
        let path = home.root().join(FILE);
        let entries = match std::fs::read_to_string(&path) {
            Ok(text) => {
                toml::from_str::<Stored>(&text)
                    .map_err(|e| {
                        Error::invalid(format!("{} does not parse: {e}", path.display())).hint(
                            format!("fix or remove it, then add the registries again: envpack registry add NAME oci://HOST/PREFIX ({})", path.display()),
                        )
                    })?
                    .registries
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
            Err(e) => return Err(Error::io("read the registry list", &path, e)),
        };
        Ok(Self { path, entries })
    }

    /// Every registry, in resolution order.
    pub fn entries(&self) -> &[RegistryEntry] {
        &self.entries
    }

    /// Adds (or, with the same name, replaces) an entry; returns the
    /// previous one.
    pub fn add(&mut self, entry: RegistryEntry) -> Result<Option<RegistryEntry>> {
        check_name(&entry.name)?;
        entry.credentials.check()?;
        if entry.url.tag().is_some() || entry.url.digest().is_some() {
            return Err(Error::invalid(format!(
                "registry {} has a tag or digest in its URL {}; a registry URL is a host and a repository prefix",
                entry.name, entry.url
            ))
            .hint(format!(
                "envpack registry add {} oci://{}/{}",
                entry.name,
                entry.url.host(),
                entry.url.repository()
            )));
        }
        let previous = match self.entries.iter_mut().find(|e| e.name == entry.name) {
            Some(e) => Some(std::mem::replace(e, entry)),
            None => {
                self.entries.push(entry);
                None
            }
        };
        Ok(previous)
    }

    /// Removes the entry `name`.
    pub fn remove(&mut self, name: &str) -> Result<RegistryEntry> {
        let i = self
            .entries
            .iter()
            .position(|e| e.name == name)
            .ok_or_else(|| self.unknown(name))?;
        Ok(self.entries.remove(i))
    }

    /// The entry `name`.
    pub fn get(&self, name: &str) -> Result<&RegistryEntry> {
        self.entries
            .iter()
            .find(|e| e.name == name)
            .ok_or_else(|| self.unknown(name))
    }

    fn unknown(&self, name: &str) -> Error {
        let known: Vec<&str> = self.entries.iter().map(|e| e.name.as_str()).collect();
        Error::not_found(format!(
            "no registry is named {name:?} (known: {})",
            if known.is_empty() {
                "none".to_string()
            } else {
                known.join(", ")
            }
        ))
        .hint(format!("envpack registry add {name} oci://HOST/PREFIX"))
    }

    /// Writes the list back, atomically.
    pub fn save(&self) -> Result<()> {
        let text = toml::to_string_pretty(&Stored {
            registries: self.entries.clone(),
        })
        .map_err(|e| Error::internal(format!("cannot encode the registry list: {e}")))?;
        crate::fsutil::write_atomic(&self.path, text.as_bytes())
    }

    /// The file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How to reach `r`: plain HTTP or TLS, and the login. The entry whose
    /// host and prefix cover `r` the longest wins; else the process
    /// environment's credentials.
    pub fn access(&self, r: &OciRef, insecure: bool) -> Access {
        let covering = self
            .entries
            .iter()
            .filter(|e| {
                e.url.host() == r.host()
                    && (r.repository() == e.url.repository()
                        || r.repository()
                            .starts_with(&format!("{}/", e.url.repository())))
            })
            .max_by_key(|e| e.url.repository().len())
            .or_else(|| self.entries.iter().find(|e| e.url.host() == r.host()));
        let (credentials, entry_insecure, name) = match covering {
            Some(e) => (e.credentials.clone(), e.insecure, e.name.clone()),
            None => (Credentials::from_process_env(), false, r.host().to_string()),
        };
        Access {
            plain_http: insecure || entry_insecure || r.is_loopback(),
            credentials,
            registry: name,
        }
    }
}

/// How one request reaches its registry.
#[derive(Clone, Debug)]
pub struct Access {
    /// Plain HTTP (loopback, `--insecure`, or the entry says so).
    pub plain_http: bool,
    /// The login, read when a request is made.
    pub credentials: Credentials,
    /// The entry's name, or the host: for messages.
    pub registry: String,
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name.as_bytes()[0].is_ascii_lowercase()
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(format!(
            "{name:?} is not a registry name: lowercase letters, digits and -, starting with a letter"
        ))
        .hint("envpack registry add acme oci://registry.example.com/envpack"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(name: &str, url: &str) -> RegistryEntry {
        RegistryEntry {
            name: name.into(),
            url: url.parse().expect("url"),
            insecure: false,
            credentials: Credentials::default(),
        }
    }

    #[test]
    fn add_replace_remove_round_trip_through_the_file() {
        let dir = tempfile::tempdir().expect("tmp");
        let home = Home::at(dir.path().to_path_buf());
        let mut r = Registries::load(&home).expect("empty");
        assert!(r.entries().is_empty());
        let mut with_login = entry("acme", "oci://r.example.com/envpack");
        with_login.credentials = Credentials {
            username: Some("ci".into()),
            password: Some(SecretFrom::Env("ACME_PW".into())),
            token: None,
        };
        assert!(r.add(with_login.clone()).expect("add").is_none());
        assert!(
            r.add(entry("local", "oci://127.0.0.1:5000/p"))
                .expect("add")
                .is_none()
        );
        r.save().expect("save");
        let text = std::fs::read_to_string(r.path()).expect("read");
        assert!(
            text.contains("ACME_PW") && !text.contains("password = \"s"),
            "{text}"
        );
        let mut again = Registries::load(&home).expect("load");
        assert_eq!(again.entries(), r.entries());
        assert!(
            again
                .add(entry("acme", "oci://r2.example.com/x"))
                .expect("replace")
                .is_some()
        );
        assert_eq!(again.entries().len(), 2);
        assert_eq!(again.remove("local").expect("rm").name, "local");
        assert_eq!(
            again.remove("nope").expect_err("unknown").kind(),
            crate::error::Kind::NotFound
        );
    }

    #[test]
    fn refuses_bad_names_urls_and_logins() {
        let mut r = Registries {
            path: PathBuf::from("/nonexistent"),
            entries: Vec::new(),
        };
        assert!(r.add(entry("Acme", "oci://h/x")).is_err());
        assert!(r.add(entry("acme", "oci://h/x:1.0")).is_err());
        let mut half = entry("acme", "oci://h/x");
        half.credentials.username = Some("u".into());
        assert!(r.add(half).is_err());
    }

    #[test]
    fn the_longest_covering_entry_gives_the_login_and_loopback_is_plain_http() {
        let mut r = Registries {
            path: PathBuf::from("/nonexistent"),
            entries: Vec::new(),
        };
        let mut team = entry("team", "oci://r.example.com/team");
        team.credentials.token = Some(SecretFrom::Env("TEAM_TOKEN".into()));
        r.add(entry("all", "oci://r.example.com/x")).expect("add");
        r.add(team).expect("add");
        let a = r.access(
            &"oci://r.example.com/team/acme.state.memory:1.0.0"
                .parse()
                .expect("ref"),
            false,
        );
        assert_eq!(a.registry, "team");
        assert!(!a.plain_http);
        assert_eq!(a.credentials.shown(), "token from $TEAM_TOKEN");
        let local = r.access(&"oci://127.0.0.1:5000/x:1".parse().expect("ref"), false);
        assert!(local.plain_http);
        let forced = r.access(&"oci://10.1.1.1:5000/x:1".parse().expect("ref"), true);
        assert!(forced.plain_http);
    }
}
