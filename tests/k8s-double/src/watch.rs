//! Watches: `?watch=true` answers a stream of `{"type","object"}` lines,
//! starting with every current object as `ADDED` (or the changes after
//! `resourceVersion=N`), then every change as it is written. With
//! `sendInitialEvents=true` the initial objects end with the `BOOKMARK`
//! that client-go's watch-list waits for.

use std::time::Duration;

use serde_json::{Value, json};
use tokio::sync::mpsc;

use crate::handlers::{objects, selectors};
use crate::resources::ResourceType;
use crate::server::{Call, Reply, State};
use crate::status::ApiError;
use crate::store::WatchFilter;

pub fn start(
    state: &State,
    call: &Call,
    t: &'static ResourceType,
    ns: Option<&str>,
) -> Result<Reply, ApiError> {
    let (labels, fields) = selectors(call)?;
    let initial = call.param("sendInitialEvents") == Some("true");
    let since = match call.param("resourceVersion") {
        _ if initial => None,
        None | Some("") | Some("0") => None,
        Some(rv) => Some(
            rv.parse::<u64>()
                .map_err(|_| ApiError::bad_request(format!("invalid resource version {rv:?}")))?,
        ),
    };
    let timeout = call
        .param("timeoutSeconds")
        .and_then(|s| s.parse::<u64>().ok())
        .map(Duration::from_secs);
    let (tx, rx) = mpsc::unbounded_channel();
    let mut s = state.lock();
    let rv = s.store.resource_version();
    let bookmark = move || {
        json!({"type": "BOOKMARK", "object": {"kind": t.kind, "apiVersion": t.api_version(),
            "metadata": {"resourceVersion": rv.to_string(), "annotations": {"k8s.io/initial-events-end": "true"}}}})
    };
    if !t.stored {
        // Derived objects (pods, events): the current ones, then quiet
        // until the client goes or the timeout passes.
        for o in objects(&s, t, ns, &labels, &fields) {
            let _ = tx.send(json!({"type": "ADDED", "object": o}));
        }
        if initial {
            let _ = tx.send(bookmark());
        }
        tokio::spawn(async move { tx.closed().await });
        return Ok(Reply::Watch(rx, timeout));
    }
    let filter = WatchFilter {
        plural: t.plural.to_string(),
        namespace: ns.map(str::to_string),
        labels,
        fields,
    };
    let (mut changes, count) = s.store.watch(t, filter, since)?;
    drop(s);
    tokio::spawn(async move {
        let mut left = if initial { Some(count) } else { None };
        loop {
            if left == Some(0) {
                let _ = tx.send(bookmark());
                left = None;
            }
            let change = tokio::select! {
                c = changes.recv() => c,
                _ = tx.closed() => None,
            };
            let Some(c) = change else { return };
            let event: Value = json!({"type": c.kind, "object": c.object});
            if tx.send(event).is_err() {
                return;
            }
            left = left.map(|n| n.saturating_sub(1));
        }
    });
    Ok(Reply::Watch(rx, timeout))
}
