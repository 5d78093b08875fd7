//! `greentic.kinetic.rest`: Epicor Kinetic solutions, UD schema, UI layers
//! and inventory over Kinetic's REST API.
//!
//! Everything that talks to Kinetic is written over [`rest::Io`], so it is
//! tested natively against a scripted server; [`pack`] binds it to the
//! host (outbound HTTP, clock, kv, config) and exports the `kinetic`
//! interface and the pack's commands.

pub mod conflicts;
pub mod digest;
pub mod inventory;
pub mod json;
pub mod layers;
pub mod pack;
pub mod preflight;
pub mod rest;
pub mod schema;
pub mod solutions;
pub mod wit;
pub mod zip;

#[cfg(test)]
mod fake;
