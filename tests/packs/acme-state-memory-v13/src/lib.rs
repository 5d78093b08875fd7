//! acme.state.memory 1.3.0: the same pack as 1.2.0, built from its source.

#[path = "../../acme-state-memory/src/lib.rs"]
mod same_as_1_2;
