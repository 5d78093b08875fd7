//! `envpack pack ...`: building, installing, calling, testing and
//! developing packs.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `envpack pack ...`
#[derive(Debug, Subcommand)]
pub enum PackCommand {
    /// Build a pack crate for wasm32-wasip2 and embed its manifest.
    #[command(
        after_help = "Examples:\n  envpack pack build\n  envpack pack build packs/my-pack --out dist/"
    )]
    Build(BuildArgs),
    /// Print a pack file's manifest without running it.
    #[command(
        after_help = "Examples:\n  envpack pack inspect dist/acme.state.memory-1.2.0.wasm\n  envpack --json pack inspect my.wasm | jq .result.capabilities"
    )]
    Inspect {
        /// The pack file.
        file: PathBuf,
    },
    /// Install packs into the store (verified, then precompiled): files,
    /// oci:// references, or descriptors found in the home's registries.
    #[command(
        after_help = "Examples:\n  envpack pack install dist/*.wasm\n  envpack pack install oci://127.0.0.1:5000/packs/acme.state.memory:1.2.0\n  envpack pack install oci://registry.acme.example/envpack/acme.state.memory@sha256:4be1...\n  envpack pack install acme.state.memory@^1.2\n\nA descriptor already met by an installed pack is left as it is; otherwise each\nregistry (envpack registry list) is asked in turn for the highest matching version\ntag. Every pulled byte is checked against the manifest and layer digests (exit 6\nwhen they differ); the reference and manifest digest are recorded and pinned in\nthe lock of each environment that binds the pack."
    )]
    Install {
        /// Pack files, oci:// references or descriptors.
        #[arg(required = true, value_name = "PACK")]
        packs: Vec<String>,
        /// Plain HTTP to registries that are not on loopback.
        #[arg(long)]
        insecure: bool,
    },
    /// For each pack an environment binds: has the registry tag it was
    /// pulled from moved, and does a registry have a newer version its
    /// requirement accepts? Exit 2 when either (ok envelope).
    #[command(
        after_help = "Examples:\n  envpack pack outdated --env prod\n  envpack --json pack outdated --env dev\n\nA report, never a change: the environment keeps what its lock pins. Exit codes as\n`envpack plan`: 0 nothing to act on, 2 a tag moved or a newer version is available."
    )]
    Outdated,
    /// Push a pack file to an OCI registry as a Wasm artifact.
    #[command(
        after_help = "Examples:\n  envpack pack push dist/acme.state.memory-1.2.0.wasm oci://127.0.0.1:5000/packs/acme.state.memory:1.2.0\n  envpack pack push dist/acme.state.memory-1.2.0.wasm acme      (a registry's name: PREFIX/acme.state.memory:1.2.0)\n\nThe layout of Wasm OCI artifacts (config application/vnd.wasm.config.v0+json, one\napplication/wasm layer), annotated with the descriptor (dev.envpack.descriptor) and\nAPI version (dev.envpack.api-version). Without a tag, the pack's version is the tag.\nPrints the manifest digest to pin: oci://...@sha256:..."
    )]
    Push {
        /// The pack file.
        file: PathBuf,
        /// `oci://HOST/REPO[:TAG]`, or the name of a registry.
        destination: String,
        /// Plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
    },
    /// List installed packs.
    #[command(after_help = "Examples:\n  envpack pack list\n  envpack pack list -o name")]
    List,
    /// Remove an installed pack version.
    #[command(after_help = "Examples:\n  envpack pack remove acme.state.memory@1.2.0")]
    Remove {
        /// The exact descriptor, e.g. acme.state.memory@1.2.0.
        #[arg(add = clap_complete::engine::ArgValueCompleter::new(crate::cli::complete::descriptors))]
        descriptor: String,
        /// Remove it even though environments are bound to it.
        #[arg(long)]
        force: bool,
    },
    /// Re-hash every installed pack; exit 6 if any was tampered with.
    #[command(
        after_help = "Examples:\n  envpack pack verify\n\nRe-hashes every installed pack and its precompiled artifact; exit 6 on a mismatch."
    )]
    Verify,
    /// Call a pack's exports directly, in one instance (for pack authors
    /// and debugging). Calls are written in WAVE.
    #[command(
        after_help = "Examples:\n  envpack pack call acme.state.memory@^1 'put(\"k\", [104, 105], none)' 'get(\"k\")'\n  envpack pack call ./my.wasm 'command.run(\"memory stats\", [])' --grant-requested\n  envpack pack call acme.secrets.vault 'get(\"x\")' --grant http:vault.internal:8200\n  envpack pack call ./target/envpack/acme.telemetry.hook-0.1.0.wasm 'flush()' --secret HOOK_TOKEN --grant-requested --config url=http://127.0.0.1:9000/\n\nOutside any environment: kv is kept under the home's packs/, secrets are only those given with --secret, config only --config."
    )]
    Call(CallArgs),
    /// Run the conformance suite of a pack's slot (and of its commands):
    /// every rule of the contract, each case pass or fail with what the
    /// pack did. Exit 10 when a case fails.
    #[command(
        after_help = "Examples:\n  envpack pack test\n  envpack pack test dist/acme.state.memory-1.2.0.wasm --junit conformance.xml\n  envpack --json pack test packs/my-pack --slot commands\n  envpack pack test greentic.state.fs\n\nThe pack runs in the sandbox with what its manifest requests granted, its kv and\nscratch directory in a temporary directory; no environment is touched."
    )]
    Test(TestArgs),
    /// Create a new pack crate for a slot (or a command-only pack) that
    /// builds, installs, runs and passes `cargo test` as generated.
    #[command(
        after_help = "Examples:\n  envpack pack new my-hook --slot telemetry\n  envpack pack new vault --slot secrets --namespace acme --sdk-path ~/src/envpack/sdk\n  envpack pack new tools --slot command --sdk-path ./envpack-sdk-0.1.0   (an unpacked envpack-sdk crate)\n\nenvpack-sdk is not on crates.io: the crate depends on it by path (--sdk-path, else the\nenvpack checkout around the new crate, else the one this binary was built from)."
    )]
    New(NewArgs),
    /// Build a pack crate as a dev version, install it, and rebind it in a
    /// non-production environment (--env), keeping its grants; --watch
    /// repeats that on every change.
    #[command(
        after_help = "Examples:\n  envpack pack dev . --env dev\n  envpack pack dev ./my-hook --env dev --watch\n  envpack pack dev ./my-hook --env dev --grant-requested\n\nA dev version is <version>-dev.<hex of the build's sha256>: no requirement without a\npre-release (@1.2.0, @^1) resolves to it, and production environments refuse it. `pack list`\nmarks dev builds; each dev install removes the pack's older dev builds that nothing binds."
    )]
    Dev(DevArgs),
}

/// `envpack pack test`
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A pack file (.wasm), a pack crate directory (built first, like `pack
    /// build`), or an installed pack's requirement.
    #[arg(default_value = ".")]
    pub pack: String,
    /// The suite: state, secrets, telemetry, deployer or commands (default:
    /// the pack's slot, plus commands when it declares any). Repeatable.
    #[arg(long = "slot", value_name = "SUITE")]
    pub slots: Vec<String>,
    /// Also write the cases as JUnit XML to FILE, for CI.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Set a config value the pack reads (repeatable).
    #[arg(long = "config", value_name = "KEY=VALUE")]
    pub config: Vec<String>,
    /// A secret the pack may read or have attached as a credential
    /// (repeatable).
    #[arg(long = "secret", value_name = "NAME=VALUE")]
    pub secrets: Vec<String>,
    /// An attribute of the deployer suite's test bundle (repeatable), for
    /// settings the target needs, e.g. image=registry.example/web@sha256:...
    #[arg(long = "attr", value_name = "KEY=VALUE")]
    pub attributes: Vec<String>,
    /// Build a crate directory with the dev profile.
    #[arg(long)]
    pub debug: bool,
    /// Cargo's target directory, for a crate directory.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `envpack pack dev`
#[derive(Debug, Args)]
pub struct DevArgs {
    /// The pack crate directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// Rebuild, reinstall and rebind whenever a file of the crate changes
    /// (until interrupted).
    #[arg(long)]
    pub watch: bool,
    /// Grant a capability in the environment (repeatable).
    #[arg(long = "grant", value_name = "CAP")]
    pub grants: Vec<String>,
    /// Grant everything the pack requests.
    #[arg(long)]
    pub grant_requested: bool,
    /// Cargo's target directory.
    #[arg(long, value_name = "DIR")]
    pub target_dir: Option<PathBuf>,
}

/// `envpack pack new`
#[derive(Debug, Args)]
pub struct NewArgs {
    /// The pack's name: the last part of its descriptor, and the new
    /// crate's directory.
    pub name: String,
    /// The slot it fills: deployer, secrets, telemetry or state; or
    /// `command` for a pack that fills no slot and only adds commands.
    #[arg(long)]
    pub slot: String,
    /// The descriptor's namespace (your organisation).
    #[arg(long, default_value = "local")]
    pub namespace: String,
    /// Create the crate's directory under DIR.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub dir: PathBuf,
    /// The SDK to depend on: the sdk/ directory of an envpack checkout, or
    /// an unpacked envpack-sdk-X.Y.Z.crate (`cargo package -p envpack-sdk`).
    #[arg(long, value_name = "DIR")]
    pub sdk_path: Option<PathBuf>,
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
    /// Give the pack a secret (repeatable): NAME=VALUE, or NAME alone to
    /// take the value from the environment variable NAME (kept out of
    /// shell history). Reading it still needs its grant: --grant
    /// secret:NAME (or credential:NAME for a header the host fills in).
    #[arg(long = "secret", value_name = "NAME[=VALUE]")]
    pub secrets: Vec<String>,
}
