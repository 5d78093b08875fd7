//! `envpack serve`: the local runtime's HTTP ingress.

use std::io::Write;

use crate::cli::Ctx;
use crate::cli::args::ServeArgs;
use crate::cli::output::Report;
use crate::error::{Error, Result};
use crate::local::ingress::{self, HeaderTrust, Limits, ServeOptions};

/// Runs the ingress until the process is stopped.
pub fn run(ctx: &Ctx, args: ServeArgs) -> Result<Report> {
    let env = ctx.env_name()?;
    let opts = options(args)?;
    ingress::serve(&ctx.home, &env, opts, |local, routes| {
        // The first line on stdout gives callers (and tests) the bound
        // address; the routes follow.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "listening on http://{local} for environment {env}");
        if routes.is_empty() {
            let _ = writeln!(out, "  no routes yet: nothing ready is deployed in {env}");
        }
        for r in routes {
            let _ = writeln!(out, "  route {r}");
        }
        let _ = out.flush();
    })?;
    Ok(Report::new("", &serde_json::Value::Null))
}

fn options(args: ServeArgs) -> Result<ServeOptions> {
    for (flag, d) in [
        ("--header-timeout", args.header_timeout),
        ("--request-timeout", args.request_timeout),
        ("--send-timeout", args.send_timeout),
    ] {
        if d.is_zero() {
            return Err(
                Error::invalid(format!("{flag} 0s would time out every request"))
                    .hint(format!("envpack serve {flag} 10s")),
            );
        }
    }
    Ok(ServeOptions {
        listen: args.listen,
        seed: args.seed,
        limits: Limits {
            header_timeout: args.header_timeout,
            request_timeout: args.request_timeout,
            send_timeout: args.send_timeout,
            max_connections: args.max_connections.map(|n| n as usize),
        },
        trust: HeaderTrust::new(args.trust_revision_header_from),
    })
}
