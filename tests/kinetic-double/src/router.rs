//! Routing: which route a path names, the fault check, `x-api-key` and credential checks,
//! the company check, the service call, and one journal entry per answered request.
//!
//! The order mirrors a real server: a faulty gateway answers before anything else, the API key
//! is checked on every call (the token endpoint included), then the token or password, then the
//! company in the path.

use serde_json::{Value, json};

use crate::error::EpicorError;
use crate::faults::{self, FaultAction};
use crate::journal::{AuthUsed, Check, JournalEntry};
use crate::server::{Reply, Request, Shared, lock};
use crate::services::{self, Call};
use crate::state::State;

/// What a path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `{base}/TokenResource.svc/`.
    Token,
    /// `{base}/api/v2/odata/{company}/{service}/{method}`.
    OData {
        /// From the path.
        company: String,
        /// `Ice.BO.ExportPackageSvc`.
        service: String,
        /// `GetByID` (for `BaqSvc/{id}/Data`, `{id}/Data`).
        method: String,
    },
    /// Anything else.
    Unknown,
}

impl Route {
    /// Parses a path; `{base}` may be any prefix (`/KineticERP`...).
    pub fn parse(path: &str) -> Self {
        let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let token = segments
            .iter()
            .position(|s| s.eq_ignore_ascii_case("TokenResource.svc"));
        if token.is_some_and(|pos| pos + 1 == segments.len()) {
            return Self::Token;
        }
        let api = segments.windows(3).position(|w| {
            w[0].eq_ignore_ascii_case("api")
                && w[1].eq_ignore_ascii_case("v2")
                && w[2].eq_ignore_ascii_case("odata")
        });
        match api.map(|i| &segments[i + 3..]) {
            Some([company, service, method @ ..]) if !method.is_empty() => Self::OData {
                company: company.to_string(),
                service: service.to_string(),
                method: method.join("/"),
            },
            _ => Self::Unknown,
        }
    }

    /// `Service/Method` as faults and the journal name it.
    pub fn name(&self, path: &str) -> String {
        match self {
            Self::Token => "TokenResource.svc".to_string(),
            Self::OData {
                service, method, ..
            } => format!("{service}/{method}"),
            Self::Unknown => path.to_string(),
        }
    }
}

/// The checks one request went through.
struct Verdict {
    auth: AuthUsed,
    api_key: Check,
    credential: Check,
}

/// Answers one request and journals it.
pub async fn answer(shared: &Shared, req: Request) -> Reply {
    if req.path.starts_with("/_double") {
        return crate::control::answer(shared, &req);
    }
    let route = Route::parse(&req.path);
    let fault = faults::take(&mut lock(shared).faults, &route.name(&req.path));
    match fault {
        Some(FaultAction::Delay(delay)) => tokio::time::sleep(delay).await,
        Some(FaultAction::Respond {
            status,
            body,
            message,
        }) => {
            let mut state = lock(shared);
            let (reply, correlation) = fault_reply(&mut state, status, body, message);
            let verdict = Verdict {
                auth: AuthUsed::None,
                api_key: Check::Unchecked,
                credential: Check::Unchecked,
            };
            journal(
                &mut state,
                &req,
                &route,
                &verdict,
                &reply,
                correlation,
                true,
            );
            return reply;
        }
        None => {}
    }
    let mut state = lock(shared);
    let (result, verdict) = dispatch(&mut state, &req, &route);
    let (reply, correlation) = match result {
        Ok(body) => (Reply::ok(body), None),
        Err(err) => {
            let id = correlation_id(&mut state);
            (
                Reply {
                    status: err.status,
                    body: err.body(&id),
                },
                Some(id),
            )
        }
    };
    journal(
        &mut state,
        &req,
        &route,
        &verdict,
        &reply,
        correlation,
        false,
    );
    reply
}

fn dispatch(
    state: &mut State,
    req: &Request,
    route: &Route,
) -> (Result<Value, EpicorError>, Verdict) {
    let mut verdict = Verdict {
        auth: AuthUsed::None,
        api_key: api_key_check(state, req),
        credential: Check::Unchecked,
    };
    if let Some(err) = api_key_denial(verdict.api_key) {
        return (Err(err), verdict);
    }
    let (company, service, method) = match route {
        Route::Token => {
            let (result, auth, check) = crate::token::answer(state, req);
            verdict.auth = auth;
            verdict.credential = check;
            return (result, verdict);
        }
        Route::Unknown => {
            let err = EpicorError::not_found(format!("No resource was found at '{}'.", req.path));
            return (Err(err), verdict);
        }
        Route::OData {
            company,
            service,
            method,
        } => (company, service, method),
    };
    let (auth, check) = crate::token::api_credentials(state, req);
    verdict.auth = auth;
    verdict.credential = check;
    if check != Check::Valid {
        return (Err(crate::token::api_denial(auth, check)), verdict);
    }
    let Some(company) = state.company_id(company) else {
        let err = EpicorError::forbidden(format!(
            "Company '{company}' is not valid or the user does not have access to it."
        ));
        return (Err(err), verdict);
    };
    let body = match body_of(req) {
        Ok(body) => body,
        Err(err) => return (Err(err), verdict),
    };
    let call = Call {
        company,
        service: service.clone(),
        method: method.clone(),
        http_method: req.method.clone(),
        body,
    };
    (services::call(state, &call), verdict)
}

/// A POST's JSON body, or a GET's query parameters as a body (JSON-valued parameters such as
/// `request={...}` are parsed).
fn body_of(req: &Request) -> Result<Value, EpicorError> {
    if req.method != "GET" {
        return req.json();
    }
    let mut body = serde_json::Map::new();
    for (k, v) in &req.query {
        let value = match serde_json::from_str::<Value>(v) {
            Ok(parsed @ (Value::Object(_) | Value::Array(_))) => parsed,
            _ => Value::String(v.clone()),
        };
        body.insert(k.clone(), value);
    }
    Ok(Value::Object(body))
}

fn api_key_check(state: &State, req: &Request) -> Check {
    match req.header("x-api-key") {
        None => Check::Missing,
        Some(key) if key == state.config.api_key => Check::Valid,
        Some(_) => Check::Invalid,
    }
}

fn api_key_denial(check: Check) -> Option<EpicorError> {
    match check {
        Check::Valid => None,
        Check::Missing => Some(EpicorError::unauthorized(
            "An API key is required for this request. Send it in the x-api-key header.",
        )),
        _ => Some(EpicorError::unauthorized("The API key is not valid.")),
    }
}

fn fault_reply(
    state: &mut State,
    status: u16,
    body: Option<Value>,
    message: Option<String>,
) -> (Reply, Option<String>) {
    if let Some(body) = body {
        return (Reply { status, body }, None);
    }
    if (200..300).contains(&status) {
        return (
            Reply {
                status,
                body: json!({}),
            },
            None,
        );
    }
    let id = correlation_id(state);
    let message = message.unwrap_or_else(|| format!("Injected fault: HTTP {status}."));
    let err = EpicorError::new(status, message, "Ice.Common.InjectedFault");
    (
        Reply {
            status,
            body: err.body(&id),
        },
        Some(id),
    )
}

/// A fresh correlation id for an error body.
pub fn correlation_id(state: &mut State) -> String {
    let n = state.next_id();
    format!("kd-{n:08x}-{:04x}", state.journal.entries().len() % 0xffff)
}

fn journal(
    state: &mut State,
    req: &Request,
    route: &Route,
    verdict: &Verdict,
    reply: &Reply,
    correlation_id: Option<String>,
    faulted: bool,
) {
    let (service, method, company) = match route {
        Route::Token => (Some("TokenResource.svc".to_string()), None, None),
        Route::OData {
            company,
            service,
            method,
        } => (
            Some(service.clone()),
            Some(method.clone()),
            Some(company.clone()),
        ),
        Route::Unknown => (None, None, None),
    };
    let call_settings = req
        .header("callsettings")
        .map(|v| serde_json::from_str(v).unwrap_or_else(|_| Value::String(v.to_string())));
    let entry = JournalEntry {
        seq: 0,
        http_method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        service,
        method,
        company,
        header_names: req.headers.iter().map(|(k, _)| k.clone()).collect(),
        auth: verdict.auth,
        api_key: verdict.api_key,
        credential: verdict.credential,
        call_settings,
        body: req.json_or_null(),
        status: reply.status,
        correlation_id,
        faulted,
    };
    state.journal.push(entry);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_routes() {
        assert_eq!(Route::parse("/TokenResource.svc/"), Route::Token);
        assert_eq!(Route::parse("/KineticERP/TokenResource.svc"), Route::Token);
        assert_eq!(
            Route::parse("/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList"),
            Route::OData {
                company: "EPIC06".into(),
                service: "Ice.BO.ExportPackageSvc".into(),
                method: "GetList".into()
            }
        );
        assert_eq!(
            Route::parse("/erp/api/v2/odata/EPIC06/BaqSvc/zCust/Data"),
            Route::OData {
                company: "EPIC06".into(),
                service: "BaqSvc".into(),
                method: "zCust/Data".into()
            }
        );
        assert_eq!(
            Route::parse("/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc"),
            Route::Unknown
        );
        assert_eq!(Route::parse("/api/v2/efx/EPIC06/Lib/Fn"), Route::Unknown);
    }
}
