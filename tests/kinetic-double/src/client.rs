//! A tiny blocking HTTP/1.1 client for tests of the double (and for e2e tests that want to
//! look at or drive it over HTTP): one request per connection, JSON bodies.

use std::io::{Read, Write};
use std::net::TcpStream;

use base64::Engine;
use serde_json::Value;

/// An answer: status and parsed JSON body (`Value::Null` when the body is not JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct Response {
    /// The HTTP status.
    pub status: u16,
    /// The body parsed as JSON.
    pub body: Value,
    /// The raw body.
    pub raw: Vec<u8>,
}

/// A client for one double (`base` as [`crate::KineticDouble::base_url`] gives it).
#[derive(Debug, Clone)]
pub struct Client {
    host: String,
    /// Headers sent on every request.
    pub headers: Vec<(String, String)>,
}

impl Client {
    /// A client for `http://HOST:PORT` with no default headers.
    pub fn new(base: &str) -> Self {
        let host = base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_string();
        Self {
            host,
            headers: Vec::new(),
        }
    }

    /// Gets a token from `TokenResource.svc` (Basic auth) and returns a client that sends
    /// `x-api-key` and that bearer token on every request.
    pub fn login(base: &str, api_key: &str, user: &str, password: &str) -> std::io::Result<Self> {
        let answer = Self::new(base)
            .with_api_key(api_key)
            .with_basic(user, password)
            .post("/TokenResource.svc/", &Value::Object(Default::default()))?;
        let token = answer.body["AccessToken"].as_str().ok_or_else(|| {
            std::io::Error::other(format!(
                "token call answered {}: {}",
                answer.status, answer.body
            ))
        })?;
        Ok(Self::new(base).with_api_key(api_key).with_bearer(token))
    }

    /// `POST /api/v2/odata/{company}/{service}/{method}` with a JSON body.
    pub fn odata(
        &self,
        company: &str,
        service: &str,
        method: &str,
        body: &Value,
    ) -> std::io::Result<Response> {
        self.post(&format!("/api/v2/odata/{company}/{service}/{method}"), body)
    }

    /// Adds a header sent on every request.
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Sets `x-api-key`.
    pub fn with_api_key(self, key: &str) -> Self {
        self.with_header("x-api-key", key)
    }

    /// Sets `Authorization: Bearer <token>`.
    pub fn with_bearer(self, token: &str) -> Self {
        self.with_header("Authorization", &format!("Bearer {token}"))
    }

    /// Sets `Authorization: Basic <user:password>`.
    pub fn with_basic(self, user: &str, password: &str) -> Self {
        let encoded =
            base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
        self.with_header("Authorization", &format!("Basic {encoded}"))
    }

    /// `POST path` with a JSON body.
    pub fn post(&self, path: &str, body: &Value) -> std::io::Result<Response> {
        let bytes = serde_json::to_vec(body).map_err(std::io::Error::other)?;
        self.send("POST", path, &[], &bytes)
    }

    /// `GET path` (the query already in `path`, encoded).
    pub fn get(&self, path: &str) -> std::io::Result<Response> {
        self.send("GET", path, &[], &[])
    }

    /// Any request, with extra headers for this one.
    pub fn send(
        &self,
        method: &str,
        path: &str,
        extra: &[(&str, &str)],
        body: &[u8],
    ) -> std::io::Result<Response> {
        let mut stream = TcpStream::connect(&self.host)?;
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.host,
            body.len()
        );
        if !body.is_empty() {
            head.push_str("Content-Type: application/json\r\n");
        }
        let defaults = self.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
        for (k, v) in defaults.chain(extra.iter().copied()) {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        stream.write_all(head.as_bytes())?;
        stream.write_all(body)?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer)?;
        parse(&answer)
    }
}

fn parse(answer: &[u8]) -> std::io::Result<Response> {
    let bad = |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_string());
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| bad("no end of headers in the answer"))?;
    let head = String::from_utf8_lossy(&answer[..split]);
    let status = head
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| bad("no status in the answer"))?;
    let mut raw = answer[split + 4..].to_vec();
    let chunked = head.lines().any(|l| {
        l.to_ascii_lowercase().starts_with("transfer-encoding:")
            && l.to_ascii_lowercase().contains("chunked")
    });
    if chunked {
        raw = dechunk(&raw);
    }
    let body = serde_json::from_slice(&raw).unwrap_or(Value::Null);
    Ok(Response { status, body, raw })
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = data.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&data[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.trim(), 16).ok())
            .unwrap_or(0);
        if size == 0 || data.len() < eol + 2 + size {
            break;
        }
        out.extend_from_slice(&data[eol + 2..eol + 2 + size]);
        data = &data[(eol + 4 + size).min(data.len())..];
    }
    out
}

/// Percent-encodes a query value.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
