//! What pack authors meet first, end to end through the real `envpack`
//! binary: outbound HTTP with a body (Content-Length, and the refusals a
//! pack must see as such), one-off `pack call` runs with secrets and config,
//! trap reports with a wasm backtrace, the `pack new` scaffold and the
//! `pack dev` loop.
#![allow(clippy::unwrap_used)]

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

#[path = "authors/http.rs"]
mod http;

#[path = "authors/call.rs"]
mod call;

#[path = "authors/new.rs"]
mod new;

#[path = "authors/dev.rs"]
mod dev;
