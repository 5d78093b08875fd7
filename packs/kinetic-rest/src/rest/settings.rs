//! The pack's configuration keys, read once per operation.
//!
//! | key | default | meaning |
//! |---|---|---|
//! | `base_url` | (required) | the server, with the app path: `https://erp.example.com/EpicorERP` |
//! | `company` | (required) | the company in every path (`/api/v2/odata/{company}/...`) |
//! | `plant` | none | the plant sent in the `CallSettings` header |
//! | `api_key_secret` | `KINETIC_API_KEY` | the secret the host puts in `x-api-key` |
//! | `user_secret` | `KINETIC_USER` | the secret the host puts in the token request's `userName` header |
//! | `password_secret` | `KINETIC_PASSWORD` | the secret the host puts in its `password` header |
//! | `token_refresh_s` | `60` | refresh the bearer token this many seconds before it expires |

use super::error::{HostKind, KineticError};

/// Every configuration key the pack reads (also listed in `pack.toml`).
pub const KEYS: &[&str] = &[
    "base_url",
    "company",
    "plant",
    "api_key_secret",
    "user_secret",
    "password_secret",
    "token_refresh_s",
];

/// Resolved settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Settings {
    /// Base URL without a trailing slash.
    pub base_url: String,
    /// Company id.
    pub company: String,
    /// Plant, for `CallSettings`.
    pub plant: Option<String>,
    /// Secret names, never values.
    pub api_key_secret: String,
    /// Secret holding the user name.
    pub user_secret: String,
    /// Secret holding the password.
    pub password_secret: String,
    /// Refresh margin in milliseconds.
    pub refresh_margin_ms: u64,
}

impl Settings {
    /// Reads the settings through `get` (the host's config import).
    pub fn load(
        get: impl Fn(&str) -> Result<Option<String>, KineticError>,
    ) -> Result<Self, KineticError> {
        let require = |key: &str, example: &str| {
            get(key)?.filter(|v| !v.trim().is_empty()).ok_or_else(|| {
                KineticError::Input(format!(
                    "configuration key {key:?} is not set; help: envpack env config <env> greentic.kinetic.rest {key} {example}"
                ))
            })
        };
        let base_url = require("base_url", "https://erp.example.com/EpicorERP")?;
        let base_url = base_url.trim().trim_end_matches('/').to_string();
        if !(base_url.starts_with("http://") || base_url.starts_with("https://")) {
            return Err(KineticError::Input(format!(
                "configuration key \"base_url\" is {base_url:?}; expected an http:// or https:// URL"
            )));
        }
        let company = require("company", "EPIC06")?;
        check_segment("company", &company)?;
        let secret = |key: &str, default: &str| -> Result<String, KineticError> {
            let name = get(key)?.unwrap_or_else(|| default.to_string());
            let ok = !name.is_empty()
                && name.len() <= 128
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
            if !ok {
                return Err(KineticError::Input(format!(
                    "configuration key {key:?} is {name:?}; expected a secret name of letters, digits, '_', '-' or '.'"
                )));
            }
            Ok(name)
        };
        let refresh_margin_ms = match get("token_refresh_s")? {
            None => 60_000,
            Some(v) => v.trim().parse::<u64>().map(|s| s * 1000).map_err(|_| {
                KineticError::Input(format!(
                    "configuration key \"token_refresh_s\" is {v:?}; expected a number of seconds"
                ))
            })?,
        };
        Ok(Self {
            base_url,
            company,
            plant: get("plant")?.filter(|p| !p.is_empty()),
            api_key_secret: secret("api_key_secret", "KINETIC_API_KEY")?,
            user_secret: secret("user_secret", "KINETIC_USER")?,
            password_secret: secret("password_secret", "KINETIC_PASSWORD")?,
            refresh_margin_ms,
        })
    }

    /// The same settings for another company (installs into a target).
    pub fn for_company(&self, company: &str) -> Result<Self, KineticError> {
        check_segment("company", company)?;
        Ok(Self {
            company: company.to_string(),
            ..self.clone()
        })
    }

    /// Host and port of the base URL, as an `http:` grant names them.
    pub fn host(&self) -> &str {
        let rest = self.base_url.split_once("://").map_or("", |(_, r)| r);
        rest.split('/').next().unwrap_or("")
    }
}

/// A company (or any path segment) must not change the path it goes into.
pub fn check_segment(what: &str, value: &str) -> Result<(), KineticError> {
    let ok = !value.is_empty()
        && value.len() <= 64
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(KineticError::Input(format!(
            "{what} {value:?} is not valid; expected letters, digits, '_', '-' or '.'"
        )))
    }
}

impl From<(HostKind, String)> for KineticError {
    fn from((kind, message): (HostKind, String)) -> Self {
        KineticError::Host(kind, message)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn load(pairs: &[(&str, &str)]) -> Result<Settings, KineticError> {
        let map: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::load(|k| Ok(map.get(k).cloned()))
    }

    #[test]
    fn defaults_and_requirements() {
        let s = load(&[
            ("base_url", "http://127.0.0.1:8080/ERP/"),
            ("company", "EPIC06"),
        ])
        .expect("settings");
        assert_eq!(s.base_url, "http://127.0.0.1:8080/ERP");
        assert_eq!(s.host(), "127.0.0.1:8080");
        assert_eq!(s.api_key_secret, "KINETIC_API_KEY");
        assert_eq!(s.refresh_margin_ms, 60_000);
        let e = load(&[("company", "EPIC06")]).expect_err("no base");
        assert!(e.to_string().contains("envpack env config"), "{e}");
        assert!(load(&[("base_url", "ftp://x"), ("company", "A")]).is_err());
        assert!(load(&[("base_url", "http://x"), ("company", "A/../B")]).is_err());
        assert!(
            load(&[
                ("base_url", "http://x"),
                ("company", "A"),
                ("api_key_secret", "{{x}}")
            ])
            .is_err()
        );
        let s = load(&[
            ("base_url", "http://x"),
            ("company", "A"),
            ("api_key_secret", "PROD_KEY"),
        ])
        .expect("settings");
        assert_eq!(s.api_key_secret, "PROD_KEY");
        assert_eq!(s.for_company("EPIC07").expect("co").company, "EPIC07");
    }
}
