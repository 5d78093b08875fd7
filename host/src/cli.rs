//! The `envpack` command line: parse, dispatch to one library operation per
//! command, print a report or an error, and exit with the error's code.

pub mod args;
mod commands;
pub mod complete;
mod confirm;
pub mod output;
pub mod progress;

pub use commands::answers::check as check_answers;

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
    /// The environment named by `--env` / `ENVPACK_ENV`.
    pub env: String,
    /// Whether `--env` was given on the command line (not only inherited
    /// from `ENVPACK_ENV` or defaulted).
    pub env_given: bool,
    /// `--yes`: production changes are confirmed.
    pub yes: bool,
    /// `--dry-run`: mutating commands print their plan and change nothing.
    pub dry_run: bool,
    /// The command line, for hints that repeat it corrected.
    pub args: Vec<String>,
    runtime: OnceLock<Runtime>,
}

impl Ctx {
    /// A context at `home`.
    pub fn new(home: Home, json: bool, env: String) -> Self {
        Self {
            home,
            json,
            env,
            env_given: false,
            yes: false,
            dry_run: false,
            args: Vec::new(),
            runtime: OnceLock::new(),
        }
    }

    /// The environment `--env` names, validated.
    pub fn env_name(&self) -> Result<crate::env::EnvName> {
        self.env.parse()
    }

    /// The command line as run, without its `--env` option: what to run
    /// when the positional already names the environment.
    fn without_env_flag(&self) -> String {
        let mut out = vec!["envpack".to_string()];
        let mut it = self.args.iter().skip(1);
        while let Some(a) = it.next() {
            if a == "--env" {
                it.next();
            } else if !a.starts_with("--env=") {
                out.push(a.clone());
            }
        }
        out.join(" ")
    }

    /// The environment of a command that also takes it as a positional
    /// argument (`env show NAME`): the positional, else `--env` /
    /// `ENVPACK_ENV`, else `local`. Naming two different environments is
    /// refused rather than silently choosing one.
    pub fn env_or_positional(&self, positional: Option<String>) -> Result<crate::env::EnvName> {
        match positional {
            Some(p) if self.env_given && p != self.env => Err(Error::invalid(format!(
                "two environments are named: {p:?} as the argument and {:?} with --env",
                self.env
            ))
            .hint(self.without_env_flag())),
            Some(p) => p.parse(),
            None => self.env_name(),
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
        let r = Runtime::new(Limits::from_env()?)?
            .with_reporter(std::sync::Arc::new(progress::Terminal));
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
    // wasi:http logs every refused connection at warn; health checks poll
    // ports that are not listening yet, so keep that noise out by default.
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{default},wasmtime_wasi_http=error"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .without_time()
        .with_target(verbose >= 2)
        .try_init();
}

/// `envpack --help` lists the commands packs contribute, read from the
/// manifests of the packs bound in the environment (never running them).
fn print_help_with_pack_commands(args: &[String]) -> Option<ExitCode> {
    // Find --env / --home among the arguments the way clap would, without
    // failing on anything else.
    let mut env = std::env::var("ENVPACK_ENV").unwrap_or_else(|_| "local".into());
    let mut home = std::env::var_os("ENVPACK_HOME").map(std::path::PathBuf::from);
    let mut positional = Vec::new();
    let mut help = false;
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--env" => env = it.next()?.clone(),
            "--home" => home = Some(it.next()?.into()),
            "-h" | "--help" => help = true,
            s if s.starts_with("--env=") => env = s["--env=".len()..].to_string(),
            s if s.starts_with("--home=") => home = Some(s["--home=".len()..].into()),
            s if s.starts_with('-') => {}
            s => positional.push(s.to_string()),
        }
    }
    let top_help =
        (help && positional.is_empty()) || (positional == ["help"] && !help) || args.len() == 1;
    if !top_help {
        return None;
    }
    let home = match home {
        Some(h) => Home::at(h),
        None => Home::discover().ok()?,
    };
    let ctx = Ctx::new(home, false, env.clone());
    let section = env
        .parse()
        .ok()
        .and_then(|e| commands::external::help_section(&ctx, &e));
    let mut cmd = <Cli as clap::CommandFactory>::command();
    if let Some(section) = section {
        let after = cmd
            .get_after_help()
            .map(|s| s.to_string())
            .unwrap_or_default();
        cmd = cmd.after_help(format!("{section}\n{after}"));
    }
    let _ = cmd.print_help();
    Some(ExitCode::from(if args.len() == 1 { 2 } else { 0 }))
}

/// Runs the CLI with the process arguments.
pub fn main() -> ExitCode {
    // Arguments are read as OS strings: a path need not be UTF-8, and
    // `std::env::args` would panic on one that is not. The lossy copy is only
    // for finding `--json`/`--help` and for repeating the command in hints.
    // `COMPLETE=bash envpack` prints the shell's registration; the shell
    // then calls back here with the words to complete. Nothing else may
    // write to stdout first.
    clap_complete::CompleteEnv::with_factory(complete::command).complete();
    let mut os_args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    help_for_pack_commands(&mut os_args);
    let args = lossy_args(&os_args);
    if let Some(code) = print_help_with_pack_commands(&args) {
        return code;
    }
    let mut cli = match Cli::try_parse_from(&os_args) {
        Ok(cli) => cli,
        Err(e) if e.kind() == clap::error::ErrorKind::InvalidUtf8 => {
            let err = non_utf8_error(&os_args);
            output::print_err(&err, wants_json(&args));
            return ExitCode::from(err.kind().exit_code());
        }
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            // Scripts asked for JSON get a JSON envelope for usage errors too.
            if code == 2 && wants_json(&args) {
                let text = e.render().to_string();
                let message = text
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string();
                output::print_err(
                    &Error::invalid(message).hint("run the command with --help for its usage"),
                    true,
                );
            } else {
                let _ = e.print();
            }
            return ExitCode::from(code);
        }
    };
    globals_after_pack_words(&mut cli);
    cli.env_given = args.iter().any(|a| a == "--env" || a.starts_with("--env="));
    init_tracing(cli.verbose);
    if cli.output == output::Format::Json {
        cli.json = true;
    }
    let (json, quiet) = (cli.json, cli.quiet);
    let format = if json {
        output::Format::Json
    } else {
        cli.output
    };
    match run(cli) {
        Ok(report) => {
            output::print_ok(&report, format, quiet);
            ExitCode::from(report.exit)
        }
        Err(err) => {
            output::print_err(&err, json);
            ExitCode::from(err.kind().exit_code())
        }
    }
}

/// `--dry-run` on a command that cannot show a plan first is refused, not
/// ignored: a pack command or `pack call` runs the pack's own code (which
/// may change anything its grants allow), `observe` and `drift` record
/// what they see, `serve` and `pack build` are not changes to plan.
fn cannot_plan(command: &Command, env: &str) -> Result<()> {
    let what = match command {
        Command::External(words) => format!("the pack command `{}`", words.join(" ")),
        Command::Pack(args::PackCommand::Call(_)) => "pack call".into(),
        Command::Pack(args::PackCommand::Build(_)) => "pack build".into(),
        Command::Pack(args::PackCommand::Test(_)) => "pack test".into(),
        Command::Observe => "observe".into(),
        Command::Drift { command: None, .. } => "drift".into(),
        Command::Serve(_) => "serve".into(),
        Command::Backend(args::BackendCommand::Show) => return Ok(()),
        Command::Pack(args::PackCommand::Push { .. }) => "pack push".into(),
        Command::Bundle(args::BundleCommand::Push { .. }) => "bundle push".into(),
        Command::Bundle(args::BundleCommand::Pull { .. }) => "bundle pull".into(),
        Command::Registry(args::RegistryCommand::Tags { .. }) => "registry tags".into(),
        Command::Backend(_) => "a backend command".into(),
        Command::Env(args::EnvCommand::Validate { .. }) => "env validate".into(),
        Command::Env(args::EnvCommand::Status { .. }) => "env status".into(),
        _ => return Ok(()),
    };
    Err(Error::invalid(format!(
        "{what} cannot be planned: --dry-run would not keep it from acting; nothing was run"
    ))
    .hint(format!(
        "run it without --dry-run (envpack snapshots --env {env} shows what was last observed, without observing)"
    )))
}

/// Global options given after a pack command's words belong to envpack
/// (pack arguments may not be named json or env).
fn globals_after_pack_words(cli: &mut Cli) {
    let Command::External(words) = &mut cli.command else {
        return;
    };
    let mut rest = Vec::new();
    let mut it = std::mem::take(words).into_iter();
    while let Some(w) = it.next() {
        match w.as_str() {
            "--json" => cli.json = true,
            "--env" => match it.next() {
                Some(e) => cli.env = e,
                None => rest.push(w),
            },
            _ if w.starts_with("--env=") => cli.env = w["--env=".len()..].to_string(),
            _ => rest.push(w),
        }
    }
    *words = rest;
}

/// `envpack help WORDS...` where WORDS is no built-in command is the help
/// of a pack-contributed command: `envpack WORDS... --help`.
fn help_for_pack_commands(os_args: &mut Vec<std::ffi::OsString>) {
    use clap::CommandFactory;
    let Some(at) = os_args
        .iter()
        .skip(1)
        .position(|a| !a.to_string_lossy().starts_with('-'))
    else {
        return;
    };
    let at = at + 1;
    if os_args[at] != "help" {
        return;
    }
    let Some(next) = os_args
        .get(at + 1)
        .map(|a| a.to_string_lossy().into_owned())
    else {
        return;
    };
    let builtin = Cli::command()
        .get_subcommands()
        .any(|c| c.get_name() == next);
    if !builtin && !next.starts_with('-') {
        os_args.remove(at);
        os_args.push("--help".into());
    }
}

/// Whether the command line asks for JSON (`--json`, `-o json`), read
/// before parsing so usage errors get an envelope too.
fn wants_json(args: &[String]) -> bool {
    args.iter().enumerate().any(|(i, a)| {
        a == "--json"
            || a == "--output=json"
            || a == "-ojson"
            || ((a == "-o" || a == "--output") && args.get(i + 1).is_some_and(|n| n == "json"))
    })
}

/// The arguments as text, non-UTF-8 bytes replaced by U+FFFD.
fn lossy_args(os_args: &[std::ffi::OsString]) -> Vec<String> {
    os_args
        .iter()
        .map(|a| a.to_string_lossy().into_owned())
        .collect()
}

/// The error for an argument that must be text but is not UTF-8 (paths
/// may be any bytes; names, keys and descriptors may not). When no argument
/// is the culprit, an option's environment variable is.
fn non_utf8_error(os_args: &[std::ffi::OsString]) -> Error {
    let rule = "names, keys and descriptors must be UTF-8 text (only paths may be any bytes)";
    if let Some(bad) = os_args.iter().skip(1).find(|a| a.to_str().is_none()) {
        return Error::invalid(format!(
            "argument {:?} is not valid UTF-8; {rule}",
            bad.to_string_lossy()
        ))
        .hint("envpack --help");
    }
    let var = ["ENVPACK_ENV", "ENVPACK_INGRESS_SEED"]
        .into_iter()
        .find(|v| std::env::var_os(v).is_some_and(|x| x.to_str().is_none()))
        .unwrap_or("ENVPACK_ENV");
    Error::invalid(format!(
        "the environment variable {var} is not valid UTF-8; {rule}"
    ))
    .hint(format!("unset {var}"))
}

fn run(cli: Cli) -> Result<Report> {
    let home = match cli.home {
        Some(dir) => Home::at(dir),
        None => Home::discover()?,
    };
    let mut ctx = Ctx::new(home, cli.json, cli.env);
    ctx.env_given = cli.env_given;
    ctx.yes = cli.yes;
    ctx.dry_run = cli.dry_run;
    ctx.args = lossy_args(&std::env::args_os().collect::<Vec<_>>());
    if let Some(actor) = &cli.actor {
        crate::actor::set_explicit(actor);
    }
    crate::actor::set_command_line(crate::actor::redact(&ctx.args));
    if ctx.dry_run {
        cannot_plan(&cli.command, &ctx.env)?;
    }
    // A shared backend that is unreachable, or whose schema is older or
    // newer than this build's, stops every command but `backend ...` here,
    // with the reason and the fix.
    if !matches!(
        cli.command,
        Command::Backend(_) | Command::Completions { .. }
    ) {
        crate::backend::settings::check(&ctx.home)?;
    }
    match cli.command {
        Command::Backend(cmd) => commands::backend::run(&ctx, cmd),
        Command::Registry(cmd) => commands::registry::run(&ctx, cmd),
        Command::Pack(cmd) => commands::pack::run(&ctx, cmd),
        Command::Env(cmd) => commands::env::run(&ctx, cmd),
        Command::Bundle(cmd) => commands::bundle::run(&ctx, cmd),
        Command::Deploy(a) => commands::deploy::deploy(&ctx, a),
        Command::Revisions(cmd) => commands::revisions::revisions(&ctx, cmd),
        Command::Traffic(cmd) => commands::traffic::traffic(&ctx, cmd),
        Command::Promote(a) => commands::promote::promote(&ctx, a),
        Command::Rollback(a) => commands::rollback::rollback(&ctx, a),
        Command::Audit(a) => commands::journal::audit(&ctx, a),
        Command::Plan(a) => commands::declared::plan(&ctx, a),
        Command::Apply(a) => commands::declared::apply(&ctx, a),
        Command::Serve(args) => commands::serve::run(&ctx, args),
        Command::Observe => commands::observe::run_observe(&ctx),
        Command::Snapshots { command } => commands::observe::run_snapshots(&ctx, command),
        Command::Drift { all: true, .. } => commands::status::drift_matrix(&ctx),
        Command::Drift { command, .. } => commands::observe::run_drift(&ctx, command),
        Command::Status { all, watch: true } => commands::status::watch(&ctx, all),
        Command::Status { all, .. } => commands::status::run(&ctx, all),
        Command::Logs {
            revision,
            tail,
            follow,
        } => commands::logs::run(&ctx, &revision, tail, follow),
        Command::History(a) => commands::journal::history(&ctx, a),
        Command::Secrets(cmd) => commands::secrets::run(&ctx, cmd),
        Command::State(cmd) => commands::state::run(&ctx, cmd),
        Command::External(words) => commands::external::run(&ctx, &ctx.env_name()?, &words),
        Command::Completions { shell } => commands::completions::run(shell),
    }
}
