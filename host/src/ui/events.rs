//! `/api/v1/events`: server-sent events, one `change` event whenever an
//! environment's records change, woken by the backend's change token (a
//! `NOTIFY` on PostgreSQL, the token file on the filesystem) exactly as
//! `envpack status --watch` is. The page reloads what it shows on each.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Response, header};
use http_body_util::BodyExt;
use hyper::body::Frame;
use tokio::sync::mpsc;

use super::server::{App, Body, secured};
use crate::backend::{Backend, ChangeToken};
use crate::env::EnvName;
use crate::error::Result;

/// How long one wait lasts before a keep-alive comment (which also tells
/// the server that a page went away).
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// A body fed by a channel: the event stream.
struct Channel(mpsc::Receiver<Bytes>);

impl hyper::body::Body for Channel {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|o| o.map(|b| Ok(Frame::data(b))))
    }
}

/// The event stream of one page.
pub(super) fn stream(app: Arc<App>) -> Response<Body> {
    let (tx, rx) = mpsc::channel::<Bytes>(8);
    tokio::task::spawn_blocking(move || {
        let backend = crate::backend::open(&app.home);
        if let Err(e) = follow(backend.as_ref(), &tx) {
            let data = serde_json::json!({"error": e.message()});
            let _ = tx.blocking_send(Bytes::from(format!("event: failed\ndata: {data}\n\n")));
        }
    });
    secured(Response::builder())
        .header(header::CONTENT_TYPE, "text/event-stream")
        .header(header::CACHE_CONTROL, "no-store")
        .body(Channel(rx).boxed())
        .unwrap_or_else(|_| Response::new(super::server::full("")))
}

/// Every environment's current token (environments come and go).
fn tokens(backend: &dyn Backend) -> Result<Vec<(EnvName, ChangeToken)>> {
    backend
        .environments()?
        .into_iter()
        .map(|e| backend.change_token(&e).map(|t| (e, t)))
        .collect()
}

/// Sends `change` events until the page goes away.
fn follow(backend: &dyn Backend, tx: &mpsc::Sender<Bytes>) -> Result<()> {
    let send = |text: String| tx.blocking_send(Bytes::from(text)).is_ok();
    if !send("retry: 1000\nevent: ready\ndata: {}\n\n".into()) {
        return Ok(());
    }
    let mut since = tokens(backend)?;
    loop {
        let changed = backend.wait_changes(&since, KEEP_ALIVE)?;
        let now = tokens(backend)?;
        let text = if changed || now.len() != since.len() {
            let envs: Vec<&EnvName> = now
                .iter()
                .filter(|(e, t)| !since.iter().any(|(f, u)| f == e && u == t))
                .map(|(e, _)| e)
                .collect();
            let data = serde_json::json!({"environments": envs});
            format!("event: change\ndata: {data}\n\n")
        } else {
            ": keep-alive\n\n".to_string()
        };
        if !send(text) {
            return Ok(());
        }
        since = now;
    }
}
