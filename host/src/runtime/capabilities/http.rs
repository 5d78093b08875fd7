//! Outbound HTTP through `wasi:http` (capability `http:<host>[:port]`).
//!
//! | manifest requests      | operator granted        | request to              | result |
//! |------------------------|-------------------------|-------------------------|--------|
//! | `http:api.example.com` | `http:api.example.com`  | `https://api.example.com` | sent |
//! | `http:*.example.com`   | `http:api.example.com`  | `https://api.example.com` | sent |
//! | `http:*.example.com`   | `http:api.example.com`  | `https://x.example.com`   | `HTTP-request-denied` |
//! | `http:api.example.com` | -                       | `https://api.example.com` | `HTTP-request-denied` |
//! | -                      | `http:*`-anything       | anywhere                  | `HTTP-request-denied` |
//!
//! `wasi:http` can only say "denied", so the host records the capability and
//! the command that grants it, and reports them with the pack's result.
//! Timeouts a pack asks for are capped by the host's own.

use std::sync::Arc;
use std::time::Duration;

use envpack_manifest::Capability;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::Granter;

/// Connect / first-byte / between-bytes ceiling for any request.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// The hooks that gate `wasi:http` requests.
pub(crate) struct HttpHooks {
    pub(crate) granter: Arc<Granter>,
}

/// Whether a request to `uri` is allowed (a refusal is recorded by the
/// granter).
pub(crate) fn allowed(granter: &Granter, uri: &http::Uri) -> bool {
    let host = uri
        .host()
        .unwrap_or_default()
        .trim_start_matches('[')
        .trim_end_matches(']');
    let port = uri
        .port_u16()
        .unwrap_or(if uri.scheme_str() == Some("https") {
            443
        } else {
            80
        });
    granter.check(&Capability::http_to(host, port)).is_ok()
}

fn cap(t: Option<Duration>) -> Option<Duration> {
    Some(t.map_or(MAX_HTTP_TIMEOUT, |t| t.min(MAX_HTTP_TIMEOUT)))
}

type ResponseFuture = Box<
    dyn Future<
            Output = Result<
                (
                    http::Response<WasiBody>,
                    Box<dyn Future<Output = Result<(), HttpError>> + Send>,
                ),
                HttpError,
            >,
        > + Send,
>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: Box<dyn Future<Output = Result<(), HttpError>> + Send>,
    ) -> ResponseFuture {
        let uri = request.uri();
        if !allowed(&self.granter, uri) {
            return Box::new(async { Err(HttpError::HttpRequestDenied) });
        }
        tracing::debug!(pack = %self.granter.pack().descriptor, uri = %uri, "outbound http");
        let options = RequestOptions {
            connect_timeout: cap(options.and_then(|o| o.connect_timeout)),
            first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout)),
            between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout)),
        };
        let _ = fut;
        Box::new(async move {
            use http_body_util::BodyExt;
            let (res, io) =
                wasmtime_wasi_http::default_send_request(request, Some(options)).await?;
            Ok((
                res.map(BodyExt::boxed_unsync),
                Box::new(io) as Box<dyn Future<Output = Result<(), HttpError>> + Send>,
            ))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::capabilities::table::granter;

    /// The table above.
    #[test]
    fn allows() {
        for (requested, granted, uri, want) in [
            (
                "http:api.example.com",
                "http:api.example.com",
                "https://api.example.com/x",
                true,
            ),
            (
                "http:*.example.com",
                "http:api.example.com",
                "https://api.example.com/x",
                true,
            ),
            (
                "http:*.example.com",
                "http:api.example.com",
                "https://x.example.com/",
                false,
            ),
            (
                "http:api.example.com",
                "",
                "https://api.example.com/",
                false,
            ),
            ("", "http:evil.com", "http://evil.com/", false),
            (
                "http:127.0.0.1",
                "http:127.0.0.1",
                "http://127.0.0.1:8080/health",
                true,
            ),
        ] {
            let requested: Vec<&str> = [requested].into_iter().filter(|s| !s.is_empty()).collect();
            let granted: Vec<&str> = [granted].into_iter().filter(|s| !s.is_empty()).collect();
            let uri: http::Uri = uri.parse().expect("uri");
            assert_eq!(
                allowed(&granter(&requested, &granted), &uri),
                want,
                "{requested:?} x {granted:?} -> {uri}"
            );
        }
    }
}
