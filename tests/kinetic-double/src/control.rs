//! The control API under `/_double/...`: what tests and operators use to read the journal,
//! inject faults, script installs, expire tokens and make out-of-band edits as a Kinetic admin
//! would in the UI. JSON in, `{"ok": true, ...}` out; errors are `{"ok": false, "error": ...}`.
//!
//! It needs no API key: it is the double's own back door, for a double bound to localhost.

use serde_json::{Value, json};

use crate::error::DoubleError;
use crate::faults::Fault;
use crate::server::{Reply, Request, Shared, lock};

/// Answers one control request.
pub fn answer(shared: &Shared, req: &Request) -> Reply {
    let body = match req.json() {
        Ok(body) => body,
        Err(e) => return failure(400, &e.message),
    };
    let path = req.path.trim_end_matches('/');
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).skip(1).collect();
    let result = route(shared, req.method.as_str(), &segments, &body);
    match result {
        Ok(Some(value)) => Reply::ok(ok(value)),
        Ok(None) => failure(
            404,
            &format!(
                "no control route {} {}; see docs/kinetic-double.md",
                req.method, req.path
            ),
        ),
        Err(e) => {
            let status = match e {
                DoubleError::UnknownCompany(_) | DoubleError::NotFound(_) => 404,
                _ => 400,
            };
            failure(status, &e.to_string())
        }
    }
}

fn ok(result: Value) -> Value {
    json!({"ok": true, "result": result})
}

fn failure(status: u16, message: &str) -> Reply {
    Reply {
        status,
        body: json!({"ok": false, "error": message}),
    }
}

fn route(
    shared: &Shared,
    method: &str,
    segments: &[&str],
    body: &Value,
) -> Result<Option<Value>, DoubleError> {
    let mut state = lock(shared);
    let state = &mut *state;
    let value = match (method, segments) {
        ("GET", ["journal"]) => {
            let entries: Vec<Value> = state
                .journal
                .entries()
                .iter()
                .map(|e| e.to_json())
                .collect();
            json!({"entries": entries})
        }
        ("DELETE", ["journal"]) | ("POST", ["journal", "reset"]) => {
            state.journal.clear();
            json!({})
        }
        ("POST", ["faults"]) => {
            state.faults.push(Fault::from_json(body)?);
            json!({"faults": state.faults.len()})
        }
        ("DELETE", ["faults"]) | ("POST", ["faults", "clear"]) => {
            state.faults.clear();
            json!({})
        }
        ("POST", ["tokens", "expire"]) => {
            crate::token::expire_all(state);
            json!({"expired": state.tokens.len()})
        }
        ("POST", ["reset"]) => {
            state.reset_data();
            state.journal.clear();
            json!({})
        }
        ("GET", ["companies"]) => json!({"companies": state.companies.keys().collect::<Vec<_>>()}),
        _ => return crate::edits::control_route(state, method, segments, body),
    };
    Ok(Some(value))
}
