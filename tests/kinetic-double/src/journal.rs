//! The request journal: every call the double answered, in order, so tests can assert the
//! sequence a client made.
//!
//! The journal records header *names*, which kind of authentication was used and whether the
//! API key and token were valid, never a header's value: a journal dumped into a test log or
//! fetched over the control API must not leak the credentials a client sent. The one header
//! value kept is `CallSettings` (a company/plant context, not a secret).

use serde_json::{Value, json};

/// How a call authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthUsed {
    /// No `Authorization` header and no `userName`/`password` headers.
    None,
    /// `Authorization: Bearer <token>`.
    Bearer,
    /// `Authorization: Basic <user:password>`.
    Basic,
    /// `userName` and `password` headers (the token endpoint's other form).
    UserHeaders,
}

impl AuthUsed {
    /// The name used in the journal's JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Bearer => "bearer",
            Self::Basic => "basic",
            Self::UserHeaders => "user-headers",
        }
    }
}

/// Whether a presented credential (API key, token, password) was accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// Not presented.
    Missing,
    /// Presented and accepted.
    Valid,
    /// Presented and wrong.
    Invalid,
    /// A token that was issued but has expired.
    Expired,
    /// Not looked at (the call was answered before, e.g. by an injected fault).
    Unchecked,
}

impl Check {
    /// The name used in the journal's JSON form.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Valid => "valid",
            Self::Invalid => "invalid",
            Self::Expired => "expired",
            Self::Unchecked => "unchecked",
        }
    }
}

/// One answered request.
#[derive(Debug, Clone, PartialEq)]
pub struct JournalEntry {
    /// 1-based position since the last reset.
    pub seq: u64,
    /// HTTP method (`POST`, `GET`...).
    pub http_method: String,
    /// The request path, without the query.
    pub path: String,
    /// The decoded query parameters, in order.
    pub query: Vec<(String, String)>,
    /// The service (`Ice.BO.ExportPackageSvc`, `TokenResource.svc`), when the path names one.
    pub service: Option<String>,
    /// The method (`GetByID`), when the path names one.
    pub method: Option<String>,
    /// The company from the path.
    pub company: Option<String>,
    /// The request header names, lowercased, in order.
    pub header_names: Vec<String>,
    /// How the call authenticated.
    pub auth: AuthUsed,
    /// Whether `x-api-key` matched.
    pub api_key: Check,
    /// Whether the bearer token or password was accepted.
    pub credential: Check,
    /// The `CallSettings` header, parsed as JSON (or kept as a string when it is not JSON).
    pub call_settings: Option<Value>,
    /// The JSON request body (`null` when empty or not JSON).
    pub body: Value,
    /// The status answered.
    pub status: u16,
    /// The correlation id of the error body answered, if any.
    pub correlation_id: Option<String>,
    /// The answer came from an injected fault.
    pub faulted: bool,
}

impl JournalEntry {
    /// `Service/Method` (or the path when the route names no service).
    pub fn route(&self) -> String {
        match (&self.service, &self.method) {
            (Some(s), Some(m)) => format!("{s}/{m}"),
            (Some(s), None) => s.clone(),
            _ => self.path.clone(),
        }
    }

    /// Whether the call asks to change the server, whatever it was
    /// answered: any method but the token endpoint, the reads (`Get*`,
    /// `BaqSvc/{id}/Data`) and the validations (`Validate*`), which Kinetic
    /// answers without changing anything.
    pub fn mutates(&self) -> bool {
        match (&self.service, &self.method) {
            (Some(s), _) if s.eq_ignore_ascii_case("TokenResource.svc") => false,
            (_, Some(m)) => {
                !(m.starts_with("Get") || m.starts_with("Validate") || m.ends_with("/Data"))
            }
            _ => false,
        }
    }

    /// The JSON form answered by `GET /_double/journal`.
    pub fn to_json(&self) -> Value {
        json!({
            "seq": self.seq,
            "httpMethod": self.http_method,
            "path": self.path,
            "query": self.query.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
            "route": self.route(),
            "service": self.service,
            "method": self.method,
            "company": self.company,
            "headerNames": self.header_names,
            "auth": self.auth.as_str(),
            "apiKey": self.api_key.as_str(),
            "credential": self.credential.as_str(),
            "callSettings": self.call_settings,
            "body": self.body,
            "status": self.status,
            "correlationId": self.correlation_id,
            "faulted": self.faulted,
            "mutates": self.mutates(),
        })
    }
}

/// The ordered journal.
#[derive(Debug, Default)]
pub struct Journal {
    entries: Vec<JournalEntry>,
    next_seq: u64,
}

impl Journal {
    /// Appends an entry, numbering it.
    pub fn push(&mut self, mut entry: JournalEntry) {
        self.next_seq += 1;
        entry.seq = self.next_seq;
        self.entries.push(entry);
    }

    /// All entries since the last reset.
    pub fn entries(&self) -> &[JournalEntry] {
        &self.entries
    }

    /// Forgets every entry and restarts numbering.
    pub fn clear(&mut self) {
        self.entries.clear();
        self.next_seq = 0;
    }
}
