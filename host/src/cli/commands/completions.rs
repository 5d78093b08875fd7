//! `envpack completions <SHELL>`: a completion script for the shell.

use crate::cli::args::Cli;
use crate::cli::output::Report;
use crate::error::{Error, Result};

/// Prints the completion script for `shell`.
pub fn run(shell: clap_complete::Shell) -> Result<Report> {
    let mut cmd = <Cli as clap::CommandFactory>::command();
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut cmd, "envpack", &mut buf);
    let script = String::from_utf8(buf)
        .map_err(|e| Error::internal(format!("completion script is not UTF-8: {e}")))?;
    Ok(Report::new(
        script.clone(),
        &serde_json::json!({ "shell": shell.to_string(), "script": script }),
    ))
}
