//! One file per command, each turning its arguments into one library
//! operation and its result into a [`Report`](super::output::Report).

pub mod answers;
pub mod backend;
pub mod bundle;
pub mod completions;
pub mod declared;
pub mod deploy;
pub mod env;
pub mod external;
pub mod journal;
pub mod logs;
pub mod observe;
pub mod pack;
pub mod pack_test;
pub mod promote;
pub mod registry;
pub mod revisions;
pub mod rollback;
pub mod secrets;
pub mod serve;
pub mod state;
pub mod status;
pub mod traffic;
