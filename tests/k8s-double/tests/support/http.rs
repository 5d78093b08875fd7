//! A minimal blocking HTTP/1.1 client for the tests: one request per
//! connection, `Connection: close`, chunked bodies decoded.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};

use serde_json::Value;

/// A response: status code, raw body, and the body parsed as JSON (or
/// `Value::Null` when it is not JSON).
#[derive(Debug)]
pub struct Response {
    pub code: u16,
    pub text: String,
    pub json: Value,
}

/// Talks to one double with one token.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: SocketAddr,
    pub token: Option<String>,
}

impl Client {
    pub fn new(addr: SocketAddr, token: &str) -> Self {
        Client {
            addr,
            token: Some(token.to_string()),
        }
    }

    pub fn get(&self, path: &str) -> Response {
        self.send("GET", path, None, b"")
    }

    pub fn delete(&self, path: &str) -> Response {
        self.send("DELETE", path, None, b"")
    }

    /// Server-side apply of a YAML or JSON body.
    pub fn apply(&self, path: &str, body: &str) -> Response {
        self.send(
            "PATCH",
            path,
            Some("application/apply-patch+yaml"),
            body.as_bytes(),
        )
    }

    pub fn patch(&self, path: &str, content_type: &str, body: &Value) -> Response {
        self.send(
            "PATCH",
            path,
            Some(content_type),
            body.to_string().as_bytes(),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> Response {
        self.send(
            "POST",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    pub fn put(&self, path: &str, body: &Value) -> Response {
        self.send(
            "PUT",
            path,
            Some("application/json"),
            body.to_string().as_bytes(),
        )
    }

    pub fn send(
        &self,
        method: &str,
        path: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> Response {
        let mut s = TcpStream::connect(self.addr).expect("connect to the double");
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nUser-Agent: envpack-double-tests/1\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = &self.token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        if let Some(ct) = content_type {
            head.push_str(&format!("Content-Type: {ct}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).expect("write request");
        s.write_all(body).expect("write body");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).expect("read response");
        parse(&raw)
    }
}

fn parse(raw: &[u8]) -> Response {
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut body = raw[split + 4..].to_vec();
    let code: u16 = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    if head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        body = dechunk(&body);
    }
    let text = String::from_utf8_lossy(&body).to_string();
    let json = serde_json::from_str(&text).unwrap_or(Value::Null);
    Response { code, text, json }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(eol) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + size]);
        b = &b[eol + 2 + size + 2..];
    }
    out
}
