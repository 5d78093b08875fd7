//! The `envpack env` commands and the policy, gate, signing and
//! environment-file flags, as clap types.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `envpack env ...`
#[derive(Debug, Subcommand)]
pub enum EnvCommand {
    /// Create an environment bound to the built-in packs, or heal one.
    #[command(
        after_help = "Examples:\n  envpack env init\n  envpack env init dev\n  envpack env init staging --after dev --allow-source main --allow-source release-tag\n  envpack env init prod --after staging --production --secrets greentic.secrets.sealed@^0.1\n  envpack env init parity --after dev --mode kubernetes\n\nPrints created, healed (what was repaired) or untouched. A local environment\nis bound to the built-in packs; another mode leaves the deployer slot for\nthe deployer that serves it (envpack env bind ENV deployer ...)."
    )]
    Init {
        /// The environment.
        #[arg(value_name = "ENV")]
        name: Option<String>,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Where its revisions run: local (processes here, the default) or
        /// kubernetes (a cluster, through greentic.deployer.k8s).
        #[arg(long, value_name = "MODE")]
        mode: Option<crate::env::Mode>,
        /// Bind the secrets slot to this built-in pack instead of the
        /// default, e.g. greentic.secrets.sealed@^0.1 (production).
        #[arg(long, value_name = "PACK")]
        secrets: Option<envpack_descriptor::Requirement>,
    },
    /// Show or change an environment's mode (where its revisions run).
    #[command(
        after_help = "Examples:\n  envpack env mode dev\n  envpack env mode parity kubernetes\n\nModes: local (processes on this machine, the fast loop) and kubernetes\n(a cluster, production-shaped validation); any other mode names the\ntarget its deployer pack reports. Changing the mode is refused while the\nenvironment has deployments."
    )]
    Mode {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// The new mode.
        #[arg(value_name = "MODE")]
        mode: Option<crate::env::Mode>,
    },
    /// Show an environment's mode, target, readiness and endpoints.
    #[command(
        after_help = "Examples:\n  envpack env status dev\n  envpack --json env status parity"
    )]
    Status {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
    },
    /// Check that an environment is ready; fails closed, naming each fix.
    #[command(
        after_help = "Examples:\n  envpack env validate dev\n  envpack --json env validate parity\n\nChecks the mode against the deployer, the deployer's own checks of its\ntarget (reachability, permissions, routes), every granted secret, the\nobservation, and the health of every revision that carries traffic.\nExits 10 when any check fails."
    )]
    Validate {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
    },
    /// Destroy what an environment runs and recreate it from its records.
    #[command(
        after_help = "Examples:\n  envpack env reset dev\n  envpack env reset parity --timeout 3m\n  envpack env reset prod --dry-run\n\nenv down, then env up: every revision the environment expects is applied\nagain from its recorded plan and warmed, and each deployment's recorded\ntraffic split is applied again."
    )]
    Reset {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
        /// How long each revision's warm-up may take, e.g. `90s`.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// List environments.
    #[command(after_help = "Examples:\n  envpack env list\n  envpack env list -o name")]
    List,
    /// Show an environment's policy, bindings, digests and grants.
    #[command(after_help = "Examples:\n  envpack env show dev\n  envpack --json env show prod")]
    Show {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
    },
    /// Bind a slot to an installed pack (or add a command-only pack), granting its capabilities.
    #[command(
        after_help = "Examples:\n  envpack env bind dev state acme.state.memory@1.2.0 --grant kv --grant log\n  envpack env bind dev state acme.state.memory@^1 --grant-requested\n  envpack env bind dev command acme.command.tools@^0.1 --grant-requested\n\nA command-only pack (slot `command`) fills no slot: an environment binds any\nnumber of them, each under its own id. Every capability the pack requests must be granted; rebinding the same pack\nkeeps earlier grants and prints the capability diff."
    )]
    Bind {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// The slot: deployer, secrets, telemetry, state, kinetic, or `command` for a command-only pack.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::slots))]
        slot: envpack_descriptor::Slot,
        /// The pack requirement, e.g. acme.state.memory@^1.2.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::descriptors))]
        descriptor: String,
        /// Grant a capability (repeatable).
        #[arg(long = "grant", value_name = "CAP")]
        grants: Vec<String>,
        /// Grant everything the pack requests.
        #[arg(long)]
        grant_requested: bool,
    },
    /// Empty a slot, or remove a command-only pack.
    #[command(
        after_help = "Examples:\n  envpack env unbind dev telemetry\n  envpack env unbind prod state --dry-run\n  envpack env unbind dev command acme.command.tools   (a command-only pack, by id or name)"
    )]
    Unbind {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// The slot, or `command` for a command-only pack.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::slots))]
        slot: envpack_descriptor::Slot,
        /// With `command`: the command-only pack, by id (acme.command.tools)
        /// or name (tools).
        pack: Option<String>,
    },
    /// Remove an environment (refused while it holds deployed revisions).
    #[command(
        after_help = "Examples:\n  envpack env rm scratch\n  envpack env rm qa --force      (stops its revisions first)\n  envpack env rm qa --dry-run"
    )]
    Rm {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// Remove even with deployed revisions.
        #[arg(long)]
        force: bool,
    },
    /// Change an environment's deployment policy.
    #[command(
        after_help = "Examples:\n  envpack env policy prod --production --allow-source release-tag\n  envpack env policy staging --after dev\n  envpack env policy dev --no-after\n  envpack env policy prod --trust-key release.key.pub --require-signature --tag-pattern 'v*'\n  envpack env policy prod --untrust-key sha256:4be1...\n\nWith --require-signature, deploy and promote refuse a bundle without a valid\nBUNDLE.sig by a trusted key (envpack bundle sign)."
    )]
    Policy {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        #[command(flatten)]
        policy: PolicyArgs,
        /// Not production.
        #[arg(long, conflicts_with = "production")]
        no_production: bool,
        /// Remove the previous rung.
        #[arg(long, conflicts_with = "after")]
        no_after: bool,
        /// Allow this source too, keeping the others (repeatable).
        #[arg(long = "add-source", value_name = "SOURCE")]
        add_source: Vec<crate::env::SourceKind>,
        /// Stop allowing this source (repeatable).
        #[arg(long = "remove-source", value_name = "SOURCE")]
        remove_source: Vec<crate::env::SourceKind>,
        #[command(flatten)]
        gate: GateArgs,
        #[command(flatten)]
        signing: SigningPolicyArgs,
    },
    /// Stop every running revision of an environment (they stay expected).
    #[command(after_help = "Examples:\n  envpack env down dev\n  envpack env down prod --dry-run")]
    Down {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
    },
    /// Start again the revisions an environment expects to run.
    #[command(after_help = "Examples:\n  envpack env up dev\n  envpack env up dev --timeout 2m")]
    Up {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
        /// How long each revision's warm-up may take, e.g. `90s`.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        timeout: Option<std::time::Duration>,
    },
    /// Check every binding; each finding comes with the command that fixes it.
    #[command(
        after_help = "Examples:\n  envpack env doctor local\n  envpack --json env doctor prod\n\nExits 10 when any finding is an error."
    )]
    Doctor {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
    },
    /// Show or change the quotas each pack gets in an environment.
    #[command(
        after_help = "Examples:\n  envpack env limits dev\n  envpack env limits dev --kv-quota-mb 256 --scratch-quota-mb 1024\n  envpack env limits dev --reset\n\nUnset quotas fall back to ENVPACK_KV_QUOTA_MB / ENVPACK_SCRATCH_QUOTA_MB,\nthen to the defaults (64 MiB of kv values, 256 MiB of scratch per pack)."
    )]
    Limits {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// MiB of kv values each pack may keep.
        #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        kv_quota_mb: Option<u64>,
        /// MiB each pack may keep in its scratch directory.
        #[arg(long, value_name = "MIB", value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
        scratch_quota_mb: Option<u64>,
        /// Back to the host's quotas.
        #[arg(long, conflicts_with_all = ["kv_quota_mb", "scratch_quota_mb"])]
        reset: bool,
    },
    /// Show or change how long revisions at 0% of traffic keep running.
    #[command(
        after_help = "Examples:\n  envpack env retention prod\n  envpack env retention prod --scale-down-delay 10m --keep 1 --yes\n  envpack env retention dev --reset\n\nA revision that drops to 0% keeps running for the delay (default 5m), so a\nrollback is instant; then it stops (inactive), except the --keep newest.\nRevisions never routed to are left alone. Traffic changes, rollbacks, deploys\nand promotions apply it; `envpack revisions scale-down` applies it on demand."
    )]
    Retention {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// How long a revision at 0% keeps running, e.g. `5m`, `30s`, `0s`.
        #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
        scale_down_delay: Option<std::time::Duration>,
        /// How many revisions at 0% stay running anyway, newest first.
        #[arg(long, value_name = "N")]
        keep: Option<u32>,
        /// Back to the defaults (5m, keep 0).
        #[arg(long, conflicts_with_all = ["scale_down_delay", "keep"])]
        reset: bool,
    },
    /// Write envpack.toml for existing environments.
    #[command(
        after_help = "Examples:\n  envpack env export dev staging prod > envpack.toml\n  envpack env export --all --out envpack.toml"
    )]
    Export {
        /// The environments (default: --env).
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        names: Vec<String>,
        /// Every environment of the home.
        #[arg(long, conflicts_with = "names")]
        all: bool,
        /// Write the file here instead of standard output.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Set or unset a pack's non-secret configuration in an environment.
    #[command(
        after_help = "Examples:\n  envpack env config local greentic.telemetry.stdout level debug\n  envpack env config local greentic.telemetry.stdout level --unset"
    )]
    Config {
        /// The environment.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: String,
        /// The pack id, e.g. greentic.telemetry.stdout.
        pack: String,
        /// The key.
        key: String,
        /// The value (omit with --unset).
        #[arg(required_unless_present = "unset")]
        value: Option<String>,
        /// Remove the key.
        #[arg(long)]
        unset: bool,
    },
    /// Print the manifests the deployer would apply for the environment's
    /// revisions (the `manifest` of each step of their recorded plans).
    #[command(
        after_help = "Examples:\n  envpack env render dev\n  envpack env render prod --deployment web > web.yaml\n  envpack --json env render dev\n\nPrints a YAML stream, byte-identical between runs; nothing is called or\nchanged. Only deployers whose plan steps carry a `manifest` attribute\n(greentic.deployer.k8s) have anything to render."
    )]
    Render {
        /// The environment.
        #[arg(value_name = "ENV")]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
        name: Option<String>,
        /// Only this deployment (default: all).
        #[arg(long)]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
        deployment: Option<String>,
    },
}

/// Policy flags shared by `env init` and `env policy`.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The previous rung of the promotion ladder.
    #[arg(long, value_name = "ENV")]
    pub after: Option<String>,
    /// A production environment.
    #[arg(long)]
    pub production: bool,
    /// Allowed deployment source (repeatable).
    #[arg(long = "allow-source", value_name = "SOURCE")]
    pub allow_source: Vec<crate::env::SourceKind>,
    /// Let a production environment keep its secrets in the development
    /// store, unencrypted (refused otherwise; recorded in the audit).
    #[arg(long)]
    pub allow_dev_secrets: bool,
}

/// `envpack plan` / `envpack apply`.
#[derive(Debug, Args)]
pub struct EnvFileArgs {
    /// The file (default: envpack.toml here or in a parent directory).
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Print the JSON schema of envpack.toml and exit.
    #[arg(long)]
    pub schema: bool,
}

/// The release gate flags of `env policy`.
#[derive(Debug, Args)]
pub struct GateArgs {
    /// Promotions must carry this evidence file, by path or glob
    /// (`evidence/sbom.json`, `evidence/*.xml`; repeatable).
    #[arg(long = "require-evidence", value_name = "GLOB")]
    pub require_evidence: Vec<String>,
    /// Stop requiring this evidence (repeatable).
    #[arg(long = "drop-evidence", value_name = "GLOB")]
    pub drop_evidence: Vec<String>,
    /// Promotions need a soak in the previous rung: PERCENT:DURATION of
    /// traffic without a break, observed running (e.g. `10%:30m`).
    #[arg(long, value_name = "PERCENT:DURATION", conflicts_with = "no_soak")]
    pub soak: Option<crate::env::Soak>,
    /// No soak.
    #[arg(long)]
    pub no_soak: bool,
    /// Promotions need the previous rung observed without drift.
    #[arg(long, conflicts_with = "allow_drift")]
    pub require_no_drift: bool,
    /// Promotions do not look at drift.
    #[arg(long)]
    pub allow_drift: bool,
}

/// Signature and tag flags of `env policy`.
#[derive(Debug, Args)]
pub struct SigningPolicyArgs {
    /// Refuse bundles whose provenance was not read from git (built with --no-git, or before it was checked).
    #[arg(long)]
    pub require_provenance: bool,
    /// Accept bundles with unverified provenance again.
    #[arg(long, conflicts_with = "require_provenance")]
    pub no_require_provenance: bool,
    /// Refuse bundles without a valid signature by a trusted key.
    #[arg(long)]
    pub require_signature: bool,
    /// Accept unsigned bundles again.
    #[arg(long, conflicts_with = "require_signature")]
    pub no_require_signature: bool,
    /// Trust the public key in this file (`FILE.pub` of `bundle keygen`; repeatable).
    #[arg(long, value_name = "PUBFILE")]
    pub trust_key: Vec<std::path::PathBuf>,
    /// Stop trusting a key id (sha256:...; repeatable).
    #[arg(long, value_name = "KEYID")]
    pub untrust_key: Vec<String>,
    /// Release-tag bundles must have a tag matching one of these globs, e.g. 'v*' (repeatable; replaces the list).
    #[arg(long, value_name = "GLOB")]
    pub tag_pattern: Vec<String>,
    /// Any tag again.
    #[arg(long, conflicts_with = "tag_pattern")]
    pub any_tag: bool,
    /// What a Kinetic install does when UI layers conflict: `fail` (stop, naming them) or `export-clear-and-retry-once` (export each layer as an artifact, clear it, retry once; every step audited).
    #[arg(long, value_name = "POLICY", value_enum)]
    pub layer_conflicts: Option<LayerConflictsArg>,
}

/// `--layer-conflicts`: the Kinetic layer-conflict policy.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum LayerConflictsArg {
    /// Stop, naming the conflicting layers.
    Fail,
    /// Export each layer as an artifact, clear it, retry once.
    ExportClearAndRetryOnce,
}
