//! One module per command group, each calling library operations.

pub mod bundle;
pub mod deploy;
pub mod env;
pub mod external;
pub mod pack;
pub mod secrets;
pub mod state;
