//! Outbound HTTP through standard `wasi:http` (capability `http:<host>`).
//!
//! A small blocking client for the common case. Because it is plain
//! `wasi:http`, any Rust HTTP crate that targets `wasm32-wasip2` works in a
//! pack too; the host allows requests only to hosts the environment granted.
//!
//! ```no_run
//! use envpack_sdk::http::Request;
//! let resp = Request::post("https://erp.example.com/api/v2/odata/EPIC06/Ice.BO.ExportPackageSvc/GetList")
//!     .header("content-type", "application/json")
//!     .body(br#"{"whereClause":"","pageSize":0,"absolutePage":0}"#.to_vec())
//!     .send()?;
//! if resp.status != 200 { /* ... */ }
//! # Ok::<(), envpack_sdk::Error>(())
//! ```

use std::io::Read;
use std::time::Duration;

use crate::Error;

#[cfg(target_arch = "wasm32")]
mod wasi;

/// Largest response body read, so a misbehaving server cannot exhaust the
/// pack's memory.
///
/// ```
/// assert_eq!(envpack_sdk::http::MAX_RESPONSE_BYTES, 32 << 20);
/// ```
pub const MAX_RESPONSE_BYTES: usize = 32 * 1024 * 1024;

/// An HTTP request under construction.
///
/// ```no_run
/// let resp = envpack_sdk::http::Request::get("https://api.example.com/health").send()?;
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    url: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    timeout: Duration,
}

/// A complete HTTP response.
///
/// ```no_run
/// let resp = envpack_sdk::http::Request::get("https://api.example.com/items").send()?;
/// if resp.is_success() && resp.header("content-type") == Some("application/json") {
///     let _json = resp.text();
/// }
/// # Ok::<(), envpack_sdk::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Response {
    /// Status code.
    pub status: u16,
    /// Headers, in order, names lowercase.
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl Response {
    /// The first header named `name` (case-insensitive).
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/").send()?;
    /// let etag = resp.header("ETag"); // same as "etag"
    /// # let _ = etag;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn header(&self, name: &str) -> Option<&str> {
        header_in(&self.headers, name)
    }

    /// The body as UTF-8 text (lossy).
    ///
    /// ```no_run
    /// let body = envpack_sdk::http::Request::get("https://api.example.com/").send()?.text();
    /// # let _ = body;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Whether the status is 2xx.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/").send()?;
    /// if !resp.is_success() {
    ///     return Err(envpack_sdk::Error::unavailable(format!("status {}", resp.status)));
    /// }
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

impl Request {
    /// A request with any method.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::new("delete", "https://api.example.com/items/7").send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn new(method: &str, url: &str) -> Self {
        Self {
            method: method.to_ascii_uppercase(),
            url: url.to_string(),
            headers: Vec::new(),
            body: Vec::new(),
            timeout: Duration::from_secs(30),
        }
    }

    /// A GET request.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/items?page=2").send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn get(url: &str) -> Self {
        Self::new("GET", url)
    }

    /// A POST request.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::post("https://api.example.com/items")
    ///     .header("content-type", "application/json")
    ///     .body(br#"{"name":"x"}"#.to_vec())
    ///     .send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn post(url: &str) -> Self {
        Self::new("POST", url)
    }

    /// Adds a header.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/")
    ///     .header("accept", "application/json")
    ///     .send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.to_string(), value.to_string()));
        self
    }

    /// Adds a header whose value contains the secret `secret`, written
    /// `template` with `{}` where the secret goes (for example
    /// `.credential_header("authorization", "Bearer {}", "API_TOKEN")`). The
    /// pack never sees the secret: the host fills it in as the request
    /// leaves, to hosts the operator granted, when the pack requests
    /// `credentials = ["API_TOKEN"]` in `pack.toml` and the environment grants
    /// `credential:API_TOKEN`.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::get("https://api.example.com/me")
    ///     .credential_header("authorization", "Bearer {}", "API_TOKEN")
    ///     .send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn credential_header(self, name: &str, template: &str, secret: &str) -> Self {
        let value = template.replacen("{}", &credential(secret), 1);
        self.header(name, &value)
    }

    /// Sets the body.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::new("PUT", "https://api.example.com/blob")
    ///     .body(vec![0u8; 1024])
    ///     .send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn body(mut self, body: Vec<u8>) -> Self {
        self.body = body;
        self
    }

    /// Sets the connect and first-byte timeout (default 30 s).
    ///
    /// ```no_run
    /// use std::time::Duration;
    /// let resp = envpack_sdk::http::Request::get("https://slow.example.com/")
    ///     .timeout(Duration::from_secs(5))
    ///     .send()?;
    /// # let _ = resp;
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends the request and reads the whole response. A body goes with a
    /// `content-length` header (its length is known), so every server sees
    /// it, `http.server` and gateways that refuse chunked uploads included.
    /// A request without a body sends none, except `POST`, `PUT` and `PATCH`,
    /// which say `content-length: 0`.
    ///
    /// ```no_run
    /// let resp = envpack_sdk::http::Request::post("https://hooks.example.com/events")
    ///     .body(b"hello".to_vec()) // sent with content-length: 5
    ///     .send()?;
    /// assert!(resp.is_success());
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn send(mut self) -> Result<Response, Error> {
        let body = std::mem::take(&mut self.body);
        let length = u64::try_from(body.len()).unwrap_or(u64::MAX);
        self.exchange(Some(length), &mut body.as_slice())
    }

    /// Sends the request with a body read from `reader` while it is sent
    /// (a file or a generated stream, never held whole in memory), and
    /// reads the whole response. With `Some(length)` the request says
    /// `content-length` and the host checks that exactly that many bytes
    /// came; with `None` the body goes chunked (`transfer-encoding:
    /// chunked`), which some servers do not accept. The body set with
    /// [`body`](Self::body) is ignored.
    ///
    /// ```no_run
    /// use envpack_sdk::http::Request;
    /// let report = b"a large report".repeat(1000);
    /// let resp = Request::post("https://uploads.example.com/reports")
    ///     .send_reader(&report[..], Some(report.len() as u64))?;
    /// assert!(resp.is_success());
    /// # Ok::<(), envpack_sdk::Error>(())
    /// ```
    pub fn send_reader(
        self,
        mut reader: impl Read,
        length: Option<u64>,
    ) -> Result<Response, Error> {
        self.exchange(length, &mut reader)
    }

    fn exchange(self, length: Option<u64>, reader: &mut dyn Read) -> Result<Response, Error> {
        let target = Target::parse(&self.url)?;
        let mut fields: Vec<(String, Vec<u8>)> = self
            .headers
            .iter()
            .map(|(n, v)| (n.to_ascii_lowercase(), v.clone().into_bytes()))
            .collect();
        let has_body =
            length != Some(0) || matches!(self.method.as_str(), "POST" | "PUT" | "PATCH");
        if let Some(n) = length.filter(|_| has_body)
            && !fields.iter().any(|(n, _)| n == "content-length")
        {
            fields.push(("content-length".into(), n.to_string().into_bytes()));
        }
        #[cfg(target_arch = "wasm32")]
        return wasi::exchange(&self, &target, &fields, has_body.then_some(reader));
        #[cfg(not(target_arch = "wasm32"))]
        return self.fake_exchange(&target, fields, has_body.then_some(reader), length);
    }

    /// The native build's exchange, with the test's
    /// `testing::FakeHost` (feature `testing`): the body is read whole (and its length
    /// checked, as the host does), the request recorded, and the scripted
    /// response returned.
    #[cfg(not(target_arch = "wasm32"))]
    fn fake_exchange(
        &self,
        target: &Target,
        fields: Vec<(String, Vec<u8>)>,
        reader: Option<&mut dyn Read>,
        length: Option<u64>,
    ) -> Result<Response, Error> {
        let mut body = Vec::new();
        if let Some(reader) = reader {
            reader.read_to_end(&mut body).map_err(|e| {
                Error::internal(format!(
                    "reading the body of the request to {} failed: {e}",
                    target.authority
                ))
            })?;
        }
        if let Some(n) = length
            && u64::try_from(body.len()).ok() != Some(n)
        {
            return Err(Error::unavailable(format!(
                "request to {} failed: the body was {} bytes, not the content-length {n}",
                target.authority,
                body.len()
            )));
        }
        crate::fake::http(crate::fake::SentRequest {
            method: self.method.clone(),
            url: self.url.clone(),
            headers: fields
                .into_iter()
                .map(|(n, v)| (n, String::from_utf8_lossy(&v).into_owned()))
                .collect(),
            body,
        })
    }
}

/// A parsed URL (a native build reads only the authority).
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Target {
    https: bool,
    authority: String,
    path: String,
}

impl Target {
    fn parse(url: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::invalid_input(format!("invalid URL {url:?}: {why}"));
        let (scheme, rest) = url
            .split_once("://")
            .ok_or_else(|| bad("expected http:// or https://"))?;
        let https = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return Err(bad("expected http:// or https://")),
        };
        let split = rest.find(['/', '?']).unwrap_or(rest.len());
        let (authority, path) = rest.split_at(split);
        if authority.is_empty() {
            return Err(bad("the host is empty"));
        }
        let path = match path {
            "" => "/".to_string(),
            p if p.starts_with('?') => format!("/{p}"),
            p => p.to_string(),
        };
        Ok(Self {
            https,
            authority: authority.to_string(),
            path,
        })
    }
}

/// The first header named `name` (case-insensitive) in `headers`.
pub(crate) fn header_in<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_str())
}

/// The placeholder the host replaces with secret `name` in an outgoing
/// request header: `{{credential:NAME}}`.
///
/// ```
/// assert_eq!(envpack_sdk::http::credential("API_TOKEN"), "{{credential:API_TOKEN}}");
/// ```
pub fn credential(name: &str) -> String {
    format!("{{{{credential:{name}}}}}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls() {
        let t = Target::parse("https://api.example.com:8443/a/b?x=1").expect("url");
        assert_eq!(t.authority, "api.example.com:8443");
        assert_eq!(t.path, "/a/b?x=1");
        assert_eq!(Target::parse("http://h").expect("url").path, "/");
        assert_eq!(Target::parse("http://h?q").expect("url").path, "/?q");
        assert!(Target::parse("ftp://h").is_err());
        assert!(Target::parse("h/x").is_err());
        assert!(Target::parse("http:///x").is_err());
    }
}
