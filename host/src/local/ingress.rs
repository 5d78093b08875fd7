//! `envpack serve`: an HTTP router in front of an environment's deployments.
//!
//! A request is matched to a deployment by host and longest path prefix
//! (bundle attributes `host` and `prefix`, default `/`), then to a revision:
//!
//! 1. the `x-envpack-revision` header, honoured only from the peer networks
//!    the operator trusts with it (`--trust-revision-header-from`, none by
//!    default; see [`trust`]), for operators testing a revision directly;
//! 2. else a signed sticky cookie `envpack-<deployment>`: HMAC-SHA256 over
//!    environment, deployment, revision, traffic generation and expiry, so a
//!    client stays on its revision until the split changes;
//! 3. else a weighted random choice in basis points.
//!
//! The routing table is rebuilt when the environment's change token moves
//! (every record write changes it): a follower thread waits for that with
//! [`Backend::wait_change`](crate::backend::Backend::wait_change) (woken
//! by `NOTIFY` on PostgreSQL, so a `traffic set` on another machine lands
//! in milliseconds; checked every 100 ms on the filesystem), so
//! `traffic set` takes effect without a restart. Only revisions with weight get new traffic; a revision that
//! stops answering yields a 502 naming it, and a warning, never a silent
//! retry elsewhere.
//!
//! What a client may hold (timeouts, the connection limit) and how the
//! listener survives running out of descriptors is in [`listen`].

mod listen;
mod throttle;
pub mod trust;

pub use listen::{Limits, ServeOptions, default_max_connections, serve};
pub use trust::HeaderTrust;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hmac::{Hmac, Mac};
use http_body_util::{BodyExt, Full, combinators::BoxBody};
use hyper::body::{Bytes, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use rand::Rng;
use rand::rngs::StdRng;
use sha2::Sha256;

use crate::backend::ChangeToken;
use crate::deploy::DeploymentRecords;
use crate::deploy::model::{Deployment, RevState};
use crate::env::{EnvName, EnvRecords};
use crate::error::{Error, Result};
use crate::fsutil;
use throttle::Throttle;

type Body = BoxBody<Bytes, hyper::Error>;

/// How long a sticky cookie lasts.
const COOKIE_TTL: Duration = Duration::from_secs(3600);
/// How long a revision that refused a connection is left out of the
/// weighted choice.
const UNREACHABLE_FOR: Duration = Duration::from_secs(5);
/// How long the follower waits for a change before waiting again.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);
/// The header operators use to pick a revision (trusted peers only).
pub const REVISION_HEADER: &str = "x-envpack-revision";

/// One routable revision.
#[derive(Clone, Debug)]
struct Upstream {
    revision: String,
    endpoint: String,
    basis_points: u32,
}

/// One deployment's routing.
#[derive(Clone, Debug)]
struct Route {
    deployment: String,
    host: Option<String>,
    prefix: String,
    generation: u64,
    /// Revisions with traffic, in split order.
    weighted: Vec<Upstream>,
    /// Every revision with an endpoint that still runs (for the header).
    addressable: BTreeMap<String, String>,
}

/// The routing table and where it came from.
struct Table {
    routes: Arc<Vec<Route>>,
    token: ChangeToken,
}

/// The running router's shared state.
struct Router {
    env: EnvName,
    records: DeploymentRecords,
    key: Vec<u8>,
    table: Mutex<Table>,
    rng: Mutex<StdRng>,
    client: Client<HttpConnector, Body>,
    /// Revision -> until when it is left out of the weighted choice.
    unreachable: Mutex<BTreeMap<String, Instant>>,
    /// Who may pick a revision with [`REVISION_HEADER`].
    trust: HeaderTrust,
    /// Keeps a flood of requests to a dead revision to one warning a second.
    warn_unanswered: Mutex<Throttle>,
}

fn deployments(records: &DeploymentRecords) -> Result<Vec<Deployment>> {
    Ok(records.all()?.into_iter().map(|d| d.into_inner()).collect())
}

/// Two deployments claiming one host and prefix: the second would never
/// receive a request. One message per clash.
fn conflicts(routes: &[Route]) -> Vec<String> {
    let mut seen: std::collections::BTreeMap<(Option<&str>, &str), &str> = Default::default();
    let mut out = Vec::new();
    for r in routes {
        let key = (r.host.as_deref(), r.prefix.as_str());
        if let Some(first) = seen.insert(key, &r.deployment) {
            out.push(format!(
                "deployments {first} and {} both claim {}{}",
                r.deployment,
                r.host.as_deref().unwrap_or("any host "),
                r.prefix
            ));
        }
    }
    out
}

/// The routes as printed at start: `host/prefix -> deployment: split`.
fn describe(routes: &[Route]) -> Vec<String> {
    routes
        .iter()
        .map(|r| {
            let split: Vec<String> = r
                .weighted
                .iter()
                .map(|u| format!("{}={}", u.revision, crate::types::percent(u.basis_points)))
                .collect();
            format!(
                "{}{} -> {} ({})",
                r.host.as_deref().unwrap_or("*"),
                r.prefix,
                r.deployment,
                if split.is_empty() {
                    "no traffic".to_string()
                } else {
                    split.join(" ")
                }
            )
        })
        .collect()
}

fn routing_table(deps: &[Deployment]) -> Vec<Route> {
    let mut out: Vec<Route> = deps
        .iter()
        // A deployment with nothing ready has no route, so it cannot shadow
        // another deployment's prefix with 503s.
        .filter(|d| d.revisions.iter().any(|r| r.state == RevState::Ready))
        .map(|d| {
            let endpoint = |id: &str| {
                d.revisions
                    .iter()
                    .find(|r| r.id == id)
                    .and_then(|r| r.endpoint.clone())
                    .filter(|e| e.starts_with("http://"))
            };
            let weighted = d
                .weights
                .iter()
                .filter(|w| w.basis_points > 0)
                .filter_map(|w| {
                    Some(Upstream {
                        revision: w.revision.clone(),
                        endpoint: endpoint(&w.revision)?,
                        basis_points: w.basis_points,
                    })
                })
                .collect();
            let addressable = d
                .revisions
                .iter()
                .filter(|r| r.state == RevState::Ready)
                .filter_map(|r| Some((r.id.clone(), endpoint(&r.id)?)))
                .collect();
            // Routing attributes come from the newest ready revision.
            let latest = d
                .revisions
                .iter()
                .rev()
                .find(|r| r.state == RevState::Ready);
            let attr = |k: &str| latest.and_then(|r| r.attributes.get(k).cloned());
            Route {
                deployment: d.name.clone(),
                host: attr("host").map(|h| h.to_ascii_lowercase()),
                prefix: attr("prefix").unwrap_or_else(|| "/".into()),
                generation: d.generation,
                weighted,
                addressable,
            }
        })
        .collect();
    // Longest prefix first, hosts before host-less routes.
    out.sort_by(|a, b| {
        b.host
            .is_some()
            .cmp(&a.host.is_some())
            .then(b.prefix.len().cmp(&a.prefix.len()))
    });
    out
}

fn key_for(env: &EnvRecords) -> Result<Vec<u8>> {
    let path = env.local_dir().join("ingress.key");
    if let Ok(k) = std::fs::read(&path)
        && k.len() == 32
    {
        return Ok(k);
    }
    let mut key = [0u8; 32];
    rand::rng().fill(&mut key);
    fsutil::write_atomic(&path, &key)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(key.to_vec())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Router {
    fn sign(&self, deployment: &str, revision: &str, generation: u64, expiry: u64) -> String {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.key).unwrap_or_else(|_| {
            // HMAC accepts keys of any length; this cannot fail.
            <Hmac<Sha256> as Mac>::new_from_slice(b"envpack").expect("hmac key")
        });
        mac.update(
            format!(
                "{}\n{deployment}\n{revision}\n{generation}\n{expiry}",
                self.env
            )
            .as_bytes(),
        );
        hex::encode(mac.finalize().into_bytes())
    }

    fn cookie_name(deployment: &str) -> String {
        format!("envpack-{deployment}")
    }

    /// The revision a valid cookie pins, if the cookie is still good.
    fn pinned_by_cookie(&self, req: &Request<Incoming>, route: &Route) -> Option<Upstream> {
        let name = Self::cookie_name(&route.deployment);
        let value = req
            .headers()
            .get_all(hyper::header::COOKIE)
            .iter()
            .filter_map(|h| h.to_str().ok())
            .flat_map(|h| h.split(';'))
            .filter_map(|c| c.trim().split_once('='))
            .find(|(k, _)| *k == name)
            .map(|(_, v)| v.to_string())?;
        let mut parts = value.split('.');
        let (rev, generation, expiry, sig) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        let generation: u64 = generation.parse().ok()?;
        let expiry: u64 = expiry.parse().ok()?;
        if generation != route.generation || expiry < now_secs() {
            return None;
        }
        let good = self.sign(&route.deployment, rev, generation, expiry);
        // Constant-time comparison of the signatures.
        let same = good.len() == sig.len()
            && good
                .bytes()
                .zip(sig.bytes())
                .fold(0u8, |a, (x, y)| a | (x ^ y))
                == 0;
        if !same {
            return None;
        }
        route.weighted.iter().find(|b| b.revision == rev).cloned()
    }

    /// The revisions of a split it can reach; all of them when it can
    /// reach none (so the request reports which revision fails).
    fn reachable<'r>(&self, route: &'r Route) -> Vec<&'r Upstream> {
        let now = Instant::now();
        let live: Vec<&Upstream> = match self.unreachable.lock() {
            Ok(mut dead) => {
                dead.retain(|_, until| *until > now);
                route
                    .weighted
                    .iter()
                    .filter(|b| !dead.contains_key(&b.revision))
                    .collect()
            }
            Err(_) => route.weighted.iter().collect(),
        };
        if live.is_empty() {
            route.weighted.iter().collect()
        } else {
            live
        }
    }

    fn weighted_choice(&self, route: &Route) -> Option<Upstream> {
        let candidates = self.reachable(route);
        let total: u32 = candidates.iter().map(|b| b.basis_points).sum();
        if total == 0 {
            return None;
        }
        let mut n = self
            .rng
            .lock()
            .map(|mut r| r.random_range(0..total))
            .unwrap_or(0);
        for b in &candidates {
            if n < b.basis_points {
                return Some((*b).clone());
            }
            n -= b.basis_points;
        }
        candidates.last().map(|b| (*b).clone())
    }

    fn table(&self) -> Arc<Vec<Route>> {
        // An Arc, so a request never copies the table.
        match self.table.lock() {
            Ok(t) => Arc::clone(&t.routes),
            Err(_) => Arc::default(),
        }
    }

    fn token(&self) -> ChangeToken {
        self.table
            .lock()
            .map(|t| t.token.clone())
            .unwrap_or_else(|_| ChangeToken(String::new()))
    }

    /// Rebuilds the table from the records, as of change token `now`;
    /// false (the old table kept) when they cannot be read.
    fn reload(&self, now: ChangeToken) -> bool {
        match deployments(&self.records) {
            Ok(deps) => {
                let routes = Arc::new(routing_table(&deps));
                for c in conflicts(&routes) {
                    tracing::warn!(
                        "{c}: only the first receives requests; give one a distinct `prefix` or `host` bundle attribute"
                    );
                }
                if let Ok(mut t) = self.table.lock() {
                    t.routes = routes;
                    t.token = now;
                }
                tracing::info!(env = %self.env, "routing table reloaded");
                true
            }
            Err(e) => {
                tracing::warn!("keeping the old routing table: {e}");
                false
            }
        }
    }

    /// Follows the environment's changes on a thread of its own, for as
    /// long as the process runs.
    fn follow(self: &Arc<Self>) -> Result<()> {
        let router = Arc::clone(self);
        std::thread::Builder::new()
            .name("envpack-follow".into())
            .spawn(move || {
                let backend = Arc::clone(router.records.env().backend());
                loop {
                    let since = router.token();
                    match backend.wait_change(&router.env, &since, FOLLOW_WAIT) {
                        Ok(now) if now != since => {
                            if !router.reload(now) {
                                std::thread::sleep(Duration::from_millis(500));
                            }
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!("cannot read the change token: {e}");
                            std::thread::sleep(Duration::from_secs(1));
                        }
                    }
                }
            })
            .map(|_| ())
            .map_err(|e| Error::internal(format!("cannot start the change follower: {e}")))
    }

    async fn handle(self: Arc<Self>, req: Request<Incoming>, peer: SocketAddr) -> Response<Body> {
        let host = req
            .headers()
            .get(hyper::header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|h| h.split(':').next().unwrap_or(h).to_ascii_lowercase());
        let path = req.uri().path().to_string();
        let table = self.table();
        let Some(route) = table.iter().find(|r| {
            r.host.as_ref().is_none_or(|h| Some(h) == host.as_ref()) && path.starts_with(&r.prefix)
        }) else {
            return text(
                StatusCode::NOT_FOUND,
                format!("no deployment of environment {} serves {path}\n", self.env),
            );
        };
        let (backend, sticky) = match self.choose(&req, peer, route) {
            Ok(choice) => choice,
            Err(refusal) => return *refusal,
        };
        let mut resp = self.forward(req, &backend, &route.deployment).await;
        resp.headers_mut().insert(
            REVISION_HEADER,
            hyper::header::HeaderValue::from_str(&backend.revision)
                .unwrap_or(hyper::header::HeaderValue::from_static("?")),
        );
        if sticky {
            let expiry = now_secs() + COOKIE_TTL.as_secs();
            let sig = self.sign(
                &route.deployment,
                &backend.revision,
                route.generation,
                expiry,
            );
            let cookie = format!(
                "{}={}.{}.{expiry}.{sig}; Path={}; HttpOnly; SameSite=Lax; Max-Age={}",
                Self::cookie_name(&route.deployment),
                backend.revision,
                route.generation,
                route.prefix,
                COOKIE_TTL.as_secs()
            );
            if let Ok(v) = hyper::header::HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(hyper::header::SET_COOKIE, v);
            }
        }
        resp
    }

    /// The revision a request goes to, and whether to make it sticky: the
    /// revision header from a trusted peer, else a valid sticky cookie, else a weighted
    /// choice. `Err` is the response refusing it.
    fn choose(
        &self,
        req: &Request<Incoming>,
        peer: SocketAddr,
        route: &Route,
    ) -> std::result::Result<(Upstream, bool), Box<Response<Body>>> {
        let forced = req
            .headers()
            .get(REVISION_HEADER)
            .and_then(|h| h.to_str().ok())
            .map(str::to_string);
        let choice = match forced {
            Some(rev) if self.trust.trusts(peer.ip()) => match route.addressable.get(&rev) {
                Some(endpoint) => (
                    Upstream {
                        revision: rev,
                        endpoint: endpoint.clone(),
                        basis_points: 0,
                    },
                    false,
                ),
                None => {
                    return Err(Box::new(text(
                        StatusCode::NOT_FOUND,
                        format!(
                            "deployment {} has no ready revision {rev}\n",
                            route.deployment
                        ),
                    )));
                }
            },
            Some(_) => return Err(Box::new(self.untrusted(peer.ip()))),
            None => match self.pinned_by_cookie(req, route) {
                // A client pinned to a revision it cannot reach is moved.
                Some(b) if !self.is_unreachable(&b.revision) => (b, false),
                _ => match self.weighted_choice(route) {
                    Some(b) => (b, true),
                    None => {
                        return Err(Box::new(text(
                            StatusCode::SERVICE_UNAVAILABLE,
                            format!(
                                "deployment {} has no revision with traffic\n",
                                route.deployment
                            ),
                        )));
                    }
                },
            },
        };
        Ok(choice)
    }

    /// The refusal of the revision header from a peer not trusted with it.
    /// The trusted networks are logged for the operator, not told to the
    /// client.
    fn untrusted(&self, peer: IpAddr) -> Response<Body> {
        let peer = peer.to_canonical();
        tracing::debug!(
            %peer,
            trusted = %self.trust.describe(),
            "refused {REVISION_HEADER} from an untrusted peer"
        );
        text(
            StatusCode::FORBIDDEN,
            format!(
                "{REVISION_HEADER} is not accepted from {peer}: the ingress trusts it only \
                 from the networks given with --trust-revision-header-from\n"
            ),
        )
    }

    fn is_unreachable(&self, revision: &str) -> bool {
        self.unreachable
            .lock()
            .is_ok_and(|d| d.get(revision).is_some_and(|until| *until > Instant::now()))
    }

    async fn forward(
        &self,
        req: Request<Incoming>,
        backend: &Upstream,
        deployment: &str,
    ) -> Response<Body> {
        let (mut parts, body) = req.into_parts();
        let pq = parts
            .uri
            .path_and_query()
            .map_or("/", |p| p.as_str())
            .to_string();
        let uri = format!("{}{pq}", backend.endpoint.trim_end_matches('/'));
        parts.uri = match uri.parse() {
            Ok(u) => u,
            Err(e) => {
                return text(
                    StatusCode::BAD_GATEWAY,
                    format!("bad endpoint {uri}: {e}\n"),
                );
            }
        };
        parts.headers.remove(REVISION_HEADER);
        let out = Request::from_parts(parts, body.boxed());
        match self.client.request(out).await {
            Ok(resp) => resp.map(|b| b.boxed()),
            Err(e) => {
                let due = self
                    .warn_unanswered
                    .lock()
                    .map_or(Some(1), |mut t| t.admit(Instant::now()));
                if let Some(times) = due {
                    tracing::warn!(
                        deployment,
                        revision = %backend.revision,
                        "revision is not answering ({times} unanswered request(s), any revision, since the last warning): {e}"
                    );
                }
                if e.is_connect()
                    && let Ok(mut dead) = self.unreachable.lock()
                {
                    dead.insert(backend.revision.clone(), Instant::now() + UNREACHABLE_FOR);
                }
                text(
                    StatusCode::BAD_GATEWAY,
                    format!(
                        "revision {} of {deployment} is not answering at {}: {e}\n",
                        backend.revision, backend.endpoint
                    ),
                )
            }
        }
    }
}

fn text(status: StatusCode, body: String) -> Response<Body> {
    let mut r = Response::new(
        Full::new(Bytes::from(body))
            .map_err(|never: Infallible| match never {})
            .boxed(),
    );
    *r.status_mut() = status;
    r
}
