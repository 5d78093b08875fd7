//! `TokenResource.svc`: bearer tokens for a user, and the checks every other call makes.
//!
//! Credentials arrive as HTTP Basic auth or as `userName` / `password` headers; the answer is
//! `{AccessToken, ExpiresIn (seconds, a number), TokenType: "Bearer"}`. Tokens expire after
//! the configured TTL, and [`expire_all`] ends them at once to simulate a mid-run expiry.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::error::EpicorError;
use crate::journal::{AuthUsed, Check};
use crate::server::Request;
use crate::state::State;

/// Issues a token for the configured user, or 401.
pub fn answer(state: &mut State, req: &Request) -> (Result<Value, EpicorError>, AuthUsed, Check) {
    if req.method != "POST" {
        let err = EpicorError::new(
            405,
            "The token resource only accepts POST.",
            "Ice.Common.MethodNotAllowed",
        );
        return (Err(err), AuthUsed::None, Check::Unchecked);
    }
    let (auth, check) = user_credentials(state, req);
    match check {
        Check::Valid => (Ok(issue(state)), auth, check),
        Check::Missing => (
            Err(EpicorError::unauthorized(
                "No credentials were supplied. Send HTTP Basic auth or the userName and password headers.",
            )),
            auth,
            check,
        ),
        _ => (
            Err(EpicorError::unauthorized(
                "Incorrect user name or password.",
            )),
            auth,
            check,
        ),
    }
}

/// Mints a token valid for the configured TTL.
pub fn issue(state: &mut State) -> Value {
    let n = state.next_id();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos();
    let digest = Sha256::digest(format!("kinetic-double-token-{n}-{nanos}").as_bytes());
    let token = format!("kd.{}", hex::encode(digest));
    let ttl = state.config.token_ttl;
    state.tokens.insert(token.clone(), Instant::now() + ttl);
    json!({
        "AccessToken": token,
        "ExpiresIn": ttl.as_secs(),
        "TokenType": "Bearer",
    })
}

/// Ends every issued token now: the next call with any of them answers 401.
pub fn expire_all(state: &mut State) {
    let now = Instant::now();
    for expiry in state.tokens.values_mut() {
        *expiry = now;
    }
}

/// How the call authenticates to `/api/v2/...` (bearer or Basic) and whether that is valid.
pub fn api_credentials(state: &State, req: &Request) -> (AuthUsed, Check) {
    let Some(auth) = req.header("authorization") else {
        return (AuthUsed::None, Check::Missing);
    };
    let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
    if scheme.eq_ignore_ascii_case("bearer") {
        let check = match state.tokens.get(value.trim()) {
            None => Check::Invalid,
            Some(expiry) if Instant::now() >= *expiry => Check::Expired,
            Some(_) => Check::Valid,
        };
        return (AuthUsed::Bearer, check);
    }
    if scheme.eq_ignore_ascii_case("basic") {
        return (AuthUsed::Basic, basic_check(state, value.trim()));
    }
    (AuthUsed::None, Check::Invalid)
}

/// The 401 for a failed `/api/v2/...` credential check.
pub fn api_denial(auth: AuthUsed, check: Check) -> EpicorError {
    match (auth, check) {
        (_, Check::Missing) => EpicorError::unauthorized(
            "Authorization has been denied for this request. Send a bearer token from TokenResource.svc or HTTP Basic auth.",
        ),
        (_, Check::Expired) => EpicorError::unauthorized(
            "The access token has expired. Request a new token from TokenResource.svc.",
        ),
        (AuthUsed::Bearer, _) => EpicorError::unauthorized("The access token is not valid."),
        _ => EpicorError::unauthorized("Incorrect user name or password."),
    }
}

fn user_credentials(state: &State, req: &Request) -> (AuthUsed, Check) {
    if let Some(auth) = req.header("authorization") {
        let (scheme, value) = auth.split_once(' ').unwrap_or((auth, ""));
        if scheme.eq_ignore_ascii_case("basic") {
            return (AuthUsed::Basic, basic_check(state, value.trim()));
        }
    }
    match (req.header("username"), req.header("password")) {
        (Some(user), Some(password)) => {
            let ok = user == state.config.user && password == state.config.password;
            (
                AuthUsed::UserHeaders,
                if ok { Check::Valid } else { Check::Invalid },
            )
        }
        (None, None) => (AuthUsed::None, Check::Missing),
        _ => (AuthUsed::UserHeaders, Check::Invalid),
    }
}

fn basic_check(state: &State, encoded: &str) -> Check {
    let Ok(decoded) = base64::engine::general_purpose::STANDARD.decode(encoded) else {
        return Check::Invalid;
    };
    let decoded = String::from_utf8_lossy(&decoded);
    match decoded.split_once(':') {
        Some((user, password))
            if user == state.config.user && password == state.config.password =>
        {
            Check::Valid
        }
        _ => Check::Invalid,
    }
}
