//! The deployment model the packs serve: immutable release bundles,
//! deployments and revisions with a strict lifecycle, traffic splits,
//! policy-gated promotion, rollback through history, and an audit log.
//! The core drives the environment's deployer pack and never knows the
//! target.

pub mod bundle;
pub mod ingress;
pub mod journal;
pub mod model;
pub mod ops;
pub mod target;
