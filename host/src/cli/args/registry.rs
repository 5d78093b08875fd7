//! `envpack registry ...`: the OCI registries a home pulls packs from.

use std::path::PathBuf;

use clap::{Args, Subcommand};

/// `envpack registry ...`.
#[derive(Debug, Subcommand)]
pub enum RegistryCommand {
    /// Add (or replace) a registry: `pack install DESCRIPTOR` looks for
    /// packs at URL/<ns.slot.name>, tagged with their versions.
    #[command(
        after_help = "Examples:\n  envpack registry add acme oci://registry.acme.example/envpack --username ci --password-env ACME_REGISTRY_PASSWORD\n  envpack registry add local oci://127.0.0.1:5000/packs\n  envpack registry add gh oci://ghcr.io/acme/envpack --token-file ~/.config/envpack/ghcr-token\n\nOnly where a password or token comes from is stored (the variable's name, the\nfile's path), never the secret. Loopback registries (localhost, 127.0.0.1, ::1)\nare spoken to over plain HTTP; others over TLS unless --insecure."
    )]
    Add(RegistryAddArgs),
    /// List the home's registries, in the order they are asked.
    #[command(after_help = "Examples:\n  envpack registry list\n  envpack registry list -o name")]
    List,
    /// Remove a registry (installed packs stay installed).
    #[command(after_help = "Examples:\n  envpack registry rm acme")]
    Rm {
        /// The registry's name.
        name: String,
    },
    /// List a repository's tags.
    #[command(
        after_help = "Examples:\n  envpack registry tags oci://127.0.0.1:5000/packs/acme.state.memory\n  envpack --json registry tags oci://registry.acme.example/envpack/web"
    )]
    Tags {
        /// `oci://HOST/REPO`.
        repository: String,
        /// Plain HTTP to a registry that is not on loopback.
        #[arg(long)]
        insecure: bool,
    },
}

/// `envpack registry add`
#[derive(Debug, Args)]
pub struct RegistryAddArgs {
    /// A name for it: lowercase letters, digits and -.
    pub name: String,
    /// `oci://HOST[:PORT]/PREFIX`.
    pub url: String,
    /// Speak plain HTTP although the host is not loopback.
    #[arg(long)]
    pub insecure: bool,
    /// The user, for basic authentication.
    #[arg(long, value_name = "USER")]
    pub username: Option<String>,
    /// The environment variable holding the password.
    #[arg(
        long,
        value_name = "VAR",
        requires = "username",
        conflicts_with = "password_file"
    )]
    pub password_env: Option<String>,
    /// The file holding the password.
    #[arg(long, value_name = "FILE", requires = "username")]
    pub password_file: Option<PathBuf>,
    /// The environment variable holding a bearer token.
    #[arg(long, value_name = "VAR", conflicts_with_all = ["username", "token_file"])]
    pub token_env: Option<String>,
    /// The file holding a bearer token.
    #[arg(long, value_name = "FILE", conflicts_with = "username")]
    pub token_file: Option<PathBuf>,
}
