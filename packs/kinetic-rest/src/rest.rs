//! The Kinetic REST client: request building, authentication and error
//! mapping, written over the [`Io`](io::Io) trait so every rule here is
//! tested natively against a scripted server (the pack's glue implements
//! `Io` with the host's outbound HTTP, clock and kv).

pub mod client;
pub mod error;
pub mod io;
pub mod settings;
pub mod token;

pub use client::Client;
pub use error::KineticError;
pub use io::{HttpRequest, HttpResponse, Io, Method};
pub use settings::Settings;
