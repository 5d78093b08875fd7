//! The web dashboard (`envpack ui`): environments in ladder order ×
//! deployments, a deployment's traffic over time, drift between intent,
//! expectation and reality, the audit feed and the packs bound, served
//! from this binary (the page is embedded at build time; nothing is
//! fetched at run time) with a JSON API behind it.
//!
//! The API answers with the library operations the CLI commands call
//! (`truth::status`, `truth::observe`, `env::show`, the audit query, the
//! traffic plan and `deploy::set_traffic`), in the `--json` envelope, so
//! the page and the CLI cannot disagree. It is read-only but for one
//! governed action, shifting traffic: plan first, explicit confirmation,
//! audited with the actor.
//!
//! Access: loopback by default; another address only with a token
//! (`--token-file`), sent as `Authorization: Bearer` or as the cookie a
//! `?token=` login sets. Changes are POSTs that must carry JSON from the
//! page's own origin (see [`auth`]). Secret values are never read.

mod action;
mod api;
mod assets;
pub mod auth;
mod drift;
mod events;
mod server;

pub use auth::Access;
pub use server::serve;

use std::net::SocketAddr;

/// Where and how `envpack ui` listens.
#[derive(Clone, Debug)]
pub struct UiOptions {
    /// The address to bind.
    pub listen: SocketAddr,
    /// Who may use it.
    pub access: Access,
}
