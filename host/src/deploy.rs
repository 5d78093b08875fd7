//! The deployment model the packs serve. So far: immutable release bundles
//! ([`bundle`]); revisions, traffic, policy-gated promotion, rollback and
//! the audit log build on them.

pub mod bundle;
pub mod target;
