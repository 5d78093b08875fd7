//! Intent, expectation and reality, kept apart: what was built and
//! reviewed (the release bundle), what an environment claims to run (its
//! deployment records), and what its deployer observes. Observations are
//! kept as immutable snapshots; drift between the records is evidence,
//! shown and kept, never fixed behind the operator's back.

pub mod drift;
pub mod model;
pub mod observe;
pub mod store;

pub use drift::{DriftState, compare, state_of};
pub use observe::{ObserveOutcome, observe};
