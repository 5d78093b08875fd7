//! `envpack backend ...`: where the home's environments are kept.

use std::path::PathBuf;

use clap::Subcommand;

/// `envpack backend ...`.
#[derive(Debug, Subcommand)]
pub enum BackendCommand {
    /// Show the home's backend: which, where the choice comes from, the
    /// schema version and the leases held (PostgreSQL).
    #[command(
        after_help = "Examples:\n  envpack backend show\n  envpack --json backend show\n  ENVPACK_BACKEND='postgres://ci@db:5432/envpack' envpack backend show\n\nNever shows a password: URLs are printed with it replaced by ***."
    )]
    Show,
    /// Choose the home's backend: `fs` (the files under the home, the
    /// default) or a PostgreSQL URL shared by a team.
    #[command(
        after_help = "Examples:\n  envpack backend set 'postgres://envpack@db.internal:5432/envpack' --password-file ~/.config/envpack/pg-password\n  envpack backend set 'postgres://ci@127.0.0.1:5432/envpack?schema=team_a'   (password from PGPASSWORD)\n  envpack backend set fs\n\nThe URL is stored in the home without any password. `?schema=NAME` picks the\nschema (default envpack). The schema must be migrated: envpack backend migrate."
    )]
    Set {
        /// `fs`, or `postgres://USER@HOST:PORT/DB[?schema=NAME]`.
        backend: String,
        /// A file whose first line is the database password.
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
    /// Create or upgrade the PostgreSQL schema to the version this envpack
    /// expects (safe to run again; one migrator at a time).
    #[command(
        after_help = "Examples:\n  envpack backend migrate\n  ENVPACK_BACKEND='postgres://ci@db:5432/envpack' envpack backend migrate\n\nRun it once after upgrading envpack; every other command refuses an older or\nnewer schema with exit 9 and says which version it found."
    )]
    Migrate,
    /// Copy every environment, journal and blob from one backend into an
    /// empty one, then compare every record.
    #[command(
        after_help = "Examples:\n  envpack backend copy --from fs --to 'postgres://envpack@db:5432/envpack' --password-file pw.txt\n  envpack backend set 'postgres://envpack@db:5432/envpack' --password-file pw.txt\n\nThe home keeps using its backend until `envpack backend set`. An empty target\nschema is migrated first."
    )]
    Copy {
        /// `fs` (this home's files), `current` (the home's backend) or a URL.
        #[arg(long, value_name = "BACKEND")]
        from: String,
        /// `fs` or a URL; must hold nothing yet.
        #[arg(long, value_name = "BACKEND")]
        to: String,
        /// The password file for the PostgreSQL side(s).
        #[arg(long, value_name = "FILE")]
        password_file: Option<PathBuf>,
    },
}
