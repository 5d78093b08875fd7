//! `greentic.state.redis` against a real `redis-server`: the state
//! conformance suite, a compare-and-swap counter raced by several
//! `envpack` processes with no host lock between them (0 lost updates),
//! an environment whose state slot is bound to it (password from the
//! environment's secrets pack), and the `socket:` capability refusing an
//! address it was not granted.
//!
//! Needs `ENVPACK_TEST_REDIS` (`.ci/run` starts a throwaway server with
//! `scripts/services`); without it every test here fails saying so.
#![allow(clippy::unwrap_used)] // tests fail loudly by design

use envpack_e2e::{Env, RedisServer, redis_server};
use serde_json::Value;

const BIN: &str = env!("CARGO_BIN_EXE_envpack");

const PACK: &str = "greentic.state.redis";

/// Processes racing the counter, and the increments each makes.
const RACERS: u64 = 4;
const INCREMENTS: u64 = 8;

/// `--config`/`--secret` flags pointing the pack at the server, under
/// `prefix`, authenticating as the test user.
fn settings(redis: &RedisServer, prefix: &str) -> Vec<String> {
    vec![
        "--config".into(),
        format!("address={}", redis.address),
        "--config".into(),
        format!("key_prefix={prefix}"),
        "--config".into(),
        format!("username={}", redis.username),
        "--config".into(),
        "password_secret=REDIS_PASSWORD".into(),
        "--secret".into(),
        format!("REDIS_PASSWORD={}", redis.password),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn passes_the_state_conformance_suite_on_a_real_server() {
    let redis = redis_server();
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let prefix = redis.fresh_prefix("conformance");
    let flags = settings(&redis, &prefix);
    let mut args = vec!["pack", "test", PACK];
    args.extend(strs(&flags));
    let result = env.json(&args);
    let cases = result["cases"].as_array().unwrap();
    let failed: Vec<&Value> = cases.iter().filter(|c| c["status"] != "pass").collect();
    assert!(failed.is_empty(), "cases not passed: {failed:#?}");
    assert_eq!(result["failed"], 0, "{result}");
    assert_eq!(result["skipped"], 0, "{result}");
    assert!(cases.len() >= 12, "{result}");
    let race = cases
        .iter()
        .find(|c| c["case"] == "cas-across-instances")
        .unwrap();
    assert!(
        race["observed"]
            .as_str()
            .unwrap()
            .contains("0 lost updates"),
        "{race}"
    );
    // The data really is on the server, under the prefix: the hash of a
    // key the suite wrote, and the index `list` reads.
    let keys = redis.cli(&["--scan", "--pattern", &format!("{prefix}*")]);
    assert!(keys.contains(&format!("{prefix}index")), "{keys}");
    assert!(
        keys.contains(&format!("{prefix}v:conformance/durable/k")),
        "{keys}"
    );
    let stored = redis.cli(&["HGET", &format!("{prefix}v:conformance/durable/k"), "v"]);
    assert_eq!(stored.trim(), "from b");
}

/// One `pack call` of the Redis pack; returns the WAVE result.
fn call(env: &Env, flags: &[String], expr: &str) -> String {
    let mut args = vec!["pack", "call", PACK, expr, "--grant-requested"];
    args.extend(strs(flags));
    let result = env.json(&args);
    result["calls"][0]["result"].as_str().unwrap().to_string()
}

/// The counter and its generation from a WAVE `get` result such as
/// `ok(some({value: [49, 50], generation: 13}))`.
fn parse_entry(wave: &str) -> (u64, u64) {
    let bytes = wave
        .split_once("value: [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(list, _)| list)
        .unwrap_or_else(|| panic!("no value in {wave}"));
    let text: String = bytes
        .split(',')
        .map(|b| b.trim().parse::<u8>().unwrap() as char)
        .collect();
    let generation = wave
        .split_once("generation: ")
        .map(|(_, rest)| rest.trim_end_matches(|c: char| !c.is_ascii_digit()))
        .unwrap_or_else(|| panic!("no generation in {wave}"));
    (text.parse().unwrap(), generation.parse().unwrap())
}

fn wave_bytes(text: &str) -> String {
    let list: Vec<String> = text.bytes().map(|b| b.to_string()).collect();
    format!("[{}]", list.join(", "))
}

/// Several processes read the counter and write it back +1 expecting the
/// generation they read, retrying on conflict. `pack call` takes no host
/// lock, so only the server's atomic compare-and-swap keeps updates from
/// being lost.
#[test]
fn racing_processes_lose_no_update() {
    let redis = redis_server();
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let flags = settings(&redis, &redis.fresh_prefix("race"));
    let first = call(&env, &flags, "put(\"counter\", [48], some(absent))");
    assert_eq!(first, "ok(1)");
    let outcomes: Vec<(Vec<u64>, u64)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..RACERS)
            .map(|_| {
                scope.spawn(|| {
                    let mut generations = Vec::new();
                    let mut conflicts = 0u64;
                    while (generations.len() as u64) < INCREMENTS {
                        assert!(conflicts < 40 * INCREMENTS, "the counter never moved");
                        let (n, g) = parse_entry(&call(&env, &flags, "get(\"counter\")"));
                        let next = wave_bytes(&(n + 1).to_string());
                        let put = call(
                            &env,
                            &flags,
                            &format!("put(\"counter\", {next}, some(generation({g})))"),
                        );
                        if let Some(written) = put.strip_prefix("ok(") {
                            let written: u64 = written.trim_end_matches(')').parse().unwrap();
                            assert_eq!(written, g + 1, "{put}");
                            generations.push(written);
                        } else {
                            assert!(put.starts_with("err(conflict("), "{put}");
                            assert!(put.contains("generation"), "{put}");
                            conflicts += 1;
                        }
                    }
                    (generations, conflicts)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut generations: Vec<u64> = outcomes.iter().flat_map(|o| o.0.clone()).collect();
    let conflicts: u64 = outcomes.iter().map(|o| o.1).sum();
    generations.sort_unstable();
    let total = RACERS * INCREMENTS;
    // Every successful write got its own generation, without gaps.
    assert_eq!(generations, (2..=total + 1).collect::<Vec<_>>());
    let (n, g) = parse_entry(&call(&env, &flags, "get(\"counter\")"));
    assert_eq!(
        (n, g),
        (total, total + 1),
        "{RACERS} processes x {INCREMENTS} increments ({conflicts} conflicts retried)"
    );
}

/// An environment whose state slot is the Redis pack, granted exactly the
/// server's socket and the password secret; the password comes from the
/// environment's secrets pack.
fn bound_env(redis: &RedisServer, socket_grant: &str) -> (Env, String) {
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let prefix = redis.fresh_prefix("env");
    for (key, value) in [
        ("address", redis.address.as_str()),
        ("key_prefix", prefix.as_str()),
        ("username", redis.username.as_str()),
        ("password_secret", "REDIS_PASSWORD"),
    ] {
        env.json(&["env", "config", "dev", PACK, key, value]);
    }
    env.json(&[
        "secrets",
        "put",
        "--env",
        "dev",
        "REDIS_PASSWORD",
        &redis.password,
    ]);
    let mut args = vec!["env", "bind", "dev", "state", "greentic.state.redis@^0.1"];
    for g in [
        socket_grant,
        "secret:REDIS_PASSWORD",
        "log",
        "config:address",
        "config:key_prefix",
        "config:database",
        "config:username",
        "config:password_secret",
    ] {
        args.extend(["--grant", g]);
    }
    env.json(&args);
    (env, prefix)
}

#[test]
fn an_environment_keeps_its_state_on_redis() {
    let redis = redis_server();
    let socket = format!("socket:{}", redis.address);
    let (env, prefix) = bound_env(&redis, &socket);
    env.json(&["state", "put", "--env", "dev", "greeting", "hello"]);
    let got = env.json(&["state", "get", "--env", "dev", "greeting"]);
    assert_eq!(got["value"], "hello");
    assert_eq!(got["generation"], 1);
    let again = env.json(&[
        "state",
        "put",
        "--env",
        "dev",
        "greeting",
        "hi",
        "--expect-generation",
        "1",
    ]);
    assert_eq!(again["generation"], 2, "{again}");
    let stale = env.fails(
        5,
        &[
            "state",
            "put",
            "--env",
            "dev",
            "greeting",
            "late",
            "--expect-generation",
            "1",
        ],
    );
    assert_eq!(stale["kind"], "conflict", "{stale}");
    assert!(
        stale["message"].as_str().unwrap().contains("generation 2"),
        "{stale}"
    );
    // On the server, in the environment's prefix.
    let stored = redis.cli(&["HGET", &format!("{prefix}v:greeting"), "v"]);
    assert_eq!(stored.trim(), "hi");
    // A wrong password is the server's refusal, named, never echoed.
    env.json(&[
        "secrets",
        "put",
        "--env",
        "dev",
        "REDIS_PASSWORD",
        "not-the-password",
    ]);
    let err = env.fails(4, &["state", "get", "--env", "dev", "greeting"]);
    let message = err["message"].as_str().unwrap();
    assert!(message.contains("refused the password"), "{err}");
    assert!(!message.contains("not-the-password"), "{err}");
}

#[test]
fn a_socket_not_granted_is_denied_with_the_grant_to_add() {
    let redis = redis_server();
    // Granted another port of the same host: the server's is refused.
    let (env, _) = bound_env(&redis, &format!("socket:{}:1", redis.host));
    let err = env.fails(4, &["state", "get", "--env", "dev", "greeting"]);
    assert_eq!(err["kind"], "denied", "{err}");
    let want = format!("socket:{}", redis.address);
    assert!(err["message"].as_str().unwrap().contains(&want), "{err}");
    let hint = err["hint"].as_str().unwrap_or_default();
    assert!(
        hint.contains(&format!(
            "envpack env bind dev state greentic.state.redis@^0.1 --grant {want}"
        )),
        "{err}"
    );
    // Granting it, as the hint says, fixes it.
    env.json(&[
        "env",
        "bind",
        "dev",
        "state",
        "greentic.state.redis@^0.1",
        "--grant",
        &want,
    ]);
    env.json(&["state", "put", "--env", "dev", "greeting", "hello"]);
}

/// A server that accepts and never answers cannot hold a call past its
/// deadline: socket waits go through the host's bounded `wasi:io/poll`.
#[test]
fn a_silent_server_is_cut_off_at_the_call_deadline() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    let held = std::thread::spawn(move || {
        // Keep the one connection open, unanswered, until the test ends.
        let (conn, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = std::io::Read::read(&mut &conn, &mut buf);
        conn
    });
    let env = Env::new(BIN);
    env.ok(&["env", "init", "dev"]);
    let out = env
        .cmd()
        .env("ENVPACK_CALL_TIMEOUT_MS", "1500")
        .args([
            "--json",
            "pack",
            "call",
            PACK,
            "get(\"k\")",
            "--grant-requested",
        ])
        .args(["--config", &format!("address={address}")])
        .output()
        .unwrap();
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(out.status.code(), Some(7), "{v}");
    assert_eq!(v["error"]["kind"], "pack-fault", "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("ran past its deadline"),
        "{v}"
    );
    drop(held.join().unwrap());
}
