//! The schema, versioned: [`MIGRATIONS`] lists every step, applied in order
//! by `envpack backend migrate` inside one transaction under an advisory
//! lock (two operators migrating at once apply each step once). Every
//! process checks the version when it opens the backend and refuses to run
//! against a schema older or newer than the one it was built for.
//!
//! A step is never edited once released; a change is a new step.

use tokio_postgres::Client;

use super::conn::db_error;
use crate::error::{Error, Result};

/// Each step's SQL; `{s}` is the schema. Step `i` brings the schema to
/// version `i + 1`.
pub const MIGRATIONS: &[&str] = &[
    // 1: environments, records with backups and etags, journals, blobs,
    //    leases.
    r#"
CREATE TABLE {s}.envs (
    name       text PRIMARY KEY,
    token      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.records (
    env        text NOT NULL,
    key        text NOT NULL,
    bytes      bytea NOT NULL,
    etag       text NOT NULL,
    generation bigint NOT NULL,
    backup     bytea,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (env, key)
);
CREATE TABLE {s}.journal (
    id      bigserial PRIMARY KEY,
    env     text NOT NULL,
    journal text NOT NULL,
    line    bytea NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX journal_by_env ON {s}.journal (env, journal, id);
CREATE TABLE {s}.home_audit (
    id   bigserial PRIMARY KEY,
    line bytea NOT NULL,
    at   timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE {s}.blobs (
    env    text NOT NULL,
    kind   text NOT NULL,
    name   text NOT NULL,
    sha256 text NOT NULL,
    bytes  bytea NOT NULL,
    PRIMARY KEY (env, kind, name)
);
CREATE TABLE {s}.leases (
    env         text NOT NULL,
    scope       text NOT NULL,
    holder      text NOT NULL,
    holder_pid  integer NOT NULL,
    who         text NOT NULL,
    acquired_at timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    PRIMARY KEY (env, scope)
);
CREATE FUNCTION {s}.append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'envpack journals are append-only: % on % refused', TG_OP, TG_TABLE_NAME;
END $$;
CREATE TRIGGER journal_append_only BEFORE UPDATE ON {s}.journal
    FOR EACH ROW EXECUTE FUNCTION {s}.append_only();
CREATE TRIGGER home_audit_append_only BEFORE UPDATE OR DELETE ON {s}.home_audit
    FOR EACH ROW EXECUTE FUNCTION {s}.append_only();
"#,
];

/// The version this build expects.
pub fn expected() -> i32 {
    i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX)
}

/// The schema's version: 0 when envpack's tables are not there.
pub async fn version(
    c: &impl tokio_postgres::GenericClient,
    schema: &str,
    shown: &str,
) -> Result<i32> {
    let exists = c
        .query_opt(
            "SELECT 1 FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'schema_version'",
            &[&schema],
        )
        .await
        .map_err(|e| db_error("read the schema version", shown, &e))?;
    if exists.is_none() {
        return Ok(0);
    }
    let row = c
        .query_opt(&format!("SELECT version FROM {schema}.schema_version"), &[])
        .await
        .map_err(|e| db_error("read the schema version", shown, &e))?;
    Ok(row.map(|r| r.get::<_, i32>(0)).unwrap_or(0))
}

/// The error for a schema at `found` when this build expects another.
pub fn mismatch(found: i32, shown: &str) -> Option<Error> {
    let want = expected();
    if found == want {
        return None;
    }
    Some(if found < want {
        Error::unavailable(format!(
            "the PostgreSQL backend {shown} has schema version {found}; this envpack expects version {want}"
        ))
        .hint("envpack backend migrate")
    } else {
        Error::unavailable(format!(
            "the PostgreSQL backend {shown} has schema version {found}, newer than the version {want} this envpack understands; another operator migrated it with a newer envpack"
        ))
        .hint("envpack --version (install the envpack release the team uses, then run the command again)")
    })
}

/// What a migration did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Migrated {
    /// The version before.
    pub from: i32,
    /// The version after.
    pub to: i32,
}

/// Applies every missing step, in one transaction.
pub async fn migrate(c: &mut Client, schema: &str, shown: &str) -> Result<Migrated> {
    let fail = |what: &str, e: tokio_postgres::Error| db_error(what, shown, &e);
    let tx = c
        .transaction()
        .await
        .map_err(|e| fail("start a migration", e))?;
    // One migrator at a time per schema, across every operator.
    tx.execute(
        "SELECT pg_advisory_xact_lock(hashtext('envpack-migrate:' || $1))",
        &[&schema],
    )
    .await
    .map_err(|e| fail("lock the schema for migration", e))?;
    tx.batch_execute(&format!(
        "CREATE SCHEMA IF NOT EXISTS {schema};
         CREATE TABLE IF NOT EXISTS {schema}.schema_version (version integer NOT NULL)"
    ))
    .await
    .map_err(|e| fail("create the schema", e))?;
    let from = version(&tx, schema, shown).await?;
    if from > expected() {
        return Err(mismatch(from, shown).unwrap_or_else(|| Error::internal("schema mismatch")));
    }
    for (i, step) in MIGRATIONS
        .iter()
        .enumerate()
        .skip(usize::try_from(from).unwrap_or(0))
    {
        tx.batch_execute(&step.replace("{s}", schema))
            .await
            .map_err(|e| fail(&format!("apply migration {}", i + 1), e))?;
    }
    tx.batch_execute(&format!(
        "DELETE FROM {schema}.schema_version; INSERT INTO {schema}.schema_version VALUES ({})",
        expected()
    ))
    .await
    .map_err(|e| fail("record the schema version", e))?;
    tx.commit()
        .await
        .map_err(|e| fail("commit the migration", e))?;
    Ok(Migrated {
        from,
        to: expected(),
    })
}
