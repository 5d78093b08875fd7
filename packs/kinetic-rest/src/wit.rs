//! The `kinetic` interface's types, as the SDK exposes them.

pub use envpack_sdk::__wit::kinetic::exports::greentic::envpack::kinetic::*;
