//! `envpack ui`: the web dashboard.

use std::io::Write;

use crate::cli::Ctx;
use crate::cli::args::UiArgs;
use crate::cli::output::Report;
use crate::error::Result;
use crate::ui::{self, Access, UiOptions};

/// Serves the dashboard until the process is stopped.
pub fn run(ctx: &Ctx, args: UiArgs) -> Result<Report> {
    let access = Access::new(args.listen, args.token_file.as_deref())?;
    let with_token = access.has_token();
    let options = UiOptions {
        listen: args.listen,
        access,
    };
    ui::serve(&ctx.home, ctx.runtime()?, options, |local| {
        // The first line on stdout gives callers (and tests) the address.
        let mut out = std::io::stdout().lock();
        let _ = writeln!(out, "dashboard on http://{local}/");
        if with_token {
            let _ = writeln!(
                out,
                "  token required: open http://{local}/?token=<the token in the --token-file> once, or send Authorization: Bearer"
            );
        }
        let _ = out.flush();
    })?;
    Ok(Report::new("", &serde_json::Value::Null))
}
