//! A test double of the Epicor Kinetic REST API.
//!
//! It speaks the routes and shapes of `kinetic-rest.md` over real HTTP: the token endpoint,
//! `x-api-key` and bearer/Basic checks, company-in-the-path data, Epicor error bodies, and the
//! Solution Workbench, UD schema, UI layer, file transfer and inventory services. Tests start
//! it in-process on a free port and script it through [`KineticDouble`]; operators run the
//! `envpack-kinetic-double` binary and script it through the `/_double/...` control API.
//! `docs/kinetic-double.md` lists every route and what is and is not emulated.
//!
//! ```no_run
//! use envpack_kinetic_double::{DoubleConfig, KineticDouble};
//!
//! let double = KineticDouble::start(DoubleConfig::default()).expect("start the double");
//! let base = double.base_url(); // http://127.0.0.1:PORT
//! // ... point a client at `base` with x-api-key "test-api-key", user manager/manager ...
//! for entry in double.journal() {
//!     println!("{} {} -> {}", entry.http_method, entry.route(), entry.status);
//! }
//! ```

#![deny(missing_docs)]

mod apply;
pub mod client;
mod config;
mod control;
mod edits;
mod error;
mod export_package;
mod faults;
mod files;
mod fixtures;
mod handle;
mod install;
mod inventory;
mod journal;
mod metafx;
mod package;
mod query;
mod router;
mod server;
mod services;
mod solution_build;
mod state;
mod token;
mod util;
mod zdata;
mod zip;

pub use config::DoubleConfig;
pub use error::{DoubleError, EpicorError};
pub use faults::{Fault, FaultAction};
pub use handle::KineticDouble;
pub use install::{ConflictForm, InstallOutcome, REGENERATE_WARNING, conflict_message};
pub use journal::{AuthUsed, Check, JournalEntry};
