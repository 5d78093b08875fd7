//! One connection to the server per process, driven by the backend's own
//! small tokio runtime, so the synchronous [`Backend`](crate::backend::Backend)
//! trait can be called from anywhere (a CLI verb, or the ingress inside its
//! own async runtime: nothing here blocks on another runtime's thread).
//!
//! The connection also `LISTEN`s on [`CHANNEL`]: every record write and
//! lease release of any operator sends a notification there, and
//! [`Signals`] wakes whoever waits for one (the ingress following its
//! routes, a lease waiter). A lost connection is re-opened on the next use;
//! waiters are woken so they read again rather than trust a missed
//! notification.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use tokio_postgres::{AsyncMessage, Client, NoTls};

use super::target::Target;
use crate::error::{Error, Result};

/// The notification channel (database-wide; payloads start with the schema).
pub const CHANNEL: &str = "envpack_changes";

/// A future borrowing the client for as long as it runs.
pub type Job<'c, T> = Pin<Box<dyn Future<Output = Result<T>> + Send + 'c>>;

/// Notifications seen, counted; waiters wait for the count to move.
#[derive(Debug, Default)]
pub struct Signals {
    seen: Mutex<u64>,
    moved: Condvar,
}

impl Signals {
    fn bump(&self) {
        if let Ok(mut n) = self.seen.lock() {
            *n = n.wrapping_add(1);
        }
        self.moved.notify_all();
    }

    /// The count now.
    pub fn count(&self) -> u64 {
        self.seen.lock().map(|n| *n).unwrap_or(0)
    }

    /// Waits until the count is no longer `since`, or `timeout`.
    pub fn wait(&self, since: u64, timeout: Duration) {
        let Ok(guard) = self.seen.lock() else {
            return;
        };
        let _ = self
            .moved
            .wait_timeout_while(guard, timeout, |n| *n == since);
    }
}

/// What the runtime's tasks share.
pub struct Shared {
    target: Target,
    client: tokio::sync::Mutex<Option<Client>>,
    /// Notifications of this schema.
    pub signals: Signals,
}

/// `e` as an error naming what failed; database errors keep the server's
/// message, and nothing carries the password.
pub fn db_error(what: &str, shown: &str, e: &tokio_postgres::Error) -> Error {
    let detail = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    let message = format!("cannot {what} in the PostgreSQL backend {shown}: {detail}");
    if e.as_db_error().is_none() || e.is_closed() {
        Error::unavailable(message).hint("envpack backend show (checks that the server answers)")
    } else {
        Error::internal(message)
    }
}

impl Shared {
    /// The target's URL, for messages.
    pub fn shown(&self) -> &str {
        &self.target.shown
    }

    /// The target.
    #[cfg(test)]
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The schema.
    pub fn schema(&self) -> &str {
        &self.target.schema
    }

    async fn connect(self: &Arc<Self>) -> Result<Client> {
        let shown = self.shown().to_string();
        let (client, mut connection) = self
            .target
            .config
            .connect(NoTls)
            .await
            .map_err(|e| db_error("connect", &shown, &e))?;
        let me = Arc::clone(self);
        let prefix = format!("{}\t", self.schema());
        tokio::spawn(async move {
            while let Some(msg) = std::future::poll_fn(|cx| connection.poll_message(cx)).await {
                match msg {
                    Ok(AsyncMessage::Notification(n)) if n.payload().starts_with(&prefix) => {
                        me.signals.bump();
                    }
                    Ok(_) => {}
                    Err(e) => {
                        tracing::warn!("the PostgreSQL connection to {shown} failed: {e}");
                        break;
                    }
                }
            }
            // Whatever was missed while reconnecting, waiters read again.
            me.signals.bump();
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}"))
            .await
            .map_err(|e| db_error("listen for changes", self.shown(), &e))?;
        Ok(client)
    }

    /// Runs `f` with the connection, (re)connecting first when needed.
    /// One job at a time: a transaction never interleaves with another.
    pub async fn with<T>(
        self: &Arc<Self>,
        f: impl for<'c> FnOnce(&'c mut Client) -> Job<'c, T>,
    ) -> Result<T> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(Client::is_closed) {
            *guard = None;
            *guard = Some(self.connect().await?);
        }
        match guard.as_mut() {
            Some(client) => f(client).await,
            None => Err(Error::internal("the PostgreSQL connection vanished")),
        }
    }
}

/// The backend's connection and the runtime that drives it.
pub struct Conn {
    rt: Option<tokio::runtime::Runtime>,
    /// Shared with the runtime's tasks.
    pub shared: Arc<Shared>,
}

impl std::fmt::Debug for Conn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Conn({})", self.shared.shown())
    }
}

impl Conn {
    /// Starts the runtime and connects (so a wrong URL fails at once).
    pub fn open(target: Target) -> Result<Self> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("envpack-postgres")
            .enable_all()
            .build()
            .map_err(|e| Error::internal(format!("cannot start the PostgreSQL runtime: {e}")))?;
        let conn = Self {
            rt: Some(rt),
            shared: Arc::new(Shared {
                target,
                client: tokio::sync::Mutex::new(None),
                signals: Signals::default(),
            }),
        };
        conn.run(|_| Box::pin(async { Ok(()) }))?;
        Ok(conn)
    }

    /// Runs `f` with the connection on the runtime, and waits for it.
    pub fn run<T: Send + 'static>(
        &self,
        f: impl for<'c> FnOnce(&'c mut Client) -> Job<'c, T> + Send + 'static,
    ) -> Result<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        let shared = Arc::clone(&self.shared);
        self.spawn(async move {
            let _ = tx.send(shared.with(f).await);
        })?;
        rx.recv()
            .map_err(|_| Error::internal("the PostgreSQL backend's runtime stopped"))?
    }

    /// Runs `fut` in the background on the runtime.
    pub fn spawn(
        &self,
        fut: impl Future<Output = ()> + Send + 'static,
    ) -> Result<tokio::task::JoinHandle<()>> {
        match &self.rt {
            Some(rt) => Ok(rt.spawn(fut)),
            None => Err(Error::internal("the PostgreSQL backend's runtime stopped")),
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        // Never blocks: the backend may be dropped inside another runtime.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}
