//! The SQL behind each [`Backend`](crate::backend::Backend) method.

use envpack_manifest::Digest;
use tokio_postgres::Client;

use super::conn::{CHANNEL, Conn, db_error};
use crate::backend::{BlobKey, Etag, Precondition, RecordKey};
use crate::error::{Error, Result};
use crate::types::EnvName;

/// A fresh change token (random, as on the filesystem).
fn new_token() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// Runs one job with the schema name and the shown URL at hand.
fn job<T: Send + 'static>(
    conn: &Conn,
    f: impl for<'c> FnOnce(&'c mut Client, String, String) -> super::conn::Job<'c, T> + Send + 'static,
) -> Result<T> {
    let (s, shown) = (
        conn.shared.schema().to_string(),
        conn.shared.shown().to_string(),
    );
    conn.run(move |c| f(c, s, shown))
}

pub fn environments(conn: &Conn) -> Result<Vec<EnvName>> {
    let names: Vec<String> = job(conn, |c, s, shown| {
        Box::pin(async move {
            let rows = c
                .query(&format!("SELECT name FROM {s}.envs ORDER BY name"), &[])
                .await
                .map_err(|e| db_error("list environments", &shown, &e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    })?;
    Ok(names.into_iter().filter_map(|n| n.parse().ok()).collect())
}

pub fn exists(conn: &Conn, env: &EnvName) -> Result<bool> {
    let env = env.to_string();
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let row = c
                .query_opt(&format!("SELECT 1 FROM {s}.envs WHERE name = $1"), &[&env])
                .await
                .map_err(|e| db_error("read an environment", &shown, &e))?;
            Ok(row.is_some())
        })
    })
}

pub fn create(conn: &Conn, env: &EnvName) -> Result<()> {
    let (env, token) = (env.to_string(), new_token());
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            c.execute(
                &format!("INSERT INTO {s}.envs (name, token) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING"),
                &[&env, &token],
            )
            .await
            .map_err(|e| db_error("create an environment", &shown, &e))?;
            Ok(())
        })
    })
}

pub fn remove(conn: &Conn, env: &EnvName) -> Result<()> {
    let env = env.to_string();
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let fail = |e: tokio_postgres::Error| db_error("remove an environment", &shown, &e);
            let tx = c.transaction().await.map_err(fail)?;
            for table in ["records", "journal", "blobs"] {
                tx.execute(&format!("DELETE FROM {s}.{table} WHERE env = $1"), &[&env])
                    .await
                    .map_err(fail)?;
            }
            tx.execute(&format!("DELETE FROM {s}.envs WHERE name = $1"), &[&env])
                .await
                .map_err(fail)?;
            let payload = format!("{s}\tchange\t{env}");
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)
        })
    })
}

/// A record's `column` (`bytes` or `backup`).
pub fn read(
    conn: &Conn,
    env: &EnvName,
    key: &RecordKey,
    column: &'static str,
) -> Result<Option<Vec<u8>>> {
    let (env, key) = (env.to_string(), key.to_string());
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let row = c
                .query_opt(
                    &format!("SELECT {column} FROM {s}.records WHERE env = $1 AND key = $2"),
                    &[&env, &key],
                )
                .await
                .map_err(|e| db_error("read a record", &shown, &e))?;
            Ok(row.and_then(|r| r.get::<_, Option<Vec<u8>>>(0)))
        })
    })
}

fn conflict(key: &str, env: &str) -> Error {
    Error::conflict(format!(
        "{key} of environment {env} changed since it was read; nothing was written"
    ))
    .hint("run the command again")
}

pub fn write(
    conn: &Conn,
    env: &EnvName,
    key: &RecordKey,
    bytes: &[u8],
    condition: Precondition,
) -> Result<Etag> {
    let etag = Etag::of(bytes);
    let (env_s, key_s, bytes, tag, token) = (
        env.to_string(),
        key.to_string(),
        bytes.to_vec(),
        etag.to_string(),
        new_token(),
    );
    let written = job(conn, move |c, s, shown| {
        Box::pin(async move {
            let fail = |e: tokio_postgres::Error| db_error("write a record", &shown, &e);
            let tx = c.transaction().await.map_err(fail)?;
            // The environment's row is the write lock of all its records:
            // concurrent writers of one environment queue here.
            tx.execute(
                &format!(
                    "INSERT INTO {s}.envs (name, token) VALUES ($1, $2)
                     ON CONFLICT (name) DO UPDATE SET token = EXCLUDED.token"
                ),
                &[&env_s, &token],
            )
            .await
            .map_err(fail)?;
            let old: Option<Vec<u8>> = tx
                .query_opt(
                    &format!("SELECT bytes FROM {s}.records WHERE env = $1 AND key = $2"),
                    &[&env_s, &key_s],
                )
                .await
                .map_err(fail)?
                .map(|r| r.get(0));
            let holds = match (&condition, &old) {
                (Precondition::Any, _) | (Precondition::Absent, None) => true,
                (Precondition::Matches(want), Some(old)) => &Etag::of(old) == want,
                _ => false,
            };
            if !holds {
                return Ok(false);
            }
            match old {
                None => {
                    tx.execute(
                        &format!(
                            "INSERT INTO {s}.records (env, key, bytes, etag, generation) VALUES ($1, $2, $3, $4, 1)"
                        ),
                        &[&env_s, &key_s, &bytes, &tag],
                    )
                    .await
                }
                Some(old) => {
                    // A damaged document never replaces a good backup.
                    let good = serde_json::from_slice::<serde_json::Value>(&old).is_ok();
                    let backup = good.then_some(old);
                    tx.execute(
                        &format!(
                            "UPDATE {s}.records SET bytes = $3, etag = $4, generation = generation + 1,
                                backup = COALESCE($5, backup), updated_at = now()
                             WHERE env = $1 AND key = $2"
                        ),
                        &[&env_s, &key_s, &bytes, &tag, &backup],
                    )
                    .await
                }
            }
            .map_err(fail)?;
            let payload = format!("{s}\tchange\t{env_s}");
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &payload])
                .await
                .map_err(fail)?;
            tx.commit().await.map_err(fail)?;
            Ok(true)
        })
    })?;
    if written {
        Ok(etag)
    } else {
        Err(conflict(&key.to_string(), env.as_str()))
    }
}

pub fn deployments(conn: &Conn, env: &EnvName) -> Result<Vec<String>> {
    let env = env.to_string();
    let keys: Vec<String> = job(conn, move |c, s, shown| {
        Box::pin(async move {
            let rows = c
                .query(
                    &format!("SELECT key FROM {s}.records WHERE env = $1 AND key LIKE 'deployments/%' ORDER BY key"),
                    &[&env],
                )
                .await
                .map_err(|e| db_error("list deployments", &shown, &e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    })?;
    let mut out: Vec<String> = keys
        .iter()
        .filter_map(|k| k.strip_prefix("deployments/")?.strip_suffix(".json"))
        .map(str::to_string)
        .collect();
    out.sort();
    Ok(out)
}

/// Appends to an environment's journal, or to the home audit (`env` none).
pub fn append(
    conn: &Conn,
    env: Option<&EnvName>,
    journal: &'static str,
    line: &[u8],
) -> Result<()> {
    let (env, line) = (env.map(EnvName::to_string), line.to_vec());
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let r = match &env {
                Some(env) => {
                    c.execute(
                        &format!(
                            "INSERT INTO {s}.journal (env, journal, line) VALUES ($1, $2, $3)"
                        ),
                        &[env, &journal, &line],
                    )
                    .await
                }
                None => {
                    c.execute(
                        &format!("INSERT INTO {s}.home_audit (line) VALUES ($1)"),
                        &[&line],
                    )
                    .await
                }
            };
            r.map_err(|e| db_error(&format!("append to the {journal} journal"), &shown, &e))?;
            Ok(())
        })
    })
}

pub fn lines(conn: &Conn, env: Option<&EnvName>, journal: &'static str) -> Result<Vec<Vec<u8>>> {
    let env = env.map(EnvName::to_string);
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let rows = match &env {
                Some(env) => {
                    c.query(
                        &format!("SELECT line FROM {s}.journal WHERE env = $1 AND journal = $2 ORDER BY id"),
                        &[env, &journal],
                    )
                    .await
                }
                None => c.query(&format!("SELECT line FROM {s}.home_audit ORDER BY id"), &[]).await,
            }
            .map_err(|e| db_error(&format!("read the {journal} journal"), &shown, &e))?;
            Ok(rows.iter().map(|r| r.get(0)).collect())
        })
    })
}

fn blob_parts(key: &BlobKey) -> (&'static str, String) {
    match key {
        BlobKey::Bundle(d) => ("bundle", d.hex()),
        BlobKey::BundleSignature(d) => ("signature", d.hex()),
        BlobKey::Promotion(n) => ("promotion", n.clone()),
        BlobKey::Snapshot(d) => ("snapshot", d.hex()),
        BlobKey::Artifact(d) => ("artifact", d.hex()),
    }
}

fn blob_key(kind: &str, name: &str) -> Option<BlobKey> {
    let digest = || format!("sha256:{name}").parse::<Digest>().ok();
    Some(match kind {
        "bundle" => BlobKey::Bundle(digest()?),
        "signature" => BlobKey::BundleSignature(digest()?),
        "promotion" => BlobKey::Promotion(name.to_string()),
        "snapshot" => BlobKey::Snapshot(digest()?),
        "artifact" => BlobKey::Artifact(digest()?),
        _ => return None,
    })
}

pub fn put_blob(conn: &Conn, env: &EnvName, key: &BlobKey, bytes: &[u8]) -> Result<()> {
    let (kind, name) = blob_parts(key);
    let (env, bytes, sha) = (env.to_string(), bytes.to_vec(), Digest::of(bytes).hex());
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            c.execute(
                &format!(
                    "INSERT INTO {s}.blobs (env, kind, name, sha256, bytes) VALUES ($1, $2, $3, $4, $5)
                     ON CONFLICT (env, kind, name) DO NOTHING"
                ),
                &[&env, &kind, &name, &sha, &bytes],
            )
            .await
            .map_err(|e| db_error("store a blob", &shown, &e))?;
            Ok(())
        })
    })
}

/// A blob, its bytes checked against the sha256 recorded with them.
pub fn blob(conn: &Conn, env: &EnvName, key: &BlobKey) -> Result<Option<Vec<u8>>> {
    let (kind, name) = blob_parts(key);
    let (env_s, name_q) = (env.to_string(), name.clone());
    let row: Option<(String, Vec<u8>)> = job(conn, move |c, s, shown| {
        Box::pin(async move {
            let row = c
                .query_opt(
                    &format!("SELECT sha256, bytes FROM {s}.blobs WHERE env = $1 AND kind = $2 AND name = $3"),
                    &[&env_s, &kind, &name_q],
                )
                .await
                .map_err(|e| db_error("read a blob", &shown, &e))?;
            Ok(row.map(|r| (r.get(0), r.get(1))))
        })
    })?;
    let Some((sha, bytes)) = row else {
        return Ok(None);
    };
    let actual = Digest::of(&bytes).hex();
    if actual != sha {
        return Err(Error::integrity(format!(
            "the {kind} blob {name} of environment {env} is damaged in the PostgreSQL backend: its bytes hash to sha256:{actual}, the database recorded sha256:{sha}"
        ))
        .hint(format!("envpack revisions list --env {env} (deploy that bundle file again to restore it)")));
    }
    Ok(Some(bytes))
}

pub fn blobs(conn: &Conn, env: &EnvName) -> Result<Vec<BlobKey>> {
    let env = env.to_string();
    let rows: Vec<(String, String)> = job(conn, move |c, s, shown| {
        Box::pin(async move {
            let rows = c
                .query(
                    &format!("SELECT kind, name FROM {s}.blobs WHERE env = $1 ORDER BY kind, name"),
                    &[&env],
                )
                .await
                .map_err(|e| db_error("list blobs", &shown, &e))?;
            Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
        })
    })?;
    Ok(rows.iter().filter_map(|(k, n)| blob_key(k, n)).collect())
}

pub fn token(conn: &Conn, env: &EnvName) -> Result<String> {
    let env = env.to_string();
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let row = c
                .query_opt(
                    &format!("SELECT token FROM {s}.envs WHERE name = $1"),
                    &[&env],
                )
                .await
                .map_err(|e| db_error("read the change token", &shown, &e))?;
            Ok(row.map(|r| r.get(0)).unwrap_or_default())
        })
    })
}

/// The leases held now: (environment, scope, holder, seconds left).
pub fn leases(conn: &Conn) -> Result<Vec<(String, String, String, f64)>> {
    job(conn, move |c, s, shown| {
        Box::pin(async move {
            let rows = c
                .query(
                    &format!(
                        "SELECT env, scope, who, EXTRACT(EPOCH FROM expires_at - now())::float8
                         FROM {s}.leases ORDER BY env, scope"
                    ),
                    &[],
                )
                .await
                .map_err(|e| db_error("list leases", &shown, &e))?;
            Ok(rows
                .iter()
                .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
                .collect())
        })
    })
}
