//! `greentic.kinetic.rest`: Epicor Kinetic solutions, UD schema, UI layers
//! and inventory over Kinetic's REST API.

pub mod rest;

#[cfg(test)]
mod fake;
