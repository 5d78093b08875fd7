//! The ingress's listener: what a client may hold, and how long.
//!
//! - **Header read timeout** (`--header-timeout`, default 10 s): a
//!   connection must deliver a complete request head within it, and a
//!   kept-alive connection may sit idle between requests no longer (hyper
//!   starts the timer whenever it waits for a head), so half-sent requests
//!   and idle sockets cannot pile up.
//! - **Request timeout** (`--request-timeout`, default 60 s): from the head
//!   to the response head, request body and the revision's answer included;
//!   past it the client gets a 504 naming the limit.
//! - **Send timeout** (`--send-timeout`, default 60 s): how long one write
//!   to a client may wait because it does not read (a slow-read client
//!   holding a response); past it the connection is closed. Only stalls
//!   count, so a long download that a client reads is not cut; reads are
//!   not timed this way because hyper keeps a read pending during a
//!   response to notice a client hanging up.
//! - **Connection limit** (`--max-connections`, default from the open-file
//!   limit, at most 1024): at the limit the listener stops accepting, so
//!   further connections wait in the kernel's listen backlog (and are
//!   refused by the kernel when that is full) until one closes.
//! - **Accept back-off**: when `accept` fails for lack of resources (file
//!   descriptors, memory) the loop sleeps, doubling from 5 ms to 1 s, instead
//!   of spinning; it resets on the next accepted connection.
//! - **Rate-limited warnings**: at most one `accept failed` warning a second,
//!   each counting the failures it stands for, and one line when accepting
//!   works again.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use rand::SeedableRng;
use rand::rngs::StdRng;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio_io_timeout::TimeoutStream;

use super::throttle::Throttle;
use super::trust::HeaderTrust;
use super::{Router, Table, conflicts, deployments, describe, key_for, routing_table, text};
use crate::deploy::DeploymentRecords;
use crate::env::{EnvName, EnvRecords};
use crate::error::{Error, Result};

/// Default time to deliver a request head (and to sit idle kept alive).
pub const DEFAULT_HEADER_TIMEOUT: Duration = Duration::from_secs(10);
/// Default time from a request head to its response head.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Default time a write to a client may wait for the client to read.
pub const DEFAULT_SEND_TIMEOUT: Duration = Duration::from_secs(60);
/// The most connections served at once when no limit is given.
pub const MAX_CONNECTIONS_CAP: usize = 1024;
/// File descriptors kept for everything but client connections (the
/// runtime, the listener, record reads).
const RESERVED_FDS: u64 = 32;
/// The first and the longest sleep after a failed accept.
const BACKOFF_FIRST: Duration = Duration::from_millis(5);
const BACKOFF_MAX: Duration = Duration::from_secs(1);
/// At most one `accept failed` warning per this interval.
const WARN_EVERY: Duration = Duration::from_secs(1);

/// What a client may hold, and for how long.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Time to deliver a request head; also the keep-alive idle limit.
    pub header_timeout: Duration,
    /// Time from a request head to its response head.
    pub request_timeout: Duration,
    /// Time one write may wait for the client to read.
    pub send_timeout: Duration,
    /// Connections served at once; `None`: [`default_max_connections`].
    pub max_connections: Option<usize>,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            header_timeout: DEFAULT_HEADER_TIMEOUT,
            request_timeout: DEFAULT_REQUEST_TIMEOUT,
            send_timeout: DEFAULT_SEND_TIMEOUT,
            max_connections: None,
        }
    }
}

/// The connection limit when none is given: each connection may need two
/// descriptors (the client's and one to the revision), so half of the
/// open-file limit after a reserve, at least 1, at most
/// [`MAX_CONNECTIONS_CAP`].
pub fn default_max_connections() -> usize {
    let soft = rustix::process::getrlimit(rustix::process::Resource::Nofile).current;
    connections_for_fd_limit(soft)
}

fn connections_for_fd_limit(soft: Option<u64>) -> usize {
    let Some(soft) = soft else {
        return MAX_CONNECTIONS_CAP;
    };
    let n = soft.saturating_sub(RESERVED_FDS) / 2;
    usize::try_from(n).map_or(MAX_CONNECTIONS_CAP, |n| n.clamp(1, MAX_CONNECTIONS_CAP))
}

/// Where and how `serve` listens.
#[derive(Clone, Debug)]
pub struct ServeOptions {
    /// The address to bind.
    pub listen: SocketAddr,
    /// Fixes the random choices (tests); otherwise they come from the OS.
    pub seed: Option<u64>,
    /// Timeouts and the connection limit.
    pub limits: Limits,
    /// Who may pick a revision with the revision header.
    pub trust: HeaderTrust,
}

/// Runs the router until the process is stopped; `on_listening` learns the
/// bound address once the socket is open.
pub fn serve(
    home: &crate::home::Home,
    env: &EnvName,
    opts: ServeOptions,
    on_listening: impl FnOnce(SocketAddr, &[String]),
) -> Result<()> {
    let router = Arc::new(router(home, env, &opts)?);
    router.follow()?;
    let routes = router.table();
    let clashes = conflicts(&routes);
    if !clashes.is_empty() {
        return Err(Error::conflict(format!(
            "cannot route {env}: {}; the second would never receive a request",
            clashes.join("; ")
        ))
        .hint("give one deployment a distinct prefix or host: envpack bundle build ... --attr prefix=/api (or --attr host=api.example.com), deploy it, then envpack serve again"));
    }
    let described = describe(&routes);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::internal(format!("cannot start the async runtime: {e}")))?;
    let (listen, limits) = (opts.listen, opts.limits);
    rt.block_on(async move {
        let listener = TcpListener::bind(listen).await.map_err(|e| {
            Error::unavailable(format!("cannot listen on {listen}: {e}"))
                .hint("envpack serve --listen 127.0.0.1:0")
        })?;
        let local = listener
            .local_addr()
            .map_err(|e| Error::internal(format!("cannot read the bound address: {e}")))?;
        on_listening(local, &described);
        accept_loop(listener, router, limits).await
    })
}

fn router(home: &crate::home::Home, env: &EnvName, opts: &ServeOptions) -> Result<Router> {
    let env_records = EnvRecords::new(home, env);
    env_records.load()?;
    let records = DeploymentRecords::new(&env_records);
    let token = env_records.backend().change_token(env)?;
    let deps = deployments(&records)?;
    Ok(Router {
        env: env.clone(),
        key: key_for(&env_records)?,
        table: Mutex::new(Table {
            routes: Arc::new(routing_table(&deps)),
            token,
        }),
        records,
        rng: Mutex::new(match opts.seed {
            Some(s) => StdRng::seed_from_u64(s),
            None => StdRng::from_os_rng(),
        }),
        client: Client::builder(TokioExecutor::new()).build_http(),
        unreachable: Mutex::new(Default::default()),
        trust: opts.trust.clone(),
        warn_unanswered: Mutex::new(Throttle::new(WARN_EVERY)),
    })
}

/// Accepts connections while fewer than the limit are open, backing off
/// when accepting fails for lack of resources.
async fn accept_loop(listener: TcpListener, router: Arc<Router>, limits: Limits) -> Result<()> {
    let max = limits
        .max_connections
        .unwrap_or_else(default_max_connections);
    tracing::info!(max, "serving at most {max} connections at once");
    let permits = Arc::new(Semaphore::new(max));
    let mut failures = Failures::new();
    loop {
        // Waiting here leaves new connections in the listen backlog.
        let permit = Arc::clone(&permits)
            .acquire_owned()
            .await
            .map_err(|e| Error::internal(format!("the connection limit was closed: {e}")))?;
        match listener.accept().await {
            Ok((stream, peer)) => {
                failures.recovered();
                tokio::spawn(connection(
                    stream,
                    peer,
                    Arc::clone(&router),
                    limits,
                    permit,
                ));
            }
            Err(e) => {
                drop(permit);
                if let Some(pause) = failures.failed(&e) {
                    tokio::time::sleep(pause).await;
                }
            }
        }
    }
}

/// Failed accepts in a row: the back-off and the warnings about them.
struct Failures {
    in_row: u64,
    backoff: Duration,
    warn: Throttle,
}

impl Failures {
    fn new() -> Self {
        Self {
            in_row: 0,
            backoff: BACKOFF_FIRST,
            warn: Throttle::new(WARN_EVERY),
        }
    }

    /// Records a failed accept; returns how long to pause, if at all.
    fn failed(&mut self, e: &std::io::Error) -> Option<Duration> {
        self.in_row += 1;
        // A client that went away before it was accepted costs nothing;
        // anything else (EMFILE, ENFILE, ENOBUFS, ENOMEM) retries at once
        // only to fail again.
        let per_connection = matches!(
            e.kind(),
            std::io::ErrorKind::ConnectionAborted
                | std::io::ErrorKind::ConnectionReset
                | std::io::ErrorKind::Interrupted
        );
        let pause = (!per_connection).then_some(self.backoff);
        if let Some(times) = self.warn.admit(Instant::now()) {
            let wait = pause.map_or(String::new(), |p| {
                format!("; pausing {} ms before accepting again", p.as_millis())
            });
            tracing::warn!(
                "accept failed {times} time(s) since the last warning: {e}{wait}; \
                 help: raise the open-file limit (ulimit -n) or lower --max-connections"
            );
        }
        if pause.is_some() {
            self.backoff = (self.backoff * 2).min(BACKOFF_MAX);
        }
        pause
    }

    /// Records an accepted connection, ending any run of failures.
    fn recovered(&mut self) {
        if self.in_row > 0 {
            let unreported = match self.warn.take_suppressed() {
                0 => String::new(),
                n => format!(", {n} of them since the last warning"),
            };
            tracing::warn!(
                "accepting connections again after {} failed accept(s){unreported}",
                self.in_row
            );
        }
        self.in_row = 0;
        self.backoff = BACKOFF_FIRST;
    }
}

/// Serves one client connection under the limits, holding its permit.
async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    router: Arc<Router>,
    limits: Limits,
    _permit: OwnedSemaphorePermit,
) {
    let svc = hyper::service::service_fn(move |req| {
        let router = Arc::clone(&router);
        async move {
            let timeout = limits.request_timeout;
            let resp = match tokio::time::timeout(timeout, router.handle(req, peer)).await {
                Ok(resp) => resp,
                Err(_) => text(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!(
                        "the request took longer than the ingress allows ({}; \
                         envpack serve --request-timeout)\n",
                        humantime::format_duration(timeout)
                    ),
                ),
            };
            Ok::<_, Infallible>(resp)
        }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut io = TimeoutStream::new(stream);
    io.set_write_timeout(Some(limits.send_timeout));
    if let Err(e) = http.serve_connection(TokioIo::new(Box::pin(io)), svc).await {
        tracing::debug!("connection from {peer} ended: {e}");
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn the_default_connection_limit_follows_the_open_file_limit() {
        assert_eq!(connections_for_fd_limit(None), MAX_CONNECTIONS_CAP);
        assert_eq!(
            connections_for_fd_limit(Some(1_000_000)),
            MAX_CONNECTIONS_CAP
        );
        assert_eq!(connections_for_fd_limit(Some(1024)), 496);
        assert_eq!(connections_for_fd_limit(Some(64)), 16);
        assert_eq!(connections_for_fd_limit(Some(10)), 1);
    }

    #[test]
    fn resource_failures_back_off_up_to_a_second_and_reset() {
        let mut f = Failures::new();
        let emfile = std::io::Error::from_raw_os_error(24);
        let pauses: Vec<Duration> = (0..12).map(|_| f.failed(&emfile).unwrap()).collect();
        assert_eq!(pauses[0], BACKOFF_FIRST);
        assert_eq!(pauses[1], BACKOFF_FIRST * 2);
        assert_eq!(*pauses.last().unwrap(), BACKOFF_MAX);
        assert!(pauses.windows(2).all(|w| w[0] <= w[1]));
        f.recovered();
        assert_eq!(f.failed(&emfile), Some(BACKOFF_FIRST));
    }

    #[test]
    fn a_client_that_went_away_is_no_reason_to_pause() {
        let mut f = Failures::new();
        let aborted = std::io::Error::from(std::io::ErrorKind::ConnectionAborted);
        assert_eq!(f.failed(&aborted), None);
        assert_eq!(f.backoff, BACKOFF_FIRST);
    }
}
