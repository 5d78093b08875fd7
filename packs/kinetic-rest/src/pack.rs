//! The pack's side of the host: [`host::HostIo`] implements the REST
//! client's `Io` with the host imports, [`commands`] runs the CLI commands
//! declared in `pack.toml`, [`render`] prints results for people and as
//! JSON, and [`artifacts`] keeps backups, packages and layer exports in the
//! pack's `/scratch`.

pub mod artifacts;
pub mod commands;
pub mod export;
pub mod host;
pub mod render;
