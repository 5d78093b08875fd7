//! A scripted Kinetic for the native unit tests: answers through a closure
//! and keeps a journal of every request.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;

use serde_json::Value;

use crate::rest::{HttpRequest, HttpResponse, Io, KineticError, Settings};

type Handler = Box<dyn Fn(&HttpRequest) -> HttpResponse>;

/// The fake server and the pack's surroundings.
pub struct Fake {
    pub now: Cell<u64>,
    pub kv: RefCell<BTreeMap<String, Vec<u8>>>,
    pub journal: RefCell<Vec<HttpRequest>>,
    handler: Handler,
}

impl Fake {
    pub fn new(handler: impl Fn(&HttpRequest) -> HttpResponse + 'static) -> Self {
        Self {
            now: Cell::new(1_000_000),
            kv: RefCell::default(),
            journal: RefCell::default(),
            handler: Box::new(handler),
        }
    }

    /// The paths called, in order (`POST /TokenResource.svc/`, ...).
    pub fn calls(&self) -> Vec<String> {
        self.journal
            .borrow()
            .iter()
            .map(|r| {
                let path = r.url.split_once("://").map_or("", |(_, p)| p);
                let path = &path[path.find('/').unwrap_or(path.len())..];
                format!(
                    "{} {}",
                    r.method.as_str(),
                    path.split('?').next().unwrap_or("")
                )
            })
            .collect()
    }

    /// The JSON body of the last request to a path ending in `suffix`.
    pub fn body_of(&self, suffix: &str) -> Value {
        let journal = self.journal.borrow();
        let r = journal
            .iter()
            .rev()
            .find(|r| r.url.split('?').next().unwrap_or("").ends_with(suffix))
            .unwrap_or_else(|| panic!("no request to {suffix}"));
        serde_json::from_slice(&r.body).unwrap_or(Value::Null)
    }
}

impl Io for Fake {
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, KineticError> {
        self.journal.borrow_mut().push(request.clone());
        Ok((self.handler)(request))
    }
    fn now_ms(&self) -> u64 {
        self.now.get()
    }
    fn load(&self, key: &str) -> Result<Option<Vec<u8>>, KineticError> {
        Ok(self.kv.borrow().get(key).cloned())
    }
    fn store(&self, key: &str, value: &[u8]) -> Result<(), KineticError> {
        self.kv.borrow_mut().insert(key.into(), value.to_vec());
        Ok(())
    }
    fn forget(&self, key: &str) -> Result<(), KineticError> {
        self.kv.borrow_mut().remove(key);
        Ok(())
    }
}

pub fn ok(v: Value) -> HttpResponse {
    HttpResponse {
        status: 200,
        body: v.to_string().into_bytes(),
    }
}

pub fn status(status: u16, v: Value) -> HttpResponse {
    HttpResponse {
        status,
        body: v.to_string().into_bytes(),
    }
}

pub fn token(r: &HttpRequest) -> Option<HttpResponse> {
    r.url.contains("TokenResource.svc").then(|| {
        ok(serde_json::json!({"AccessToken": "tok-1", "ExpiresIn": 1200, "TokenType": "Bearer"}))
    })
}

pub fn settings() -> Settings {
    Settings {
        base_url: "http://kinetic.test/ERP".into(),
        company: "EPIC06".into(),
        plant: Some("MfgSys".into()),
        api_key_secret: "KINETIC_API_KEY".into(),
        user_secret: "KINETIC_USER".into(),
        password_secret: "KINETIC_PASSWORD".into(),
        refresh_margin_ms: 60_000,
    }
}

/// The method (last path segment) of a request.
pub fn method(r: &HttpRequest) -> &str {
    let path = r.url.split('?').next().unwrap_or("");
    path.rsplit('/').next().unwrap_or("")
}
