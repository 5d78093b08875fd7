//! [`KineticDouble`]: a running double and the library API tests script it with (the same
//! operations as the `/_double/...` control API, without HTTP).

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use serde_json::{Map, Value};
use tokio::sync::oneshot;

use crate::config::DoubleConfig;
use crate::edits;
use crate::error::DoubleError;
use crate::faults::Fault;
use crate::install::InstallOutcome;
use crate::journal::JournalEntry;
use crate::server::{self, Shared, lock};
use crate::state::State;

/// A running double. Dropping it stops the server.
#[derive(Debug)]
pub struct KineticDouble {
    addr: SocketAddr,
    shared: Shared,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl KineticDouble {
    /// Binds `config.listen` and serves on a thread of its own (a single-threaded tokio
    /// runtime), so sync tests can start it with no runtime of their own.
    pub fn start(config: DoubleConfig) -> Result<Self, DoubleError> {
        let listener =
            std::net::TcpListener::bind(config.listen).map_err(|source| DoubleError::Bind {
                addr: config.listen.to_string(),
                source,
            })?;
        let bind_err = |source| DoubleError::Bind {
            addr: config.listen.to_string(),
            source,
        };
        listener.set_nonblocking(true).map_err(bind_err)?;
        let addr = listener.local_addr().map_err(bind_err)?;
        let shared: Shared = Arc::new(Mutex::new(State::new(config)));
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(DoubleError::Runtime)?;
        let (tx, rx) = oneshot::channel();
        let serving = shared.clone();
        let thread = std::thread::Builder::new()
            .name(format!("kinetic-double-{}", addr.port()))
            .spawn(move || runtime.block_on(server::serve(listener, serving, rx)))
            .map_err(DoubleError::Runtime)?;
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`: the `{base}` of every route (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The configuration it runs with (API key and credentials included, for the test that
    /// started it).
    pub fn config(&self) -> DoubleConfig {
        lock(&self.shared).config.clone()
    }

    /// A client logged in to this double: `x-api-key` and a fresh bearer token set.
    pub fn client(&self) -> std::io::Result<crate::client::Client> {
        let config = self.config();
        crate::client::Client::login(
            &self.base_url(),
            &config.api_key,
            &config.user,
            &config.password,
        )
    }

    /// Every request answered since the last [`clear_journal`](Self::clear_journal), in order.
    pub fn journal(&self) -> Vec<JournalEntry> {
        lock(&self.shared).journal.entries().to_vec()
    }

    /// The routes (`Service/Method`) of the journal, in order: handy for asserting sequences.
    pub fn journal_routes(&self) -> Vec<String> {
        self.journal().iter().map(JournalEntry::route).collect()
    }

    /// Forgets the journal.
    pub fn clear_journal(&self) {
        lock(&self.shared).journal.clear();
    }

    /// Injects a fault (see [`Fault`]).
    pub fn inject(&self, fault: Fault) {
        lock(&self.shared).faults.push(fault);
    }

    /// Removes every injected fault.
    pub fn clear_faults(&self) {
        lock(&self.shared).faults.clear();
    }

    /// Scripts the next `Install` (in `company`, or in any company when `None`); outcomes
    /// queue and each is used once.
    pub fn script_install(&self, company: Option<&str>, outcome: InstallOutcome) {
        let mut state = lock(&self.shared);
        let company = company.map(|c| state.company_id(c).unwrap_or_else(|| c.to_string()));
        state.install_script.push_back((company, outcome));
    }

    /// Ends every issued token now (the next call with one answers 401).
    pub fn expire_tokens(&self) {
        crate::token::expire_all(&mut lock(&self.shared));
    }

    /// Back to the seeded fixtures; clears tokens, faults, scripts and the journal.
    pub fn reset(&self) {
        let mut state = lock(&self.shared);
        state.reset_data();
        state.journal.clear();
    }

    /// UI edit: changes a layer's content (a marker edit when `None`) and bumps `LastUpdated`.
    pub fn edit_layer(
        &self,
        company: &str,
        app: &str,
        layer: &str,
        content: Option<Value>,
    ) -> Result<Map<String, Value>, DoubleError> {
        edits::edit_layer(&mut lock(&self.shared), company, app, layer, content)
    }

    /// Adds or replaces a layer in `company`'s view owned by `owner`: the company itself, or
    /// another one (`T_EPIC07`, `""` for all companies) to set up an install-time conflict.
    pub fn put_layer(
        &self,
        company: &str,
        owner: &str,
        app: &str,
        layer: &str,
        content: Value,
    ) -> Result<Map<String, Value>, DoubleError> {
        edits::put_layer(&mut lock(&self.shared), company, owner, app, layer, content)
    }

    /// The layers visible in a company (each row names its owner in `Company`).
    pub fn layers(&self, company: &str) -> Vec<Map<String, Value>> {
        let state = lock(&self.shared);
        state
            .company_id(company)
            .and_then(|co| state.companies.get(&co))
            .map(|c| c.layers.clone())
            .unwrap_or_default()
    }

    /// UI edit: adds a UD field or alters the named one (`spec` has `FieldName` and the
    /// fields to set); the table's data model goes out of sync.
    pub fn set_ud_field(
        &self,
        company: &str,
        table: &str,
        spec: Value,
    ) -> Result<Map<String, Value>, DoubleError> {
        edits::set_ud_field(&mut lock(&self.shared), company, table, &spec)
    }

    /// UI edit: removes a UD field.
    pub fn remove_ud_field(
        &self,
        company: &str,
        table: &str,
        field: &str,
    ) -> Result<(), DoubleError> {
        edits::remove_ud_field(&mut lock(&self.shared), company, table, field)
    }

    /// Regenerates the company's data model; returns the tables that were out of sync.
    pub fn regenerate_data_model(&self, company: &str) -> Result<Vec<String>, DoubleError> {
        edits::regenerate_data_model(&mut lock(&self.shared), company)
    }

    /// The fields of a UD table and whether its data model is in sync, if the table exists.
    pub fn ud_table(&self, company: &str, table: &str) -> Option<(Vec<Map<String, Value>>, bool)> {
        let state = lock(&self.shared);
        let co = state.company_id(company)?;
        let t = state.companies.get(&co)?.ud_table(table)?;
        Some((t.fields.clone(), t.data_model_synced))
    }

    /// The company's install history rows, oldest first.
    pub fn installs(&self, company: &str) -> Vec<Map<String, Value>> {
        let state = lock(&self.shared);
        state
            .company_id(company)
            .and_then(|co| state.companies.get(&co))
            .map(|c| c.installs.clone())
            .unwrap_or_default()
    }

    /// Files left on the server in a company (`(folder, serverPath)`), e.g. by `BuildSolution`.
    pub fn server_files(&self, company: &str) -> Vec<(i64, String)> {
        let state = lock(&self.shared);
        state
            .company_id(company)
            .and_then(|co| state.companies.get(&co))
            .map(|c| c.files.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Stops the server and waits for its thread.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for KineticDouble {
    fn drop(&mut self) {
        self.stop();
    }
}
