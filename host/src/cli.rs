//! The `envpack` command line: parse, dispatch to one library operation per
//! command, print a report or an error, and exit with the error's code.

pub mod args;
mod commands;
pub mod output;
pub mod progress;

use std::process::ExitCode;
use std::sync::OnceLock;

use clap::Parser;

use crate::error::{Error, Result};
use crate::home::Home;
use crate::runtime::{Limits, Runtime};
use crate::store::Store;
use args::{Cli, Command};
use output::Report;

/// What every command gets: where things live, and the runtime, created
/// only when a command needs to run or compile a pack.
pub struct Ctx {
    /// The envpack home.
    pub home: Home,
    /// `--json` was given.
    pub json: bool,
    runtime: OnceLock<Runtime>,
}

impl Ctx {
    /// A context at `home`.
    pub fn new(home: Home, json: bool) -> Self {
        Self {
            home,
            json,
            runtime: OnceLock::new(),
        }
    }

    /// The pack store.
    pub fn store(&self) -> Store {
        Store::open(&self.home)
    }

    /// The runtime, created on first use.
    pub fn runtime(&self) -> Result<&Runtime> {
        if let Some(r) = self.runtime.get() {
            return Ok(r);
        }
        let r = Runtime::new(Limits::from_env()?)?;
        Ok(self.runtime.get_or_init(|| r))
    }
}

fn init_tracing(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(verbose >= 2)
        .try_init();
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    init_tracing(cli.verbose);
    let json = cli.json;
    match run(cli) {
        Ok(report) => {
            output::print_ok(&report, json);
            ExitCode::SUCCESS
        }
        Err(err) => {
            output::print_err(&err, json);
            ExitCode::from(err.kind().exit_code())
        }
    }
}

fn run(cli: Cli) -> Result<Report> {
    let home = match cli.home {
        Some(dir) => Home::at(dir),
        None => Home::discover()?,
    };
    let ctx = Ctx::new(home, cli.json);
    match cli.command {
        Command::Pack(cmd) => commands::pack::run(&ctx, cmd),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            let mut buf = Vec::new();
            clap_complete::generate(shell, &mut cmd, "envpack", &mut buf);
            let script = String::from_utf8(buf)
                .map_err(|e| Error::internal(format!("completion script is not UTF-8: {e}")))?;
            Ok(Report::new(script.clone(), &serde_json::json!({ "shell": shell.to_string(), "script": script })))
        }
    }
}
