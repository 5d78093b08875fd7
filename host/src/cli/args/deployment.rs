//! The clap types of the deployment commands: bundles, deploy, revisions,
//! traffic, promotion, rollback, journals, snapshots and drift.

use clap::{Args, Subcommand};
use std::path::PathBuf;

/// `envpack bundle ...`
#[derive(Debug, Subcommand)]
pub enum BundleCommand {
    /// Pack a payload directory into one immutable bundle file.
    #[command(
        after_help = "Examples:\n  envpack bundle build ./dist --name web --version 1.4.0 --source release-tag --ref v1.4.0 --include-ignored\n  envpack bundle build ./site --name web --version 1.4.0-pr.7 --source feature-branch --ref feat/login --evidence test-report.xml\n  envpack bundle build ./dist --name web --version 1.0.0 --source main --ref main --no-git\n\n--source/--ref (and --commit) are checked against the payload's git repository:\na release tag must exist and point at HEAD, a branch must be checked out, the\ntree must be clean (or --allow-dirty). Outside git, pass --no-git: the bundle\nrecords provenance \"unverified\". .git/ and files .gitignore excludes are left out\nunless --include-ignored. Files that look like secrets are refused unless\n.envpack-allow-secrets or --allow-secret allows them. An existing --out is never\noverwritten without --force; the same tree and flags give the same bundle id.\n\nA Kinetic solution release, in one step (no DIR):\n  envpack --env dev bundle build --from-kinetic CustTracking --name custtracking --version 1.2.0 --source release-tag --ref v1.2.0\nThe environment's kinetic pack backs the solution up, builds and pre-flights it;\nthe package is the payload, the build log, hash, backup and pre-flight verdict\nare required evidence. Provenance is recorded \"unverified\" (a solution lives on\nthe server, not in git)."
    )]
    Build(Box<BundleBuildArgs>),
    /// Check a bundle's manifest, checksums and required evidence.
    #[command(
        after_help = "Examples:\n  envpack bundle verify web-1.4.0.bundle.tgz\n\nExits 6 when the bundle was tampered with or is malformed."
    )]
    Verify {
        /// The bundle file.
        file: PathBuf,
    },
    /// Sign a bundle: writes BUNDLE.sig next to it (ed25519, over the bundle id).
    #[command(
        after_help = "Examples:\n  envpack bundle sign web-1.4.0.bundle.tgz --key release.key\n  envpack secrets put --env ci RELEASE_KEY --from-file release.key\n  envpack bundle sign web-1.4.0.bundle.tgz --env ci --key-secret RELEASE_KEY\n\nThe bundle is verified first. Environments that trust the key's .pub file\n(envpack env policy ENV --trust-key release.key.pub) accept the signature."
    )]
    Sign {
        /// The bundle file.
        bundle: PathBuf,
        /// The private key file (from envpack bundle keygen).
        #[arg(long, value_name = "FILE", required_unless_present = "key_secret")]
        key: Option<PathBuf>,
        /// Read the private key (the key file's text) from this secret of the --env environment's secrets pack.
        #[arg(long, value_name = "NAME", conflicts_with = "key")]
        key_secret: Option<String>,
    },
    /// Push a bundle (and BUNDLE.sig, if signed) to an OCI registry.
    #[command(
        after_help = "Examples:\n  envpack bundle push web-1.4.0.bundle.tgz oci://127.0.0.1:5000/bundles/web:1.4.0\n  envpack bundle push web-1.4.0.bundle.tgz oci://registry.acme.example/envpack/web\n\nThe bundle is verified first. Without a tag, its version is the tag. Prints the\nmanifest digest: pull it elsewhere by that digest (envpack bundle pull\noci://...@sha256:...), deploy it, then promote it by its bundle id."
    )]
    Push {
        /// The bundle file.
        bundle: PathBuf,
        /// `oci://HOST/REPO[:TAG]`.
        destination: String,
        /// Plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
    },
    /// Pull a bundle from an OCI registry: verified, then written with its
    /// signature beside it.
    #[command(
        after_help = "Examples:\n  envpack bundle pull oci://127.0.0.1:5000/bundles/web@sha256:4be1...\n  envpack bundle pull oci://registry.acme.example/envpack/web:1.4.0 --out web.tgz\n  envpack deploy web-1.4.0.bundle.tgz --env dev && envpack promote <BUNDLE ID> --to staging\n\nThe manifest and every layer are checked against their digests (exit 6 when they\ndiffer), the bundle's checksums and id, and the signature that came with it. Whether\nthe signing key is trusted is each environment's policy, checked at deploy."
    )]
    Pull {
        /// `oci://HOST/REPO@sha256:...` (or `:TAG`).
        reference: String,
        /// The bundle file to write (default NAME-VERSION.bundle.tgz here).
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
    },
    /// Make an ed25519 key pair for signing bundles: FILE (private, mode 0600) and FILE.pub.
    #[command(
        after_help = "Examples:\n  envpack bundle keygen --out release.key\n\nKeep release.key secret; give release.key.pub to the environments that should\ntrust it. Existing files are never overwritten."
    )]
    Keygen {
        /// The private key file to write; the public key goes to FILE.pub.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `envpack deploy`
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The bundle file, or `oci://HOST/REPO@sha256:...` (pulled and
    /// verified first, as `bundle pull`).
    #[arg(required_unless_present_any = ["answers", "schema"])]
    pub bundle: Option<PathBuf>,
    /// Plain HTTP to a registry that is not on loopback (an oci:// bundle).
    #[arg(long)]
    pub insecure: bool,
    /// How long warm-up may take, e.g. `90s` or `5m` (default:
    /// ENVPACK_WARM_TIMEOUT_MS, else 30s). A revision whose process exits
    /// fails at once.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub answers: AnswersArgs,
}

/// `--answers` / `--schema`, on every verb.
#[derive(Debug, Args)]
pub struct AnswersArgs {
    /// Take the verb's input from a JSON answers file (see --schema).
    #[arg(long, value_name = "FILE")]
    pub answers: Option<PathBuf>,
    /// Print the JSON schema of the answers file and exit.
    #[arg(long)]
    pub schema: bool,
}

/// `envpack revisions ...`
#[derive(Debug, Subcommand)]
pub enum RevisionsCommand {
    /// List revisions with their state and traffic (archived ones with --all).
    #[command(
        after_help = "Examples:\n  envpack revisions list --env dev\n  envpack revisions list --env prod --deployment web --all\n  envpack revisions list --env dev -o name"
    )]
    List {
        /// Only this deployment (default: all).
        #[arg(long)]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
        deployment: Option<String>,
        /// Archived revisions too.
        #[arg(long)]
        all: bool,
    },
    /// Show one revision and why it failed (--json includes its plan).
    #[command(
        after_help = "Examples:\n  envpack revisions show r0193a --env dev\n  envpack --json revisions show r0193a --env dev --deployment web"
    )]
    Show {
        /// Revision id (or unique prefix).
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::revisions))]
        revision: String,
        /// The deployment (default: the only one).
        #[arg(long)]
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
        deployment: Option<String>,
    },
    /// Stop a revision that no longer receives traffic (ready -> draining -> inactive).
    #[command(
        after_help = "Examples:\n  envpack revisions drain r0193a --env dev\n  envpack revisions drain r0193a --env prod --dry-run"
    )]
    Drain(TransitionArgs),
    /// Retire a revision for good (refused while traffic routes to it).
    #[command(after_help = "Examples:\n  envpack revisions archive r0193a --env dev")]
    Archive(TransitionArgs),
    /// Stop the revisions at 0% past the environment's scale-down delay.
    #[command(
        after_help = "Examples:\n  envpack revisions scale-down --env prod\n  envpack revisions scale-down --env prod --dry-run\n\nTraffic changes, rollbacks, deploys and promotions do this after they succeed;\nrun it from cron to retire revisions between changes. See `envpack env retention`."
    )]
    ScaleDown,
}

/// `envpack traffic ...`
#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// Set the split: weights in percent (99%, 0.5%) or basis points (9900bps), summing to 100%.
    #[command(
        after_help = "Examples:\n  envpack traffic set --env dev web r0193a=99% r0193b=1%\n  envpack traffic set --env dev web r0193a=9900bps r0193b=100bps --idempotency-key deploy-42\n  envpack traffic set --env dev web r0193b=100%\n\nRetrying with the same idempotency key and split replays; the same key with\nanother split is refused."
    )]
    Set(TrafficSetArgs),
    /// Show the current split and generation.
    #[command(
        after_help = "Examples:\n  envpack traffic show --env dev\n  envpack traffic show --env prod web"
    )]
    Show {
        /// The deployment (default: the only one).
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
        deployment: Option<String>,
        /// The same, named as other commands name it.
        #[arg(
            long = "deployment",
            value_name = "NAME",
            conflicts_with = "deployment"
        )]
        deployment_flag: Option<String>,
    },
}

/// `envpack traffic set`
#[derive(Debug, Args)]
pub struct TrafficSetArgs {
    /// The deployment (or --deployment NAME, as other commands take it).
    #[arg(required_unless_present_any = ["answers", "schema", "deployment_flag"])]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
    pub deployment: Option<String>,
    /// The deployment, named as `revisions` and `rollback` name it; the
    /// entries then all follow.
    #[arg(long = "deployment", value_name = "NAME")]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
    pub deployment_flag: Option<String>,
    /// REVISION=WEIGHT entries.
    pub weights: Vec<String>,
    /// Makes retries safe.
    #[arg(long)]
    pub idempotency_key: Option<String>,
    #[command(flatten)]
    pub answers: AnswersArgs,
}

/// `envpack promote`
#[derive(Debug, Args)]
pub struct PromoteArgs {
    /// The bundle id (sha256:... or a unique hex prefix).
    #[arg(required_unless_present_any = ["answers", "schema", "report_schema"])]
    pub bundle_id: Option<String>,
    /// The environment to promote into.
    #[arg(long, required_unless_present_any = ["answers", "schema", "report_schema"])]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::environments))]
    pub to: Option<String>,
    /// How long warm-up may take, e.g. `90s` or `5m` (default:
    /// ENVPACK_WARM_TIMEOUT_MS, else 30s). A revision whose process exits
    /// fails at once.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    /// Print the JSON schema of the promotion report and exit.
    #[arg(long)]
    pub report_schema: bool,
    #[command(flatten)]
    pub answers: AnswersArgs,
}

/// `envpack rollback`
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The deployment (default: the only one).
    #[arg(long)]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
    pub deployment: Option<String>,
    /// Route 100% to this revision.
    #[arg(long, conflicts_with = "steps")]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::revisions))]
    pub to: Option<String>,
    /// How many traffic changes to go back (default 1).
    #[arg(long)]
    pub steps: Option<usize>,
    /// How long re-warming a revision may take, e.g. `90s` or `5m` (default:
    /// ENVPACK_WARM_TIMEOUT_MS, else 30s). A revision whose process exits
    /// fails at once.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub timeout: Option<std::time::Duration>,
    #[command(flatten)]
    pub answers: AnswersArgs,
}

/// `envpack snapshots ...`
#[derive(Debug, Subcommand)]
pub enum SnapshotsCommand {
    /// One snapshot: what was observed and what was expected.
    #[command(after_help = "Examples:\n  envpack snapshots show 3f2a9c --env dev")]
    Show {
        /// Snapshot id or unique hex prefix.
        id: String,
    },
}

/// `envpack drift ...`
#[derive(Debug, Subcommand)]
pub enum DriftCommand {
    /// Accept drift entries: recorded and audited; they stay visible but no
    /// longer fail the exit code until reality changes again.
    #[command(
        after_help = "Examples:\n  envpack drift accept 1a2b3c4d5e6f --reason \"hotfix INC-42, to be released\" --env prod"
    )]
    Accept {
        /// Drift entry ids, as `envpack drift` prints them.
        #[arg(required = true)]
        entries: Vec<String>,
        /// Why the drift is acceptable.
        #[arg(long)]
        reason: String,
    },
}

/// `envpack history`
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// A payload path (`index.html`), optionally `@SHA256`, to trace
    /// through the snapshots.
    pub artifact: Option<String>,
    #[command(flatten)]
    pub journal: JournalArgs,
}

/// `envpack audit` / `envpack history`
#[derive(Debug, Args)]
pub struct JournalArgs {
    /// Only the last N entries.
    #[arg(long, value_name = "N")]
    pub last: Option<usize>,
}

/// `envpack audit`
#[derive(Debug, Args)]
pub struct AuditArgs {
    #[command(flatten)]
    pub journal: JournalArgs,
    /// Every environment, and the home's own log (env init/rm, pack
    /// install/remove), instead of the one --env names.
    #[arg(long)]
    pub all: bool,
    /// Only events by this actor (`--actor` names who is acting).
    #[arg(id = "by", long = "by", value_name = "ACTOR")]
    pub actor: Option<String>,
    /// Only this verb, or verbs under it (`env` matches `env.policy`).
    #[arg(long, value_name = "VERB")]
    pub verb: Option<String>,
    /// Only events at or after this time: RFC 3339, or an age like `2h`.
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Only events before this time: RFC 3339, or an age like `30m`.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
}

/// `envpack bundle build`
#[derive(Debug, Args)]
pub struct BundleBuildArgs {
    /// The payload directory.
    #[arg(required_unless_present_any = ["answers", "schema", "from_kinetic"])]
    pub dir: Option<PathBuf>,
    /// Build a Kinetic solution release instead: back up, build and
    /// pre-flight this solution with the --env environment's kinetic pack.
    #[arg(long, value_name = "SOLUTION", conflicts_with_all = ["dir", "no_git", "allow_dirty", "include_ignored", "evidence", "allow_secrets", "answers", "schema"])]
    pub from_kinetic: Option<String>,
    /// Bundle name.
    #[arg(long, required_unless_present_any = ["answers", "schema"])]
    pub name: Option<String>,
    /// Version (semver).
    #[arg(long, required_unless_present_any = ["answers", "schema"])]
    pub version: Option<String>,
    /// Where the bundle was built from.
    #[arg(long, required_unless_present_any = ["answers", "schema"])]
    pub source: Option<crate::env::SourceKind>,
    /// Branch or tag name.
    #[arg(long = "ref", value_name = "REF", required_unless_present_any = ["answers", "schema"])]
    pub reference: Option<String>,
    /// Commit SHA: must be HEAD (checked; the full SHA is recorded).
    #[arg(long)]
    pub commit: Option<String>,
    /// The payload is not in a git repository: record provenance "unverified".
    #[arg(long)]
    pub no_git: bool,
    /// Build from uncommitted changes (recorded as dirty in the manifest).
    #[arg(long)]
    pub allow_dirty: bool,
    /// Ship files that .gitignore excludes (e.g. build output).
    #[arg(long)]
    pub include_ignored: bool,
    /// Replace an existing --out file.
    #[arg(long)]
    pub force: bool,
    /// Evidence file to include and require (repeatable).
    #[arg(long, value_name = "FILE")]
    pub evidence: Vec<PathBuf>,
    /// Target-specific setting KEY=VALUE (repeatable), e.g. run=./server --port {port}.
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Ship a payload path that looks like a secret anyway (repeatable).
    #[arg(long = "allow-secret", value_name = "PATH")]
    pub allow_secrets: Vec<String>,
    /// The bundle file to write (default: <name>-<version>.bundle.tgz).
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub answers: AnswersArgs,
}

/// `envpack revisions drain|archive`
#[derive(Debug, Args)]
pub struct TransitionArgs {
    /// Revision id (or unique prefix).
    #[arg(required_unless_present_any = ["answers", "schema"])]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::revisions))]
    pub revision: Option<String>,
    /// The deployment (default: the only one).
    #[arg(long)]
    #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::deployments))]
    pub deployment: Option<String>,
    #[command(flatten)]
    pub answers: AnswersArgs,
}
