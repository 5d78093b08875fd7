//! [`Io`] over the host imports: `wasi:http` through the SDK (the host
//! fills in the `{{credential:...}}` placeholders), the wall clock, and the
//! pack's kv.

use std::time::{SystemTime, UNIX_EPOCH};

use envpack_sdk::http::Request;
use envpack_sdk::{Error, config, kv};

use crate::rest::error::HostKind;
use crate::rest::{Client, HttpRequest, HttpResponse, Io, KineticError, Settings};
use crate::solutions::build::BuildMethod;

/// The host, as the client sees it.
pub struct HostIo;

/// An SDK error as a client error.
pub fn from_sdk(e: Error) -> KineticError {
    let kind = match &e {
        Error::InvalidInput(_) => HostKind::InvalidInput,
        Error::NotFound(_) => HostKind::NotFound,
        Error::Denied(_) => HostKind::Denied,
        Error::Conflict(_) => HostKind::Conflict,
        Error::Unavailable(_) => HostKind::Unavailable,
        Error::Timeout(_) => HostKind::Timeout,
        Error::Internal(_) => HostKind::Internal,
    };
    KineticError::Host(kind, e.message().to_string())
}

/// A client error as the SDK error the host understands.
pub fn to_sdk(e: KineticError) -> Error {
    let message = e.to_string();
    match e.kind() {
        HostKind::InvalidInput => Error::invalid_input(message),
        HostKind::NotFound => Error::not_found(message),
        HostKind::Denied => Error::denied(message),
        HostKind::Conflict => Error::conflict(message),
        HostKind::Unavailable => Error::unavailable(message),
        HostKind::Timeout => Error::timeout(message),
        HostKind::Internal => Error::internal(message),
    }
}

impl Io for HostIo {
    fn send(&self, r: &HttpRequest) -> Result<HttpResponse, KineticError> {
        let mut req = Request::new(r.method.as_str(), &r.url);
        for (n, v) in &r.headers {
            req = req.header(n, v);
        }
        let resp = req
            .body(r.body.clone())
            .send()
            .map_err(|e| denied_why(e, r))?;
        Ok(HttpResponse {
            status: resp.status,
            body: resp.body,
        })
    }

    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
            .unwrap_or(0)
    }

    fn load(&self, key: &str) -> Result<Option<Vec<u8>>, KineticError> {
        kv::get(key).map_err(from_sdk)
    }

    fn store(&self, key: &str, value: &[u8]) -> Result<(), KineticError> {
        kv::set(key, value).map_err(from_sdk)
    }

    fn forget(&self, key: &str) -> Result<(), KineticError> {
        kv::delete(key).map(|_| ()).map_err(from_sdk)
    }
}

/// A refused request names the credentials it carried too: the host says
/// only "denied", and a missing `credential:` grant looks like a missing
/// `http:` one.
fn denied_why(e: Error, r: &HttpRequest) -> KineticError {
    let Error::Denied(message) = &e else {
        return from_sdk(e);
    };
    let names: Vec<&str> = r
        .headers
        .iter()
        .filter_map(|(_, v)| v.strip_prefix("{{credential:")?.strip_suffix("}}"))
        .collect();
    if names.is_empty() {
        return from_sdk(e);
    }
    let grants: Vec<String> = names
        .iter()
        .map(|n| format!("--grant credential:{n}"))
        .collect();
    KineticError::Host(
        HostKind::Denied,
        format!(
            "{message}, or the credentials this request carries ({}); help: envpack env bind <env> kinetic greentic.kinetic.rest@^1 {}",
            names.join(", "),
            grants.join(" ")
        ),
    )
}

/// One config key through the host.
pub fn config_get(key: &str) -> Result<Option<String>, KineticError> {
    config::get(key).map_err(from_sdk)
}

/// The settings from the environment's configuration.
pub fn settings() -> Result<Settings, KineticError> {
    Settings::load(config_get)
}

/// A client for the configured company, or `company` when given.
pub fn client(company: Option<&str>) -> Result<Client<'static, HostIo>, KineticError> {
    static IO: HostIo = HostIo;
    let mut s = settings()?;
    if let Some(co) = company.filter(|c| !c.is_empty()) {
        s = s.for_company(co)?;
    }
    Ok(Client::new(&IO, s))
}

/// `build_method` from the configuration.
pub fn build_method() -> Result<BuildMethod, KineticError> {
    BuildMethod::parse(config_get("build_method")?.as_deref())
}

/// `ud_tables` from the configuration: `Erp.Part_UD,Ice.UD01`.
pub fn ud_tables() -> Result<Vec<(String, String)>, KineticError> {
    let Some(v) = config_get("ud_tables")? else {
        return Ok(vec![]);
    };
    v.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            s.split_once('.')
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .ok_or_else(|| {
                    KineticError::Input(format!(
                        "configuration key \"ud_tables\" has {s:?}; expected <SystemCode>.<Table> such as Erp.Part_UD"
                    ))
                })
        })
        .collect()
}
