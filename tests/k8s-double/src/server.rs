//! The HTTP side: accept connections, check the bearer token, read the
//! request, hand it to [`crate::handlers`], write JSON or a watch stream.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Frame, Incoming};
use hyper::header::{CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::handlers;
use crate::routes::{self, Route};
use crate::script::Script;
use crate::status::ApiError;
use crate::store::Store;
use crate::tls::{self, Tls};

/// One request as the double saw it (the test handle can read them all).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    pub method: String,
    pub path: String,
    /// The decoded query parameters.
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub user_agent: String,
    /// The status code answered.
    pub code: u16,
    /// The request body (lossy UTF-8), so tests can check what was sent.
    pub body: String,
}

/// Everything the server and the test handle share.
#[derive(Debug, Default)]
pub struct Shared {
    pub store: Store,
    pub script: Script,
    pub requests: Vec<RequestRecord>,
    pub token: String,
    /// `host:port`, for `serverAddressByClientCIDRs`.
    pub address: String,
    /// Per Deployment uid, the pod template that last became available.
    pub served: BTreeMap<String, Value>,
}

impl Shared {
    /// The template whose pods served a Deployment before its current one.
    pub fn served_template(&self, d: &Value) -> Option<&Value> {
        self.served
            .get(d["metadata"]["uid"].as_str().unwrap_or_default())
    }
}

/// The shared state behind its lock.
#[derive(Debug, Clone, Default)]
pub struct State(Arc<Mutex<Shared>>);

impl State {
    pub fn new(shared: Shared) -> Self {
        State(Arc::new(Mutex::new(shared)))
    }

    /// The lock; a panic while holding it (a bug in the double) must not
    /// take every later request down with it.
    pub fn lock(&self) -> MutexGuard<'_, Shared> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// A request, read whole.
#[derive(Debug)]
pub struct Call {
    pub method: Method,
    pub path: String,
    pub route: Route,
    pub query: BTreeMap<String, String>,
    pub content_type: String,
    pub accept: String,
    pub user_agent: String,
    pub body: Bytes,
}

impl Call {
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.get(name).map(String::as_str)
    }
}

/// What a handler answers.
#[derive(Debug)]
pub enum Reply {
    Json(u16, Value),
    /// JSON with `Warning` headers (fields dropped by field validation).
    Warned(u16, Value, Vec<String>),
    /// A plain-text answer (`/healthz`).
    Text(u16, &'static str),
    /// A watch: events until the channel closes or `timeout` passes.
    Watch(mpsc::UnboundedReceiver<Value>, Option<Duration>),
}

impl From<ApiError> for Reply {
    fn from(e: ApiError) -> Self {
        Reply::Json(e.code, e.body())
    }
}

type Body = BoxBody<Bytes, Infallible>;

/// The largest request body read (the real server's limit).
const MAX_BODY: usize = 3 * 1024 * 1024;

/// How many requests are remembered; a long-running standalone double
/// forgets the older half when it gets there.
const MAX_RECORDS: usize = 20_000;

/// Serves until `stop` fires (or is dropped): plain HTTP, or HTTPS for a
/// connection that opens with a TLS handshake.
pub async fn serve(listener: TcpListener, state: State, tls: Tls, mut stop: oneshot::Receiver<()>) {
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = &mut stop => return,
        };
        let Ok((stream, _)) = accepted else { continue };
        let (state, tls) = (state.clone(), tls.clone());
        tokio::spawn(async move {
            let mut first = [0u8; 1];
            let handshake =
                matches!(stream.peek(&mut first).await, Ok(1) if first[0] == tls::HANDSHAKE);
            if handshake {
                if let Ok(secure) = tls.acceptor.accept(stream).await {
                    connection(secure, state).await;
                }
            } else {
                connection(stream, state).await;
            }
        });
    }
}

async fn connection<I>(io: I, state: State)
where
    I: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| handle(req, state.clone()));
    let _ = hyper::server::conn::http1::Builder::new()
        .serve_connection(TokioIo::new(io), service)
        .await;
}

async fn handle(req: Request<Incoming>, state: State) -> Result<Response<Body>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (authorization, content_type, accept, user_agent) = (
        header("authorization"),
        header("content-type"),
        header("accept"),
        header("user-agent"),
    );
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query = routes::query(req.uri().query());
    let route = routes::parse(&path);
    // The real server refuses bodies over 3 MiB the same way.
    let body = match http_body_util::Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
    {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            let e = ApiError::new(
                413,
                "RequestEntityTooLarge",
                format!("Request entity too large: limit is {MAX_BODY}"),
            );
            return Ok(respond(Reply::from(e)));
        }
    };
    let call = Call {
        method,
        path,
        route,
        query,
        content_type,
        accept,
        user_agent,
        body,
    };
    let open = matches!(call.route, Route::Version | Route::Health);
    let token_ok = {
        let s = state.lock();
        authorization.strip_prefix("Bearer ").map(str::trim) == Some(s.token.as_str())
    };
    let reply = if !open && !token_ok {
        Reply::from(ApiError::unauthorized())
    } else if matches!(call.route, Route::Health) {
        Reply::Text(200, "ok")
    } else {
        handlers::dispatch(&state, &call)
    };
    let code = match &reply {
        Reply::Json(code, _) | Reply::Text(code, _) | Reply::Warned(code, _, _) => *code,
        Reply::Watch(..) => 200,
    };
    let mut shared = state.lock();
    if shared.requests.len() >= MAX_RECORDS {
        shared.requests.drain(..MAX_RECORDS / 2);
    }
    shared.requests.push(RequestRecord {
        method: call.method.to_string(),
        path: call.path.clone(),
        query: call.query.clone(),
        content_type: call.content_type.clone(),
        user_agent: call.user_agent.clone(),
        code,
        body: String::from_utf8_lossy(&call.body).into_owned(),
    });
    drop(shared);
    Ok(respond(reply))
}

fn respond(reply: Reply) -> Response<Body> {
    let json = |v: Value| Full::new(Bytes::from(v.to_string())).boxed();
    let (code, body, kind, warnings): (u16, Body, &str, Vec<String>) = match reply {
        Reply::Text(code, text) => (
            code,
            Full::new(Bytes::from(text)).boxed(),
            "text/plain; charset=utf-8",
            Vec::new(),
        ),
        Reply::Json(code, v) => (code, json(v), "application/json", Vec::new()),
        Reply::Warned(code, v, w) => (code, json(v), "application/json", w),
        Reply::Watch(rx, timeout) => (
            200,
            WatchBody::new(rx, timeout).boxed(),
            "application/json",
            Vec::new(),
        ),
    };
    let mut resp = Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(kind));
    for w in warnings {
        // RFC 7234 warn-code 299, as the API server sends them.
        let text = format!("299 - {}", Value::String(w));
        if let Ok(v) = HeaderValue::from_str(&text) {
            resp.headers_mut().append("warning", v);
        }
    }
    resp
}

/// A watch response: one JSON event per line, flushed as it happens.
struct WatchBody {
    rx: mpsc::UnboundedReceiver<Value>,
    deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl WatchBody {
    fn new(rx: mpsc::UnboundedReceiver<Value>, timeout: Option<Duration>) -> Self {
        WatchBody {
            rx,
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
        }
    }
}

impl hyper::body::Body for WatchBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(d) = self.deadline.as_mut()
            && d.as_mut().poll(cx).is_ready()
        {
            return Poll::Ready(None);
        }
        match self.rx.poll_recv(cx) {
            Poll::Ready(Some(event)) => {
                let mut line = event.to_string();
                line.push('\n');
                Poll::Ready(Some(Ok(Frame::data(Bytes::from(line)))))
            }
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => Poll::Pending,
        }
    }
}
