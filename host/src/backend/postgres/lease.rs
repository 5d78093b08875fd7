//! Leases on PostgreSQL: one row per (environment, scope) with an expiry,
//! renewed while held.
//!
//! A lease is free when its row is absent, when it has expired (its holder
//! stopped renewing: a machine that died or lost the network), or when the
//! server session that took it is gone (`pg_stat_activity` no longer lists
//! its pid: the process was killed and its connection closed). The last
//! rule frees the lease of a `kill -9`ed operator at once instead of after
//! the expiry; the expiry covers what the server cannot see. Records are
//! still compare-and-swap, so even a lease lost while its holder was
//! paused past the expiry cannot lose an update: the late write fails with
//! `conflict`.
//!
//! Waiting is woken by the release notification (and re-checked every
//! [`RECHECK`], since a dead holder sends none).

use std::sync::Arc;
use std::time::Duration;

use super::conn::{CHANNEL, Conn, Shared, db_error};
use crate::backend::{Lease, LockScope};
use crate::error::Result;
use crate::types::EnvName;

/// How long a lease lives without renewal.
pub const TTL: Duration = Duration::from_secs(15);
/// How often a held lease is renewed.
const RENEW_EVERY: Duration = Duration::from_secs(5);
/// How often a waiter checks again without a notification.
const RECHECK: Duration = Duration::from_millis(250);

/// The name a scope's row carries.
pub fn scope_name(scope: LockScope) -> &'static str {
    match scope {
        LockScope::Env => "env",
        LockScope::Deployments => "deployments",
        LockScope::State => "state",
        LockScope::Secrets => "secrets",
    }
}

/// Who holds a lease, for messages and `backend show`.
fn who() -> String {
    let host = std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "?".into());
    format!(
        "{} on {host}, pid {}",
        crate::actor::current().name,
        std::process::id()
    )
}

/// Tries once; the current holder's description when it is taken.
fn try_take(conn: &Conn, env: &str, scope: &str, holder: &str) -> Result<Option<String>> {
    let s = conn.shared.schema().to_string();
    let shown = conn.shared.shown().to_string();
    let (env, scope, holder, who) = (
        env.to_string(),
        scope.to_string(),
        holder.to_string(),
        who(),
    );
    let ttl = TTL.as_secs_f64();
    conn.run(move |c| {
        Box::pin(async move {
            let sql = format!(
                "INSERT INTO {s}.leases (env, scope, holder, holder_pid, who, expires_at)
                 VALUES ($1, $2, $3, pg_backend_pid(), $4, now() + make_interval(secs => $5))
                 ON CONFLICT (env, scope) DO UPDATE SET
                    holder = EXCLUDED.holder, holder_pid = EXCLUDED.holder_pid,
                    who = EXCLUDED.who, acquired_at = now(), expires_at = EXCLUDED.expires_at
                 WHERE {s}.leases.expires_at < now()
                    OR NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = {s}.leases.holder_pid)
                 RETURNING holder"
            );
            let took = c
                .query_opt(&sql, &[&env, &scope, &holder, &who, &ttl])
                .await
                .map_err(|e| db_error("take a lease", &shown, &e))?;
            if took.is_some() {
                return Ok(None);
            }
            let row = c
                .query_opt(
                    &format!("SELECT who FROM {s}.leases WHERE env = $1 AND scope = $2"),
                    &[&env, &scope],
                )
                .await
                .map_err(|e| db_error("read a lease", &shown, &e))?;
            Ok(Some(row.map(|r| r.get(0)).unwrap_or_default()))
        })
    })
}

/// Renews every [`RENEW_EVERY`] until stopped; warns once if the lease was
/// lost (taken over after expiring).
async fn renew(shared: Arc<Shared>, env: String, scope: String, holder: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let s = shared.schema().to_string();
        let shown = shared.shown().to_string();
        let (e, sc, h) = (env.clone(), scope.clone(), holder.clone());
        let ttl = TTL.as_secs_f64();
        let renewed = shared
            .with(move |c| {
                Box::pin(async move {
                    c.execute(
                        &format!(
                            "UPDATE {s}.leases SET expires_at = now() + make_interval(secs => $4),
                                holder_pid = pg_backend_pid()
                             WHERE env = $1 AND scope = $2 AND holder = $3"
                        ),
                        &[&e, &sc, &h, &ttl],
                    )
                    .await
                    .map_err(|err| db_error("renew a lease", &shown, &err))
                })
            })
            .await;
        match renewed {
            Ok(1) => {}
            Ok(_) => {
                tracing::warn!(
                    "the {scope} lease of environment {env} was lost (it expired and another operator took it)"
                );
                return;
            }
            Err(e) => tracing::warn!("cannot renew the {scope} lease of environment {env}: {e}"),
        }
    }
}

/// A held lease: renewed in the background, deleted (and announced) on drop.
struct Held {
    conn: Arc<Conn>,
    env: String,
    scope: String,
    holder: String,
    renewing: Option<tokio::task::JoinHandle<()>>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let Some(task) = self.renewing.take() {
            task.abort();
        }
        let s = self.conn.shared.schema().to_string();
        let shown = self.conn.shared.shown().to_string();
        let (env, scope, holder) = (self.env.clone(), self.scope.clone(), self.holder.clone());
        let payload = format!("{s}\tlease\t{env}");
        let released = self.conn.run(move |c| {
            Box::pin(async move {
                c.execute(
                    &format!(
                        "WITH gone AS (DELETE FROM {s}.leases WHERE env = $1 AND scope = $2 AND holder = $3 RETURNING 1)
                         SELECT pg_notify($4, $5) FROM gone"
                    ),
                    &[&env, &scope, &holder, &CHANNEL, &payload],
                )
                .await
                .map_err(|e| db_error("release a lease", &shown, &e))
            })
        });
        if let Err(e) = released {
            // It expires on its own.
            tracing::warn!("{e} (the lease expires within {}s)", TTL.as_secs());
        }
    }
}

/// Takes the lease of `scope` on `env`, waiting until it is free.
pub fn acquire(conn: &Arc<Conn>, env: &EnvName, scope: LockScope) -> Result<Lease> {
    let holder = format!("{:032x}", rand::random::<u128>());
    let scope_s = scope_name(scope);
    let mut announced = false;
    loop {
        let seen = conn.shared.signals.count();
        match try_take(conn, env.as_str(), scope_s, &holder)? {
            None => break,
            Some(by) => {
                if !announced {
                    tracing::info!(
                        "waiting for the {scope_s} lease of environment {env}, held by {by}"
                    );
                    announced = true;
                }
                conn.shared.signals.wait(seen, RECHECK);
            }
        }
    }
    let renewing = conn.spawn(renew(
        Arc::clone(&conn.shared),
        env.to_string(),
        scope_s.to_string(),
        holder.clone(),
    ))?;
    Ok(Lease::new(Held {
        conn: Arc::clone(conn),
        env: env.to_string(),
        scope: scope_s.to_string(),
        holder,
        renewing: Some(renewing),
    }))
}
