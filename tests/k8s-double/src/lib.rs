//! A Kubernetes API server test double: the subset the
//! `greentic.deployer.k8s` pack uses, spoken faithfully enough that real
//! `kubectl` accepts it. See `docs/k8s-double.md` for what it emulates and
//! what it does not.
//!
//! Tests start it in-process and script it:
//! ```no_run
//! use envpack_k8s_double::{K8sDouble, Options};
//! let double = K8sDouble::start(Options::default()).expect("double starts");
//! double.write_kubeconfig("/tmp/kubeconfig".as_ref(), "default").expect("kubeconfig");
//! // ... point the deployer or kubectl at double.base_url() ...
//! let web = double.get("deployments", "default", "web");
//! ```
//! It also runs standalone: `cargo run -p envpack-k8s-double -- --help`.

use std::net::SocketAddr;
use std::path::Path;
use std::thread::JoinHandle;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

mod apply;
mod clock;
mod controllers;
mod discovery;
mod fields;
mod gateway;
mod handlers;
mod managed;
mod openapi;
mod patch;
mod pods;
mod proto;
mod resources;
mod rollout;
mod routes;
mod schema;
mod script;
mod selector;
mod server;
mod status;
mod store;
mod table;
mod tls;
mod validate;
mod watch;
mod write;

pub use script::{Denial, PodFailure, RolloutFailure, RolloutMatch};
pub use server::RequestRecord;

use server::{Shared, State};

/// How to start the double.
#[derive(Debug, Clone)]
pub struct Options {
    /// Where to listen; port 0 picks a free one.
    pub listen: SocketAddr,
    /// The bearer token every request but `/version` and `/healthz` needs.
    pub token: String,
    /// How long a Deployment takes to become available after a change;
    /// zero makes the write itself roll it out.
    pub rollout_delay: Duration,
    /// Namespaces to create besides `default`, `kube-system`,
    /// `kube-public` and `kube-node-lease`.
    pub namespaces: Vec<String>,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            token: "envpack-double-token".into(),
            rollout_delay: Duration::ZERO,
            namespaces: Vec::new(),
        }
    }
}

/// What can go wrong driving the double.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(
        "could not listen on {addr}: {source} (help: pick a free port, or 127.0.0.1:0 for any)"
    )]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("could not start the double's runtime: {0}")]
    Runtime(std::io::Error),
    #[error(
        "{0:?} is not a resource the double serves (help: one of namespaces, configmaps, secrets, services, pods, events, deployments, httproutes)"
    )]
    UnknownResource(String),
    #[error("{0}")]
    Refused(String),
    #[error("{0}")]
    Tls(String),
}

/// A running double; dropping it stops the server.
#[derive(Debug)]
pub struct K8sDouble {
    addr: SocketAddr,
    state: State,
    ca_pem: String,
    runtime: tokio::runtime::Handle,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl K8sDouble {
    /// Binds and serves on a thread of its own (so sync and async tests
    /// alike can use it).
    pub fn start(options: Options) -> Result<K8sDouble, Error> {
        let listener = std::net::TcpListener::bind(options.listen)
            .and_then(|l| l.set_nonblocking(true).map(|()| l))
            .map_err(|source| Error::Listen {
                addr: options.listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| Error::Listen {
            addr: options.listen,
            source,
        })?;
        let mut shared = Shared {
            token: options.token,
            address: addr.to_string(),
            ..Shared::default()
        };
        shared.script.rollout_delay = options.rollout_delay;
        for ns in &options.namespaces {
            shared.store.ensure_namespace(ns);
        }
        let state = State::new(shared);
        let tls = tls::generate(addr.ip()).map_err(Error::Tls)?;
        let ca_pem = tls.ca_pem.clone();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(Error::Runtime)?;
        let handle = runtime.handle().clone();
        let (stop, stopped) = oneshot::channel();
        let served = state.clone();
        let thread = std::thread::Builder::new()
            .name("k8s-double".into())
            .spawn(move || {
                runtime.block_on(async move {
                    if let Ok(listener) = tokio::net::TcpListener::from_std(listener) {
                        server::serve(listener, served, tls, stopped).await;
                    }
                });
            })
            .map_err(Error::Runtime)?;
        Ok(K8sDouble {
            addr,
            state,
            ca_pem,
            runtime: handle,
            stop: Some(stop),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: plain HTTP (the same port speaks HTTPS too).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// `https://127.0.0.1:PORT`, served with a certificate signed by
    /// [`K8sDouble::ca_pem`] (kubectl sends tokens to HTTPS servers only).
    pub fn https_url(&self) -> String {
        format!("https://{}", self.addr)
    }

    /// The PEM of the CA the HTTPS side is trusted with (made at start).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The bearer token requests must carry.
    pub fn token(&self) -> String {
        self.state.lock().token.clone()
    }

    /// Changes the token (requests with the old one get 401 from now on).
    pub fn set_token(&self, token: &str) {
        self.state.lock().token = token.to_string();
    }

    /// A kubeconfig (YAML) for kubectl: this server over HTTPS with its CA,
    /// the token, and `namespace` as the context's default namespace.
    pub fn kubeconfig(&self, namespace: &str) -> String {
        kubeconfig(&self.https_url(), &self.ca_pem, &self.token(), namespace)
    }

    /// Writes [`K8sDouble::kubeconfig`] to `path`.
    pub fn write_kubeconfig(&self, path: &Path, namespace: &str) -> std::io::Result<()> {
        std::fs::write(path, self.kubeconfig(namespace))
    }

    /// An object as the server holds it (pods and events: as derived now).
    /// `resource` is the plural (`deployments`); `namespace` is ignored for
    /// cluster-scoped types.
    pub fn get(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        self.list(resource, Some(namespace))
            .ok()?
            .into_iter()
            .find(|o| o["metadata"]["name"] == name)
    }

    /// Every object of a type, in a namespace or (`None`) all of them.
    pub fn list(&self, resource: &str, namespace: Option<&str>) -> Result<Vec<Value>, Error> {
        self.select(resource, namespace, "")
    }

    /// The objects matching a label selector (`app=web,tier in (a,b)`).
    pub fn select(
        &self,
        resource: &str,
        namespace: Option<&str>,
        label_selector: &str,
    ) -> Result<Vec<Value>, Error> {
        let t = resources::by_plural(resource)
            .ok_or_else(|| Error::UnknownResource(resource.into()))?;
        let labels = selector::LabelSelector::parse(label_selector).map_err(Error::Refused)?;
        let ns = if t.namespaced { namespace } else { None };
        let s = self.state.lock();
        Ok(handlers::objects(
            &s,
            t,
            ns,
            &labels,
            &selector::FieldSelector::default(),
        ))
    }

    /// Creates or replaces an object behind the clients' backs (seeding a
    /// Secret, say), as the field manager `envpack-k8s-double`.
    pub fn insert(&self, object: Value) -> Result<Value, Error> {
        let _in_runtime = self.runtime.enter();
        write::direct(&self.state, object).map_err(|e| Error::Refused(e.message))
    }

    /// Deletes an object behind the clients' backs; `None` if it was not there.
    pub fn remove(&self, resource: &str, namespace: &str, name: &str) -> Option<Value> {
        let t = resources::by_plural(resource)?;
        self.state.lock().store.delete(t, namespace, name).ok()
    }

    /// Creates a namespace (nothing happens if it exists).
    pub fn create_namespace(&self, name: &str) {
        self.state.lock().store.ensure_namespace(name);
    }

    /// The global `resourceVersion` (bumped by every write).
    pub fn resource_version(&self) -> u64 {
        self.state.lock().store.resource_version()
    }

    pub fn set_rollout_delay(&self, delay: Duration) {
        self.state.lock().script.rollout_delay = delay;
    }

    /// Makes matching rollouts end in `ProgressDeadlineExceeded`, their pods
    /// stuck in `failure`.
    pub fn fail_rollout(&self, matches: RolloutMatch, failure: PodFailure) {
        self.state
            .lock()
            .script
            .failures
            .push(RolloutFailure { matches, failure });
    }

    pub fn clear_rollout_failures(&self) {
        self.state.lock().script.failures.clear();
    }

    /// Finishes every rollout still in progress now, as if the delay had
    /// passed (tests need no timing).
    pub fn settle_rollouts(&self) {
        let _in_runtime = self.runtime.enter();
        controllers::settle_all(&self.state);
    }

    /// Denies `verb` (`patch`, or `*`) on `resource` (`deployments`,
    /// `deployments/scale`, or `*`): requests get 403 and
    /// SelfSubjectAccessReviews answer `allowed: false`.
    pub fn deny(&self, verb: &str, resource: &str) {
        self.state.lock().script.denials.push(Denial {
            verb: verb.into(),
            resource: resource.into(),
        });
    }

    /// Allows everything again.
    pub fn allow_all(&self) {
        self.state.lock().script.denials.clear();
    }

    /// Every request served so far, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.lock().requests.clone()
    }
}

impl Drop for K8sDouble {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A kubeconfig for a server at `server` (trusted with the CA `ca_pem`)
/// with a bearer token.
pub fn kubeconfig(server: &str, ca_pem: &str, token: &str, namespace: &str) -> String {
    // JSON strings are valid YAML scalars, and quote whatever the token holds.
    let q = |s: &str| Value::String(s.to_string()).to_string();
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: envpack-double\n  cluster:\n    server: {}\n\
         \x20   certificate-authority-data: {}\nusers:\n- name: envpack-double\n  user:\n    token: {}\n\
         contexts:\n- name: envpack-double\n  context:\n    cluster: envpack-double\n    user: envpack-double\n\
         \x20   namespace: {}\ncurrent-context: envpack-double\npreferences: {{}}\n",
        q(server),
        tls::base64(ca_pem.as_bytes()),
        q(token),
        q(namespace)
    )
}
