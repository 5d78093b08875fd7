//! What the client needs from its surroundings: send one HTTP request, tell
//! the time, and keep a few bytes between runs (the token cache).

use super::error::KineticError;

/// HTTP method of a Kinetic call: RPC methods are POSTs, a few reads GETs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    /// `GET`
    Get,
    /// `POST`
    Post,
}

impl Method {
    /// The method's name on the wire.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
        }
    }
}

/// One request as it leaves the pack. Header values may hold
/// `{{credential:NAME}}` placeholders, which the host fills in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpRequest {
    /// Method.
    pub method: Method,
    /// Absolute URL.
    pub url: String,
    /// Headers in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// Body bytes (empty for GET).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The first header named `name`.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A whole response.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// Status code.
    pub status: u16,
    /// Body bytes.
    pub body: Vec<u8>,
}

/// The pack's surroundings, as the client sees them.
pub trait Io {
    /// Sends one request. Transport failures (denied host, refused
    /// connection, timeout) are errors; any HTTP status is a response.
    fn send(&self, request: &HttpRequest) -> Result<HttpResponse, KineticError>;
    /// Milliseconds since the Unix epoch.
    fn now_ms(&self) -> u64;
    /// The bytes stored under `key`, if any.
    fn load(&self, key: &str) -> Result<Option<Vec<u8>>, KineticError>;
    /// Stores bytes under `key`.
    fn store(&self, key: &str, value: &[u8]) -> Result<(), KineticError>;
    /// Forgets `key`.
    fn forget(&self, key: &str) -> Result<(), KineticError>;
}
