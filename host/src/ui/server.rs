//! The dashboard's HTTP server: routes, the envelope, security headers.
//! Library calls block (they run packs), so each runs on tokio's blocking
//! pool; the event stream holds one blocking thread per open page.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use serde_json::Value;
use tokio::net::TcpListener;

use super::UiOptions;
use super::auth::{COOKIE, RequestFacts, Verdict};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::runtime::Runtime;

/// A response body: whole, or the event stream.
pub(super) type Body = BoxBody<Bytes, Infallible>;

/// The largest request body accepted (a traffic split is a few hundred
/// bytes).
const MAX_BODY: usize = 64 * 1024;

/// What every handler gets.
pub(super) struct App {
    pub home: Home,
    pub runtime: Runtime,
    pub options: UiOptions,
}

/// Serves the dashboard until the process is stopped; `on_listening`
/// learns the bound address once the socket is open.
pub fn serve(
    home: &Home,
    runtime: &Runtime,
    options: UiOptions,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<()> {
    let app = Arc::new(App {
        home: home.clone(),
        runtime: runtime.clone(),
        options,
    });
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))?;
    let listen = app.options.listen;
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            Error::unavailable(format!("cannot listen on {listen}: {e}"))
                .hint("envpack ui --listen 127.0.0.1:0 (any free port)")
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("cannot read the bound address: {e}")))?;
        on_listening(local);
        loop {
            let Ok((stream, peer)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                continue;
            };
            let app = Arc::clone(&app);
            tokio::spawn(async move {
                let svc = hyper::service::service_fn(move |req| {
                    let app = Arc::clone(&app);
                    async move { Ok::<_, Infallible>(handle(app, req).await) }
                });
                let mut http = hyper::server::conn::http1::Builder::new();
                http.timer(TokioTimer::new())
                    .header_read_timeout(std::time::Duration::from_secs(10));
                if let Err(e) = http.serve_connection(TokioIo::new(stream), svc).await {
                    tracing::debug!("dashboard connection from {peer} ended: {e}");
                }
            });
        }
    })
}

fn header_str(req: &Request<Incoming>, name: header::HeaderName) -> Option<&str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

async fn handle(app: Arc<App>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().map(str::to_string);
    let facts = RequestFacts {
        method: req.method().as_str(),
        path: &path,
        query: query.as_deref(),
        host: header_str(&req, header::HOST),
        origin: header_str(&req, header::ORIGIN),
        authorization: header_str(&req, header::AUTHORIZATION),
        cookie: header_str(&req, header::COOKIE),
        content_type: header_str(&req, header::CONTENT_TYPE),
    };
    // The stylesheet and icon hold no data: the login page needs them.
    let public = matches!(path.as_str(), "/app.css" | "/icon.svg" | "/favicon.ico");
    let verdict = if public && facts.method == "GET" {
        Verdict::Allowed
    } else {
        app.options.access.judge(&facts)
    };
    match verdict {
        Verdict::Allowed => {}
        Verdict::Login { location } => return login(&location, &app),
        Verdict::Refused { status, error } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::FORBIDDEN);
            return if path.starts_with("/api/") {
                envelope(status, &crate::envelope::error(&error))
            } else {
                page(status, super::assets::LOGIN)
            };
        }
    }
    let method = req.method().clone();
    if let Some(asset) = super::assets::find(&path) {
        return secured(
            Response::builder()
                .header(header::CONTENT_TYPE, asset.content_type)
                .header(header::CACHE_CONTROL, "no-cache"),
        )
        .body(full(asset.bytes))
        .unwrap_or_else(|_| internal());
    }
    let Some(api) = path.strip_prefix("/api/v1/") else {
        return answer(Err(
            Error::not_found(format!("no page at {path}")).hint("open / for the dashboard")
        ));
    };
    let api = api.to_string();
    if api == "events" && method == Method::GET {
        return super::events::stream(app);
    }
    if method == Method::POST {
        let body = match Limited::new(req.into_body(), MAX_BODY).collect().await {
            Ok(b) => b.to_bytes(),
            Err(e) => {
                return answer(Err(Error::invalid(format!(
                    "cannot read the request body (at most {MAX_BODY} bytes): {e}"
                ))));
            }
        };
        let result = blocking(move || super::action::post(&app, &api, &body)).await;
        return answer(result);
    }
    if method != Method::GET {
        return answer(Err(Error::invalid(format!(
            "{method} is not served here; the API reads with GET and changes with POST"
        ))));
    }
    let result = blocking(move || super::api::get(&app, &api, query.as_deref())).await;
    answer(result)
}

/// Runs a blocking library call off the async threads.
async fn blocking(f: impl FnOnce() -> Result<Value> + Send + 'static) -> Result<Value> {
    tokio::task::spawn_blocking(f)
        .await
        .unwrap_or_else(|e| Err(Error::internal(format!("the request's task failed: {e}"))))
}

/// The HTTP status of an error kind.
fn status_of(kind: Kind) -> StatusCode {
    match kind {
        Kind::InvalidInput => StatusCode::BAD_REQUEST,
        Kind::NotFound => StatusCode::NOT_FOUND,
        Kind::Denied => StatusCode::FORBIDDEN,
        Kind::Conflict => StatusCode::CONFLICT,
        Kind::Unavailable | Kind::Unobservable => StatusCode::SERVICE_UNAVAILABLE,
        Kind::Timeout => StatusCode::GATEWAY_TIMEOUT,
        _ => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

fn answer(result: Result<Value>) -> Response<Body> {
    match result {
        Ok(v) => envelope(StatusCode::OK, &crate::envelope::ok(v)),
        Err(e) => envelope(status_of(e.kind()), &crate::envelope::error(&e)),
    }
}

pub(super) fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).boxed()
}

fn internal() -> Response<Body> {
    let mut r = Response::new(full("internal error"));
    *r.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
    r
}

/// Headers every answer carries: only this origin's scripts and styles, no
/// framing, no sniffing, no referrer (a token must not leak in one).
pub(super) fn secured(b: http::response::Builder) -> http::response::Builder {
    b.header(
        header::CONTENT_SECURITY_POLICY,
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    )
    .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff")
    .header(header::REFERRER_POLICY, "no-referrer")
    .header("x-frame-options", "DENY")
}

fn envelope(status: StatusCode, v: &Value) -> Response<Body> {
    secured(Response::builder().status(status))
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-store")
        .body(full(v.to_string()))
        .unwrap_or_else(|_| internal())
}

fn page(status: StatusCode, html: &'static str) -> Response<Body> {
    secured(Response::builder().status(status))
        .header(header::CONTENT_TYPE, "text/html; charset=utf-8")
        .header(header::CACHE_CONTROL, "no-store")
        .body(full(html))
        .unwrap_or_else(|_| internal())
}

/// A successful `?token=` login: the cookie, and the page without the
/// token in its URL (so it stays out of history and bookmarks).
fn login(location: &str, app: &App) -> Response<Body> {
    let token = app.options.access.token_for_cookie();
    secured(Response::builder().status(StatusCode::SEE_OTHER))
        .header(header::LOCATION, location)
        .header(
            header::SET_COOKIE,
            format!("{COOKIE}={token}; HttpOnly; SameSite=Strict; Path=/"),
        )
        .header(header::CACHE_CONTROL, "no-store")
        .body(full(""))
        .unwrap_or_else(|_| internal())
}
