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
10 checks failed; observe and drift: 0 in sync, 2 drift found (ok
envelope), 1 unobservable. With --json, stdout holds one envelope:
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

    /// How to print results: human (tables), json (as --json), name (the
    /// ids of a list, one per line), wide (tables with every column).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t = crate::cli::output::Format::Human)]
    pub output: crate::cli::output::Format,

    /// Print nothing on success but what --json asks for; errors still
    /// go to stderr.
    #[arg(short = 'q', long, global = true)]
    pub quiet: bool,

    /// More logging on stderr (-v info, -vv debug, -vvv trace); RUST_LOG
    /// overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,

    /// The envpack home directory.
    #[arg(long, global = true, env = "ENVPACK_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// Print what a mutating command would change (before -> after) and
    /// change nothing.
    #[arg(long, global = true)]
    pub dry_run: bool,

    /// Confirm changes to a production environment without asking
    /// (required when there is no terminal to ask on).
    #[arg(short = 'y', long, global = true)]
    pub yes: bool,

    /// Who is making changes, as recorded in the audit log (default:
    /// ENVPACK_ACTOR, a CI variable such as GITHUB_ACTOR, or the OS user).
    #[arg(long, global = true, value_name = "NAME")]
    pub actor: Option<String>,

    /// The environment commands act on (secrets, state, deploy, traffic,
    /// revisions, rollback, audit, history, serve, pack commands).
    #[arg(
        long = "env",
        global = true,
        env = "ENVPACK_ENV",
        value_name = "NAME",
        default_value = "local",
        add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments)
    )]
    pub env: String,

    /// What to do.
    #[command(subcommand)]
    pub command: Command,

    /// Whether `--env` was on the command line (set after parsing).
    #[arg(skip)]
    pub env_given: bool,
}

/// Top-level commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build, inspect, install and verify packs.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack pack build packs/my-pack\n  envpack pack install my-pack-1.0.0.wasm\n  envpack pack list"
    )]
    Pack(PackCommand),
    /// Create, bind, inspect and check environments.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack env init staging --after dev\n  envpack env show staging\n  envpack env bind staging state greentic.state.fs\n  envpack env doctor staging"
    )]
    Env(EnvCommand),
    /// Read and write the environment's secrets (through its secrets pack).
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack secrets put --env dev API_KEY --from-file key.txt\n  envpack secrets list --env dev\n  envpack secrets rm --env dev API_KEY"
    )]
    Secrets(SecretsCommand),
    /// Read and write the environment's state (through its state pack).
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack state put --env dev app/mode blue\n  envpack state get --env dev app/mode\n  envpack state list --env dev app/"
    )]
    State(StateCommand),
    /// Build and verify immutable release bundles.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack bundle build ./dist --name web --version 1.4.0 --source release-tag --ref v1.4.0\n  envpack bundle sign web-1.4.0.bundle.tgz --key release.key\n  envpack bundle verify web-1.4.0.bundle.tgz"
    )]
    Bundle(BundleCommand),
    /// Deploy a release bundle to an environment as a new revision.
    #[command(
        after_help = "Examples:\n  envpack deploy web-1.4.0.bundle.tgz --env dev\n  envpack deploy web-1.4.0.bundle.tgz --env dev --dry-run\n  envpack deploy oci://registry.acme.example/envpack/web@sha256:41d0... --env dev\n\nThe environment's policy is checked first; the deployer pack plans, the plan is\nshown and recorded, then applied and health-checked. The first revision of a\ndeployment gets 100% of traffic, later ones 0% until `envpack traffic set`."
    )]
    Deploy(DeployArgs),
    /// List, show, drain and archive revisions.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack revisions list --env dev\n  envpack revisions show r0193a --env dev\n  envpack revisions drain r0193a --env dev"
    )]
    Revisions(RevisionsCommand),
    /// Route a deployment's traffic between ready revisions.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack traffic show --env dev\n  envpack traffic set --env dev web r0193a=90% r0193b=10%"
    )]
    Traffic(TrafficCommand),
    /// Deploy the exact bundle running in the previous rung to the next.
    #[command(
        after_help = "Examples:\n  envpack promote sha256:4be1... --to staging\n  envpack promote 4be1c0 --to prod\n\nRefused unless the bundle is deployed and ready in the environment before --to\nin the ladder. Writes a promotion report under envs/<to>/promotions/."
    )]
    Promote(PromoteArgs),
    /// Move a deployment's traffic back through its history.
    #[command(
        after_help = "Examples:\n  envpack rollback --env prod              one step back\n  envpack rollback --env prod --steps 2\n  envpack rollback --env prod --to r0193...  100% to that revision"
    )]
    Rollback(RollbackArgs),
    /// Show the audit log: who changed what, when, with which command.
    #[command(
        after_help = "Examples:\n  envpack audit --env prod\n  envpack audit --all --by release-bot --since 24h\n  envpack audit --env prod --verb env.policy\n  envpack --json audit --env prod --since 2026-12-01T00:00:00Z\n\nThe actor is --actor, else ENVPACK_ACTOR, else a CI variable (GITHUB_ACTOR,\nGITLAB_USER_LOGIN, BUILDKITE_BUILD_CREATOR, CI_JOB_ID), else the OS user."
    )]
    Audit(AuditArgs),
    /// Compare envpack.toml with the environments the home records.
    #[command(
        after_help = "Examples:\n  envpack plan\n  envpack plan --file deploy/envpack.toml\n  envpack plan --schema\n\nenvpack.toml is found upward from the working directory, like Cargo.toml.\nExit codes: 0 no changes, 2 changes to apply (ok envelope), others as usual."
    )]
    Plan(EnvFileArgs),
    /// Make the recorded environments match envpack.toml (audited;
    /// production changes confirmed).
    #[command(
        after_help = "Examples:\n  envpack apply --dry-run\n  envpack apply\n  envpack apply --yes            (production changes, in a pipeline)\n\nCreates missing environments, then sets policy, bindings and config, each\nenvironment after its previous rung. Environments not in the file are left alone."
    )]
    Apply(EnvFileArgs),
    /// Show an environment's history: deployments, traffic changes,
    /// rollbacks; or, given an artifact, what reality showed of it.
    #[command(
        after_help = "Examples:\n  envpack history --env prod --last 20\n  envpack history index.html --env prod\n  envpack history config/app.toml@9f86d081884c7d65... --env prod\n\nWith ARTIFACT (a payload path, optionally @SHA256): when each content first and\nlast appeared in reality, in which revisions and snapshots, whether any bundle of\nthe environment carried it (reviewed), and whether it was there before the last\npromotion."
    )]
    History(HistoryArgs),
    /// Ask the deployer what really runs; keep it as a snapshot with the
    /// expectation it was compared with.
    #[command(
        after_help = "Examples:\n  envpack observe --env dev\n  envpack --json observe --env prod\n\nIdentical consecutive observations are one snapshot seen over a time range. An\nobservation that fails is kept as unobservable, never as in sync. Exit codes as\n`envpack drift`: 0 in sync (or all drift accepted), 2 drift, 1 unobservable."
    )]
    Observe,
    /// List the environment's snapshots, or show one.
    #[command(
        after_help = "Examples:\n  envpack snapshots --env dev\n  envpack snapshots show 3f2a9c --env dev"
    )]
    Snapshots {
        #[command(subcommand)]
        command: Option<SnapshotsCommand>,
    },
    /// Compare reality with expectation, and expectation with intent; or
    /// accept drift with a reason.
    #[command(
        after_help = "Examples:\n  envpack drift --env dev\n  envpack drift accept 1a2b3c4d5e6f --reason \"hotfix INC-42, to be released\" --env prod\n\nObserves first, then lists every difference: missing (expected, not observed),\nunexpected (observed, not expected), changed (expected and observed values side\nby side). Exit codes like terraform plan -detailed-exitcode: 0 no drift (or all\ndrift accepted), 2 drift, 1 the environment could not be observed."
    )]
    Drift {
        /// Every environment: a matrix of environments x deployments, one
        /// drift state per cell.
        #[arg(long)]
        all: bool,
        #[command(subcommand)]
        command: Option<DriftCommand>,
    },
    /// A revision's output.
    #[command(
        after_help = "Examples:\n  envpack logs r1a23e --env local\n  envpack logs r1a23e --env local --tail 50\n  envpack logs r1a23e --env local -f\n\nThe local runtime keeps what each revision's process writes; deployers that do\nnot run revisions on this machine have no output envpack can read."
    )]
    Logs {
        /// Revision id or unique prefix.
        revision: String,
        /// Only the last N lines.
        #[arg(long, value_name = "N")]
        tail: Option<usize>,
        /// Keep printing what the revision writes, until interrupted.
        #[arg(short, long)]
        follow: bool,
    },
    /// The overview: per environment and deployment, what runs, what was
    /// observed, health, traffic and drift.
    #[command(
        after_help = "Examples:\n  envpack status --env prod\n  envpack status --all\n  envpack status --env dev --watch\n\nObserves and health-checks first (so it takes as long as the deployer's answers).\nEnvironments come in ladder order (each after the rung it follows)."
    )]
    Status {
        /// Every environment, in ladder order.
        #[arg(long)]
        all: bool,
        /// Print the status again whenever a record of the environment(s)
        /// changes (any home sharing the backend), until interrupted; with
        /// --json, one envelope per line.
        #[arg(long)]
        watch: bool,
    },
    /// Where the home's environments are kept: the files of the home, or
    /// a PostgreSQL database a team shares.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack backend show\n  envpack backend set 'postgres://envpack@db:5432/envpack' --password-file pw.txt\n  envpack backend migrate\n  envpack backend copy --from fs --to 'postgres://envpack@db:5432/envpack' --password-file pw.txt\n  envpack backend set fs"
    )]
    Backend(BackendCommand),
    /// The OCI registries packs are pulled from and pushed to.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack registry add acme oci://registry.acme.example/envpack --username ci --password-env ACME_REGISTRY_PASSWORD\n  envpack registry list\n  envpack pack push dist/acme.state.memory-1.2.0.wasm acme\n  envpack pack install acme.state.memory@^1.2"
    )]
    Registry(RegistryCommand),
    /// Run the HTTP router in front of the environment's deployments.
    #[command(
        after_help = "Examples:\n  envpack serve --env local\n  envpack serve --env dev --listen 0.0.0.0:8080\n  envpack serve --env dev --trust-revision-header-from 127.0.0.1/32\n\nRoutes by host and path prefix (bundle attributes `host`, `prefix`), then by the\nx-envpack-revision header (only from --trust-revision-header-from networks; none\nby default), a signed sticky cookie, or a weighted random choice following the\ncurrent traffic split. At --max-connections, new connections wait in the listen\nbacklog."
    )]
    Serve(ServeArgs),
    /// Serve the web dashboard: the ladder, deployments, traffic, drift,
    /// audit and packs, live.
    #[command(
        after_help = "Examples:\n  envpack ui                                   (http://127.0.0.1:8470)\n  envpack ui --listen 127.0.0.1:0              (any free port)\n  envpack ui --listen 0.0.0.0:8470 --token-file ~/.config/envpack/ui-token\n\nLoopback only unless --token-file is given; then every request needs the token\n(Authorization: Bearer, or open http://HOST:PORT/?token=... once for a cookie).\nThe JSON API behind the page is documented in docs/ui-api.md."
    )]
    Ui(UiArgs),
    /// Print a shell completion script.
    #[command(
        after_help = "Examples:\n  envpack completions bash > ~/.local/share/bash-completion/completions/envpack\n  envpack completions zsh > ~/.zfunc/_envpack"
    )]
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// A command contributed by a pack bound in the environment.
    #[command(external_subcommand)]
    External(Vec<String>),
}

/// `envpack secrets ...`
#[derive(Debug, Subcommand)]
pub enum SecretsCommand {
    /// Store a secret: from VALUE, --from-file, or standard input.
    #[command(
        after_help = "Examples:\n  envpack secrets put --env dev API_KEY s3cr3t\n  envpack secrets put --env dev TLS_KEY --from-file key.pem\n  printf %s \"$TOKEN\" | envpack secrets put --env dev TOKEN\n  envpack secrets put --env dev TOKEN       (at a terminal: asks, without echo)"
    )]
    Put {
        /// The secret's name.
        key: String,
        /// The value (prefer --from-file or stdin: arguments show up in shell history).
        value: Option<String>,
        /// Read the value from a file.
        #[arg(long, value_name = "FILE", conflicts_with = "value")]
        from_file: Option<PathBuf>,
        /// Store an empty value (refused otherwise: an empty secret is
        /// usually a mistake).
        #[arg(long)]
        allow_empty: bool,
    },
    /// Print a secret's value.
    #[command(after_help = "Examples:\n  envpack secrets get --env dev API_KEY")]
    Get {
        /// The secret's name.
        key: String,
    },
    /// List secret names (never values).
    #[command(
        after_help = "Examples:\n  envpack secrets list --env dev\n  envpack secrets list --env dev -o name"
    )]
    List,
    /// Remove a secret.
    #[command(
        after_help = "Examples:\n  envpack secrets rm --env dev API_KEY\n  envpack secrets rm --env prod API_KEY --dry-run"
    )]
    Rm {
        /// The secret's name.
        key: String,
    },
    /// Whom the environment's sealed secrets (greentic.secrets.sealed) are
    /// encrypted for; every change re-encrypts every secret.
    #[command(
        subcommand,
        after_help = "Examples:\n  envpack secrets recipients list --env prod\n  envpack secrets recipients add --env prod --mine\n  envpack secrets recipients rm --env prod age1..."
    )]
    Recipients(RecipientsCommand),
}

/// `envpack secrets recipients ...`
#[derive(Debug, Subcommand)]
pub enum RecipientsCommand {
    /// Add an age public key, or this home's own (--mine, creating its
    /// identity), and re-encrypt every secret for the new set.
    #[command(
        after_help = "Examples:\n  envpack secrets recipients add --env prod --mine\n  envpack secrets recipients add --env prod age1qyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqszqgpqyqs3290gq\n\nThis home's identity lives in ENVPACK_HOME/config/age-identity.txt and never\nleaves it; another operator gives you their public key (recipients list)."
    )]
    Add {
        /// The public key (age1...).
        #[arg(required_unless_present = "mine", conflicts_with = "mine")]
        recipient: Option<String>,
        /// This home's public key.
        #[arg(long)]
        mine: bool,
    },
    /// Remove a recipient and re-encrypt every secret without it, so its
    /// identity opens none of them.
    #[command(after_help = "Examples:\n  envpack secrets recipients rm --env prod age1...")]
    Rm {
        /// The public key (age1...).
        recipient: String,
    },
    /// List the recipients (this home's marked).
    #[command(after_help = "Examples:\n  envpack secrets recipients list --env prod")]
    List,
}

/// `envpack state ...`
#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Write a value, optionally only if the key is at a generation.
    #[command(
        after_help = "Examples:\n  envpack state put --env dev app/mode blue\n  envpack state put --env dev app/mode green --expect-generation 1\n  envpack state put --env dev app/lock me --expect-absent"
    )]
    Put {
        /// The key.
        key: String,
        /// The value.
        value: String,
        /// Only if the key is at this generation (compare-and-swap).
        #[arg(long, value_name = "N")]
        expect_generation: Option<u64>,
        /// Only if the key does not exist.
        #[arg(long, conflicts_with = "expect_generation")]
        expect_absent: bool,
    },
    /// Print a value.
    #[command(
        after_help = "Examples:\n  envpack state get --env dev app/mode\n  envpack --json state get --env dev app/mode"
    )]
    Get {
        /// The key.
        key: String,
    },
    /// List keys, optionally under a prefix.
    #[command(
        after_help = "Examples:\n  envpack state list --env dev\n  envpack state list --env dev app/"
    )]
    List {
        /// Only keys starting with this.
        #[arg(default_value = "")]
        prefix: String,
    },
    /// Remove a key.
    #[command(
        after_help = "Examples:\n  envpack state rm --env dev app/mode\n  envpack state rm --env dev app/lock --expect-generation 3"
    )]
    Rm {
        /// The key.
        key: String,
        /// Only if the key is at this generation.
        #[arg(long, value_name = "N")]
        expect_generation: Option<u64>,
    },
}

mod backend;
mod deployment;
mod env;
mod pack;
mod registry;

pub use backend::*;
pub use deployment::*;
pub use env::*;
pub use pack::*;
pub use registry::*;

/// `envpack ui`: where to listen, and the token another address needs.
#[derive(Debug, Args)]
pub struct UiArgs {
    /// Address to listen on (loopback unless --token-file is given).
    #[arg(long, default_value = "127.0.0.1:8470")]
    pub listen: std::net::SocketAddr,
    /// A file holding the token every request must carry (at least 16
    /// characters); required for a non-loopback --listen.
    #[arg(long, value_name = "FILE")]
    pub token_file: Option<PathBuf>,
}

/// `envpack serve`: where to listen, the client limits and header trust.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8080")]
    pub listen: std::net::SocketAddr,
    /// Peers that may pick a revision with the x-envpack-revision header: a
    /// CIDR network or an address (repeatable). None by default, loopback
    /// included (behind a local reverse proxy every client is loopback).
    #[arg(long, value_name = "CIDR", value_parser = crate::local::ingress::trust::parse_net)]
    pub trust_revision_header_from: Vec<ipnet::IpNet>,
    /// Time a client has to send a request head; also how long a kept-alive
    /// connection may sit idle.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = humantime::parse_duration)]
    pub header_timeout: std::time::Duration,
    /// Time from a request head to the response head (request body and the
    /// revision's answer included); past it, 504.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub request_timeout: std::time::Duration,
    /// Time one write to a client may wait for it to read (a client that
    /// leaves a response unread); past it the connection is closed.
    #[arg(long, value_name = "DURATION", default_value = "60s", value_parser = humantime::parse_duration)]
    pub send_timeout: std::time::Duration,
    /// Connections served at once; more wait in the listen backlog. Default:
    /// half the open-file limit less 32, at most 1024.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_connections: Option<u32>,
    /// Fix the random choices (for reproducible tests).
    #[arg(long, hide = true, env = "ENVPACK_INGRESS_SEED")]
    pub seed: Option<u64>,
}

#[cfg(test)]
mod help_tests {
    use clap::CommandFactory;

    /// Every help page, groups included, shows examples.
    #[test]
    fn every_help_page_has_examples() {
        fn walk(cmd: &clap::Command, path: String, missing: &mut Vec<String>) {
            let help = cmd
                .get_after_help()
                .map(|h| h.to_string())
                .unwrap_or_default()
                + &cmd
                    .get_after_long_help()
                    .map(|h| h.to_string())
                    .unwrap_or_default();
            if !help.contains("Examples:") && cmd.get_name() != "help" {
                missing.push(path.clone());
            }
            for sub in cmd.get_subcommands() {
                walk(sub, format!("{path} {}", sub.get_name()), missing);
            }
        }
        let mut missing = Vec::new();
        walk(&super::Cli::command(), "envpack".into(), &mut missing);
        assert!(
            missing.is_empty(),
            "{} help pages without examples: {missing:#?}",
            missing.len()
        );
    }
}
