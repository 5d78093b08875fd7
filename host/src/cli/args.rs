//! The `envpack` command line, as clap types. No logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

const AFTER_HELP: &str = "\
Examples:
  envpack pack build packs/my-pack          build a pack crate into one .wasm file
  envpack pack install my-pack-1.0.0.wasm   install it (verified, precompiled)
  envpack pack list                         list installed packs
  envpack pack call acme.state.memory 'get(\"k\")'
                                            call a pack's export directly

Exit codes: 0 ok, 1 internal, 2 invalid input, 3 not found, 4 denied,
5 conflict, 6 integrity, 7 pack fault, 8 timeout, 9 unavailable,
10 checks failed. With --json, stdout holds one envelope:
{\"api\":\"envpack/v1\",\"ok\":true,\"result\":...} or
{\"api\":\"envpack/v1\",\"ok\":false,\"error\":{\"kind\",\"message\",\"hint\"}}.";

/// Run sandboxed WebAssembly env-packs: deployers, secrets, telemetry and
/// state for each environment.
#[derive(Debug, Parser)]
#[command(name = "envpack", version, about, after_help = AFTER_HELP, max_term_width = 100)]
pub struct Cli {
    /// Print one JSON envelope on stdout instead of human output.
    #[arg(long, global = true)]
    pub json: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The envpack home directory.
    #[arg(long, global = true, env = "ENVPACK_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, inspect, install and verify packs.
    #[command(subcommand)]
    Pack(PackCommand),
    /// Print a shell completion script.
    #[command(after_help = "Examples:\n  envpack completions bash > ~/.local/share/bash-completion/completions/envpack\n  envpack completions zsh > ~/.zfunc/_envpack")]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// `envpack pack ...`
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Build a pack crate for wasm32-wasip2 and embed its manifest.
    #[command(after_help = "Examples:\n  envpack pack build\n  envpack pack build packs/my-pack --out dist/")]
    Build(BuildArgs),
    /// Print a pack file's manifest without running it.
    #[command(after_help = "Examples:\n  envpack pack inspect dist/acme.state.memory-1.2.0.wasm\n  envpack --json pack inspect my.wasm | jq .result.capabilities")]
    Inspect {
        /// The pack file.
        file: PathBuf,
    },
    /// Install pack files into the store (verified, then precompiled).
    #[command(after_help = "Examples:\n  envpack pack install dist/*.wasm")]
    Install {
        /// Pack files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// List installed packs.
    List,
    /// Remove an installed pack version.
    #[command(after_help = "Examples:\n  envpack pack remove acme.state.memory@1.2.0")]
    Remove {
        /// The exact descriptor, e.g. acme.state.memory@1.2.0.
        descriptor: String,
    },
    /// Re-hash every installed pack; exit 6 if any was tampered with.
    Verify,
    /// Call a pack's exports directly, in one instance (for pack authors
    /// and debugging). Calls are written in WAVE.
    #[command(after_help = "Examples:\n  envpack pack call acme.state.memory@^1 'put(\"k\", [104, 105], none)' 'get(\"k\")'\n  envpack pack call ./my.wasm 'command.run(\"memory stats\", [])' --grant-requested\n  envpack pack call acme.secrets.vault 'get(\"x\")' --grant http:vault.internal:8200")]
    Call(CallArgs),
}

/// `envpack pack build`
#[derive(Debug, Args)]
pub struct BuildArgs {
    /// The pack crate directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Where to write the pack file (default: <DIR>/target/envpack).
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Build with the dev profile.
    #[arg(long)]
    pub debug: bool,
    /// Cargo's target directory.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `envpack pack call`
#[derive(Debug, Args)]
pub struct CallArgs {
    /// An installed pack (descriptor or requirement) or a .wasm file.
    pub pack: String,
    /// Calls, in order, on one instance: `func(args)` or
    /// `interface.func(args)`.
    #[arg(required = true)]
    pub calls: Vec<String>,
    /// Grant a capability (repeatable), e.g. kv, log, http:api.example.com.
    #[arg(long = "grant", value_name = "CAP")]
    pub grants: Vec<String>,
    /// Grant everything the pack's manifest requests.
    #[arg(long)]
    pub grant_requested: bool,
    /// Set a config value for the pack (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
}
