//! The backend against a real server (`ENVPACK_TEST_POSTGRES`, started by
//! `scripts/services`); each test has a schema of its own. Fails, never
//! skips, without a server.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{PgBackend, Target};
use crate::backend::{Backend, Journal, LockScope, Precondition, RecordKey};
use crate::error::Kind;
use crate::types::EnvName;

fn backend(tag: &str) -> (tempfile::TempDir, PgBackend, EnvName) {
    let base = std::env::var("ENVPACK_TEST_POSTGRES").unwrap_or_else(|_| {
        panic!("ENVPACK_TEST_POSTGRES is not set: start a server with `eval \"$(scripts/services start $(mktemp -d))\"` (or run .ci/run)")
    });
    let n = rand::random::<u32>();
    let url = format!("{base}?schema=u_{tag}_{}_{n}", std::process::id());
    let dir = tempfile::tempdir().expect("tempdir");
    let target = Target::parse(&url, None).expect("url");
    let b = PgBackend::connect_unchecked(target, dir.path().join("envs")).expect("connect");
    b.migrate().expect("migrate");
    let env: EnvName = "dev".parse().expect("name");
    b.create(&env).expect("create");
    (dir, b, env)
}

fn second(b: &PgBackend, dir: &tempfile::TempDir) -> PgBackend {
    let target = b.conn.shared.target().clone();
    PgBackend::connect(target, dir.path().join("envs2")).expect("second connection")
}

#[test]
fn compare_and_swap_backups_and_tokens() {
    let (_d, b, env) = backend("cas");
    let key = RecordKey::Deployment("web".into());
    let t0 = b.change_token(&env).expect("token");
    let e1 = b
        .write(&env, &key, b"{\"v\":1}", Precondition::Absent)
        .expect("first");
    assert!(b.write(&env, &key, b"{}", Precondition::Absent).is_err());
    let e2 = b
        .write(&env, &key, b"{\"v\":2}", Precondition::Matches(e1.clone()))
        .expect("cas");
    let stale = b.write(&env, &key, b"{\"v\":3}", Precondition::Matches(e1));
    assert_eq!(stale.map_err(|e| e.kind()).err(), Some(Kind::Conflict));
    assert_eq!(b.read(&env, &key).expect("read").map(|s| s.etag), Some(e2));
    assert_eq!(
        b.read_backup(&env, &key).expect("bak").as_deref(),
        Some(&b"{\"v\":1}"[..])
    );
    // A damaged document never replaces a good backup.
    b.write(&env, &key, b"{not json", Precondition::Any)
        .expect("damaged");
    b.write(&env, &key, b"{}", Precondition::Any)
        .expect("again");
    assert_eq!(
        b.read_backup(&env, &key).expect("bak").as_deref(),
        Some(&b"{\"v\":2}"[..])
    );
    assert_ne!(b.change_token(&env).expect("token"), t0);
    assert_eq!(b.deployments(&env).expect("list"), vec!["web".to_string()]);
}

#[test]
fn concurrent_read_modify_writes_lose_nothing() {
    let (d, b, env) = backend("counter");
    let key = RecordKey::Meta;
    b.write(&env, &key, b"0", Precondition::Absent)
        .expect("seed");
    let other = Arc::new(second(&b, &d));
    let mine = Arc::new(b);
    std::thread::scope(|s| {
        for i in 0..8 {
            let b: Arc<PgBackend> = if i % 2 == 0 {
                Arc::clone(&mine)
            } else {
                Arc::clone(&other)
            };
            let (env, key) = (env.clone(), key.clone());
            s.spawn(move || {
                for _ in 0..10 {
                    loop {
                        let cur = b.read(&env, &key).expect("read").expect("present");
                        let n: u64 = String::from_utf8_lossy(&cur.bytes).parse().expect("number");
                        let next = (n + 1).to_string();
                        match b.write(&env, &key, next.as_bytes(), Precondition::Matches(cur.etag))
                        {
                            Ok(_) => break,
                            Err(e) if e.kind() == Kind::Conflict => continue,
                            Err(e) => panic!("{e}"),
                        }
                    }
                }
            });
        }
    });
    let end = mine.read(&env, &key).expect("read").expect("present");
    assert_eq!(end.bytes, b"80", "8 writers x 10 increments");
}

#[test]
fn leases_exclude_and_are_released() {
    let (d, b, env) = backend("lease");
    let other = second(&b, &d);
    let held = b.lock(&env, LockScope::Deployments).expect("take");
    let leases = b.leases().expect("list");
    assert_eq!(leases.len(), 1, "{leases:?}");
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn(move || {
        let lease = other
            .lock(&env, LockScope::Deployments)
            .expect("take after release");
        tx.send(()).expect("send");
        drop(lease);
    });
    // Another scope is independent.
    drop(
        b.lock(&"dev".parse().expect("name"), LockScope::State)
            .expect("other scope"),
    );
    assert!(
        rx.recv_timeout(Duration::from_millis(300)).is_err(),
        "taken while held"
    );
    drop(held);
    rx.recv_timeout(Duration::from_secs(10))
        .expect("taken once released");
    waiter.join().expect("waiter");
}

#[test]
fn wait_change_wakes_on_another_connections_write() {
    let (d, b, env) = backend("notify");
    let other = second(&b, &d);
    let since = b.change_token(&env).expect("token");
    // Nothing changes: the wait times out with the same token.
    let same = b
        .wait_change(&env, &since, Duration::from_millis(200))
        .expect("wait");
    assert_eq!(same, since);
    let writer = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        other
            .write(
                &"dev".parse().expect("name"),
                &RecordKey::Lock,
                b"{}",
                Precondition::Any,
            )
            .expect("write");
    });
    let started = Instant::now();
    let now = b
        .wait_change(&env, &since, Duration::from_secs(20))
        .expect("wait");
    assert_ne!(now, since);
    eprintln!("woken {:?} after the wait began", started.elapsed());
    writer.join().expect("writer");
    b.append(&env, Journal::Audit, b"{\"a\":1}")
        .expect("append");
    assert_eq!(b.lines(&env, Journal::Audit).expect("lines").len(), 1);
}

#[test]
fn an_expired_lease_is_taken_over_even_while_its_session_lives() {
    let (d, b, env) = backend("expiry");
    let other = second(&b, &d);
    let _held = b.lock(&env, LockScope::Env).expect("take");
    // The holder stopped renewing (a machine cut off from the network):
    // its session still exists, its expiry has passed.
    let s = b.conn.shared.schema().to_string();
    b.conn
        .run(move |c| {
            Box::pin(async move {
                c.execute(
                    &format!("UPDATE {s}.leases SET expires_at = now() - interval '1 second'"),
                    &[],
                )
                .await
                .map_err(|e| crate::error::Error::internal(e.to_string()))
            })
        })
        .expect("expire");
    let started = Instant::now();
    let _taken = other.lock(&env, LockScope::Env).expect("taken over");
    assert!(started.elapsed() < Duration::from_secs(10));
    let leases = other.leases().expect("list");
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert!(leases[0].3 > 0.0, "the new holder's lease runs: {leases:?}");
}
