//! Authenticated calls to one Kinetic server and company.
//!
//! Every request carries `x-api-key: {{credential:<api_key_secret>}}` (the
//! host fills it in), `Authorization: Bearer <token>`, and the
//! `CallSettings` header naming the company (and plant). Services are
//! addressed as `{base}/api/v2/odata/{company}/{Service}/{Method}`. A 401
//! drops the cached token, fetches a new one and retries once; a second 401
//! is [`KineticError::Unauthorized`], naming the secrets and how to fix them.

use std::cell::RefCell;

use serde_json::{Value, json};

use super::error::KineticError;
use super::io::{HttpRequest, HttpResponse, Io, Method};
use super::settings::Settings;
use super::token::{CachedToken, cache_key};

/// A client for one company of one server.
pub struct Client<'a, I: Io> {
    io: &'a I,
    settings: Settings,
    token: RefCell<Option<CachedToken>>,
}

impl<'a, I: Io> Client<'a, I> {
    /// A client with `settings`, using `io` for everything outside the pack.
    pub fn new(io: &'a I, settings: Settings) -> Self {
        Self {
            io,
            settings,
            token: RefCell::new(None),
        }
    }

    /// The settings in use.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The company in the path.
    pub fn company(&self) -> &str {
        &self.settings.company
    }

    /// `io`, for callers that keep artifacts.
    pub fn io(&self) -> &'a I {
        self.io
    }

    /// The same server and credentials for another company.
    pub fn for_company(&self, company: &str) -> Result<Client<'a, I>, KineticError> {
        Ok(Client {
            io: self.io,
            settings: self.settings.for_company(company)?,
            token: RefCell::new(self.token.borrow().clone()),
        })
    }

    /// POSTs `body` to `Service/Method` and returns the JSON answer.
    pub fn call(&self, service: &str, method: &str, body: &Value) -> Result<Value, KineticError> {
        let url = self.service_url(service, method);
        let bytes = serde_json::to_vec(body).unwrap_or_default();
        self.send(&format!("{service}/{method}"), Method::Post, &url, bytes)
    }

    /// GETs `Service/Method?query` (values percent-encoded).
    pub fn get(
        &self,
        service: &str,
        method: &str,
        query: &[(&str, String)],
    ) -> Result<Value, KineticError> {
        let mut url = self.service_url(service, method);
        for (i, (k, v)) in query.iter().enumerate() {
            url.push(if i == 0 { '?' } else { '&' });
            url.push_str(&percent_encode(k));
            url.push('=');
            url.push_str(&percent_encode(v));
        }
        self.send(
            &format!("{service}/{method}"),
            Method::Get,
            &url,
            Vec::new(),
        )
    }

    /// `{base}/api/v2/odata/{company}/{service}/{method}`.
    pub fn service_url(&self, service: &str, method: &str) -> String {
        format!(
            "{}/api/v2/odata/{}/{service}/{method}",
            self.settings.base_url, self.settings.company
        )
    }

    fn send(
        &self,
        call: &str,
        method: Method,
        url: &str,
        body: Vec<u8>,
    ) -> Result<Value, KineticError> {
        let token = self.token(false)?;
        let mut response = self.io.send(&self.request(method, url, &token, &body))?;
        if response.status == 401 {
            // Expired or revoked: one fresh token, one retry.
            let token = self.token(true)?;
            response = self.io.send(&self.request(method, url, &token, &body))?;
            if response.status == 401 {
                return Err(self.unauthorized(url, call, &response, false));
            }
        }
        parse(call, &response)
    }

    fn request(&self, method: Method, url: &str, token: &str, body: &[u8]) -> HttpRequest {
        let mut call_settings = json!({ "Company": self.settings.company });
        if let Some(plant) = &self.settings.plant {
            call_settings["Plant"] = json!(plant);
        }
        let mut headers = vec![
            (
                "x-api-key".to_string(),
                placeholder(&self.settings.api_key_secret),
            ),
            ("authorization".to_string(), format!("Bearer {token}")),
            ("callsettings".to_string(), call_settings.to_string()),
            ("accept".to_string(), "application/json".to_string()),
        ];
        if method == Method::Post {
            headers.push(("content-type".to_string(), "application/json".to_string()));
        }
        HttpRequest {
            method,
            url: url.to_string(),
            headers,
            body: body.to_vec(),
        }
    }

    /// A usable token: the cached one unless `renew`, it is near expiry, or
    /// there is none.
    fn token(&self, renew: bool) -> Result<String, KineticError> {
        let key = cache_key(
            &self.settings.base_url,
            &self.settings.user_secret,
            &self.settings.api_key_secret,
        );
        let now = self.io.now_ms();
        let margin = self.settings.refresh_margin_ms;
        if !renew {
            if let Some(t) = self
                .token
                .borrow()
                .as_ref()
                .filter(|t| t.fresh(now, margin))
            {
                return Ok(t.access_token.clone());
            }
            let stored = self
                .io
                .load(&key)?
                .and_then(|b| CachedToken::from_bytes(&b));
            if let Some(t) = stored.filter(|t| t.fresh(now, margin)) {
                let token = t.access_token.clone();
                *self.token.borrow_mut() = Some(t);
                return Ok(token);
            }
        }
        let fresh = self.fetch_token()?;
        self.io.store(&key, &fresh.to_bytes())?;
        let token = fresh.access_token.clone();
        *self.token.borrow_mut() = Some(fresh);
        Ok(token)
    }

    /// The token request: the host fills in all three credentials.
    pub fn token_request(&self) -> HttpRequest {
        let s = &self.settings;
        HttpRequest {
            method: Method::Post,
            url: format!("{}/TokenResource.svc/", s.base_url),
            headers: vec![
                ("username".to_string(), placeholder(&s.user_secret)),
                ("password".to_string(), placeholder(&s.password_secret)),
                ("x-api-key".to_string(), placeholder(&s.api_key_secret)),
                ("accept".to_string(), "application/json".to_string()),
            ],
            body: Vec::new(),
        }
    }

    fn fetch_token(&self) -> Result<CachedToken, KineticError> {
        let request = self.token_request();
        let response = self.io.send(&request)?;
        if response.status == 401 || response.status == 403 {
            return Err(self.unauthorized(&request.url, "TokenResource.svc", &response, true));
        }
        if !(200..300).contains(&response.status) {
            return Err(KineticError::from_response(
                "TokenResource.svc",
                response.status,
                &response.body,
            ));
        }
        CachedToken::parse(&response.body, self.io.now_ms())
    }

    fn unauthorized(
        &self,
        url: &str,
        call: &str,
        response: &HttpResponse,
        with_user: bool,
    ) -> KineticError {
        let s = &self.settings;
        let mut secrets = vec![s.api_key_secret.clone()];
        if with_user {
            secrets.push(s.user_secret.clone());
            secrets.push(s.password_secret.clone());
        }
        KineticError::Unauthorized {
            url: url.split('?').next().unwrap_or(url).to_string(),
            secrets,
            server: Some(Box::new(KineticError::from_response(
                call,
                response.status,
                &response.body,
            ))),
        }
    }
}

/// `{{credential:NAME}}`: the host's placeholder for a secret in a header.
pub fn placeholder(secret: &str) -> String {
    format!("{{{{credential:{secret}}}}}")
}

fn parse(call: &str, response: &HttpResponse) -> Result<Value, KineticError> {
    if !(200..300).contains(&response.status) {
        return Err(KineticError::from_response(
            call,
            response.status,
            &response.body,
        ));
    }
    if response.body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Value::Null);
    }
    serde_json::from_slice(&response.body)
        .map_err(|e| KineticError::protocol(call, format!("the body is not JSON ({e})")))
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
#[path = "client_tests.rs"]
mod tests;
