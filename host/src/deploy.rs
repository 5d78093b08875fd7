//! The deployment model the packs serve: immutable release bundles,
//! deployments and revisions with a strict lifecycle, traffic splits,
//! policy-gated promotion, rollback through history, and an audit log.
//! The core drives the environment's deployer pack and never knows the
//! target.
//!
//! One file per verb, cargo-style, each taking an options struct, over
//! [`records`] (loading, saving and locking deployments through the
//! backend), [`model`] (the rules: transition table, split arithmetic) and
//! [`policy`] (which bundles an environment accepts).
//!
//! Every verb holds the environment's deployment lease for its whole run,
//! checks policy before any side effect, appends an audit event before
//! committing (no audit, no change), and drives the environment's deployer
//! pack through the `deployer` interface.

pub mod bundle;
#[allow(clippy::module_inception)] // named after its verb, like its siblings
pub mod deploy;
pub mod gate;
pub mod journal;
pub(crate) mod kinetic;
pub mod lifecycle;
pub mod model;
pub mod plan;
pub mod policy;
pub mod promote;
pub mod records;
pub mod render;
pub mod retention;
pub mod rollback;
pub mod target;
pub mod traffic;
pub mod updown;
mod warm;

pub use deploy::{DeployOptions, DeployOutcome, deploy};
pub use lifecycle::{TransitionOptions, transition};
pub use policy::check_tag_pattern;
pub use promote::{PromoteOptions, PromotionReport, promote};
pub use records::DeploymentRecords;
pub use rollback::{RollbackOptions, RollbackOutcome, rollback};
pub use traffic::{TrafficOptions, TrafficOutcome, set_traffic};
pub use updown::{EnvRunReport, down, remove_environment, reset, up};
