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
//! Timeouts a pack asks for are capped by the host's own, and by what is left
//! of the call's deadline: the response and the connection (hence both
//! bodies) end at the deadline. At most [`MAX_IN_FLIGHT`] requests of one
//! instance are open at once; more fail with `connection-limit-reached`.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use envpack_manifest::Capability;
use wasmtime_wasi_http::{Error as HttpError, RequestOptions, WasiBody, WasiHttpHooks};

use super::Granter;
use super::credentials::{self, Refusal};
use super::secrets::SecretSource;

/// Connect / first-byte / between-bytes ceiling for any request.
pub const MAX_HTTP_TIMEOUT: Duration = Duration::from_secs(60);

/// Outbound requests one instance may have open at once.
pub const MAX_IN_FLIGHT: usize = 32;

/// The hooks that gate `wasi:http` requests.
pub(crate) struct HttpHooks {
    pub(crate) granter: Arc<Granter>,
    /// Where `{{credential:NAME}}` header values come from.
    secrets: Arc<dyn SecretSource>,
    /// When the current call ends; set by `StoreData::start_call`.
    pub(crate) deadline: Instant,
    in_flight: Arc<AtomicUsize>,
}

impl HttpHooks {
    pub(crate) fn new(granter: Arc<Granter>, secrets: Arc<dyn SecretSource>) -> Self {
        Self {
            granter,
            secrets,
            deadline: Instant::now(),
            in_flight: Arc::default(),
        }
    }
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

/// A pack's timeout, capped by the host's and by what is left of the call.
fn cap(t: Option<Duration>, left: Duration) -> Option<Duration> {
    Some(
        t.unwrap_or(MAX_HTTP_TIMEOUT)
            .min(MAX_HTTP_TIMEOUT)
            .min(left),
    )
}

/// Holds one of an instance's [`MAX_IN_FLIGHT`] slots until dropped.
struct Slot(Arc<AtomicUsize>);

impl Slot {
    fn take(count: &Arc<AtomicUsize>) -> Option<Self> {
        count
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < MAX_IN_FLIGHT).then_some(n + 1)
            })
            .ok()
            .map(|_| Self(count.clone()))
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Most bytes of a refused request's body read and thrown away.
const MAX_DISCARDED_BYTES: usize = 64 << 20;

/// Answers a request with `error` at once, and reads and drops its body in
/// the background. The pack writes the body after `handle` returns; were
/// the body dropped with the request, its next write would fail with
/// "closed" before the pack ever looked at the answer, and the pack would
/// report a broken connection instead of the refusal.
fn refuse(request: http::Request<WasiBody>, error: HttpError) -> ResponseFuture {
    Box::new(async move {
        let mut body = request.into_body();
        tokio::spawn(async move {
            use http_body_util::BodyExt;
            let mut seen = 0usize;
            while let Some(Ok(frame)) = body.frame().await {
                seen += frame.data_ref().map_or(0, |d| d.len());
                if seen > MAX_DISCARDED_BYTES {
                    break;
                }
            }
        });
        Err(error)
    })
}

type IoFuture = Box<dyn Future<Output = Result<(), HttpError>> + Send>;

type ResponseFuture =
    Box<dyn Future<Output = Result<(http::Response<WasiBody>, IoFuture), HttpError>> + Send>;

impl WasiHttpHooks for HttpHooks {
    fn send_request(
        &mut self,
        mut request: http::Request<WasiBody>,
        options: Option<RequestOptions>,
        fut: IoFuture,
    ) -> ResponseFuture {
        let uri = request.uri();
        if !allowed(&self.granter, uri) {
            return refuse(request, HttpError::HttpRequestDenied);
        }
        match credentials::attach(&self.granter, &*self.secrets, request.headers_mut()) {
            Ok(()) => {}
            Err(Refusal::Denied) => return refuse(request, HttpError::HttpRequestDenied),
            Err(Refusal::Missing(why)) => {
                tracing::warn!(pack = %self.granter.pack().descriptor, "refused an outbound request: {why}");
                return refuse(request, HttpError::InternalError(Some(why)));
            }
        }
        let uri = request.uri();
        let Some(slot) = Slot::take(&self.in_flight) else {
            tracing::warn!(pack = %self.granter.pack().descriptor, uri = %uri, "refused an outbound request: {MAX_IN_FLIGHT} already open");
            return Box::new(async { Err(HttpError::ConnectionLimitReached) });
        };
        tracing::debug!(pack = %self.granter.pack().descriptor, uri = %uri, "outbound http");
        let deadline = tokio::time::Instant::from(self.deadline);
        let left = self.deadline.saturating_duration_since(Instant::now());
        let options = RequestOptions {
            connect_timeout: cap(options.and_then(|o| o.connect_timeout), left),
            first_byte_timeout: cap(options.and_then(|o| o.first_byte_timeout), left),
            between_bytes_timeout: cap(options.and_then(|o| o.between_bytes_timeout), left),
        };
        let _ = fut;
        Box::new(async move {
            use http_body_util::BodyExt;
            let sent = wasmtime_wasi_http::default_send_request(request, Some(options));
            let (res, io) = tokio::time::timeout_at(deadline, sent)
                .await
                .map_err(|_| HttpError::ConnectionTimeout)??;
            let io = async move {
                let _slot = slot;
                tokio::time::timeout_at(deadline, io)
                    .await
                    .map_err(|_| HttpError::ConnectionTimeout)?
            };
            Ok((res.map(BodyExt::boxed_unsync), Box::new(io) as IoFuture))
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
