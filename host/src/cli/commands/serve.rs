//! `envpack serve`: the local runtime's HTTP ingress.

use std::io::Write;
use std::net::SocketAddr;

use crate::cli::Ctx;
use crate::cli::output::Report;
use crate::error::Result;
use crate::local::ingress::{self, ServeOptions};

/// Runs the ingress until the process is stopped.
pub fn run(ctx: &Ctx, listen: SocketAddr, seed: Option<u64>) -> Result<Report> {
    let env = ctx.env_name()?;
    ingress::serve(&ctx.home, &env, ServeOptions { listen, seed }, |local| {
        // One line on stdout so callers (and tests) learn the bound address.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{local} for environment {env}");
        let _ = out.flush();
    })?;
    Ok(Report::new("", &serde_json::Value::Null))
}
