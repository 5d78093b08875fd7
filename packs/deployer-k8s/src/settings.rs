//! The operator's configuration of the pack (`envpack env config ENV
//! greentic.deployer.k8s KEY VALUE`).
//!
//! | key | meaning | default |
//! |---|---|---|
//! | `server` | the API server's URL, `https://host:6443` | required for anything but `plan` |
//! | `namespace` | where every object goes | `default` |
//! | `token_secret` | the secret holding the bearer token, attached by the host | `K8S_TOKEN` |
//! | `force_conflicts` | `true`: server-side apply takes fields other managers own | `false` |
//! | `gateway` | the Gateway the HTTPRoutes attach to | none (routes without a parent) |
//! | `gateway_namespace` | its namespace | the route's |
//! | `hostname` | the HTTPRoutes' hostname | none |

use envpack_sdk::{Error, config};

/// The pack's id, for hints.
pub const PACK: &str = "greentic.deployer.k8s";

/// The namespace objects go to.
pub fn namespace() -> Result<String, Error> {
    Ok(config::get("namespace")?.unwrap_or_else(|| "default".into()))
}

/// Everything but `plan` needs these.
#[derive(Clone, Debug)]
pub struct Settings {
    pub environment: String,
    pub server: String,
    pub namespace: String,
    pub token_secret: String,
    pub force: bool,
    pub gateway: Option<String>,
    pub gateway_namespace: Option<String>,
    pub hostname: Option<String>,
}

impl Settings {
    /// Reads the configuration of `environment`'s binding.
    pub fn load(environment: &str) -> Result<Self, Error> {
        let server = config::get("server")?.ok_or_else(|| {
            Error::invalid_input(format!(
                "configuration key \"server\" is not set: the pack does not know which Kubernetes API server to use; help: envpack env config {environment} {PACK} server https://<api-server>:6443"
            ))
        })?;
        let server = server.trim_end_matches('/').to_string();
        if !(server.starts_with("http://") || server.starts_with("https://")) {
            return Err(Error::invalid_input(format!(
                "configuration key \"server\" is {server:?}, not an http:// or https:// URL; help: envpack env config {environment} {PACK} server https://<api-server>:6443"
            )));
        }
        let force = match config::get("force_conflicts")?.as_deref() {
            None | Some("false") => false,
            Some("true") => true,
            Some(other) => {
                return Err(Error::invalid_input(format!(
                    "configuration key \"force_conflicts\" is {other:?}; expected true or false; help: envpack env config {environment} {PACK} force_conflicts false"
                )));
            }
        };
        Ok(Self {
            environment: environment.to_string(),
            server,
            namespace: namespace()?,
            token_secret: config::get("token_secret")?.unwrap_or_else(|| "K8S_TOKEN".into()),
            force,
            gateway: config::get("gateway")?,
            gateway_namespace: config::get("gateway_namespace")?,
            hostname: config::get("hostname")?,
        })
    }

    /// `host:port` of the server, as an `http:` grant names it.
    pub fn authority(&self) -> &str {
        let rest = self
            .server
            .split_once("://")
            .map_or(self.server.as_str(), |(_, r)| r);
        rest.split('/').next().unwrap_or(rest)
    }

    /// The command that grants this pack what it needs in this environment.
    pub fn grant_hint(&self) -> String {
        format!(
            "envpack env bind {} deployer {PACK}@^1 --grant http:{} --grant credential:{}",
            self.environment,
            self.authority(),
            self.token_secret
        )
    }
}
