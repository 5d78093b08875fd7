//! `greentic.state.redis`: durable state on a Redis server.
//!
//! Each state key is one Redis hash, `<prefix>v:<key>`, with the value in
//! field `v` and the generation in field `g`; every key is also a member of
//! the sorted set `<prefix>index` (all scores 0), so `list` is one
//! `ZRANGEBYLEX` in byte order, which is the order the state slot promises.
//! The prefix (config `key_prefix`, default `envpack:`) lets environments
//! share one server.
//!
//! Compare-and-swap runs on the server: `put` and `delete` are Lua scripts
//! (`EVAL`), which Redis runs atomically, so the check of the generation and
//! the write cannot be separated by another client, on this machine or any
//! other. Generations come from `HINCRBY` (exact 64-bit integers): 1 on the
//! first write, +1 on each write; a deleted key starts again at 1.
//!
//! The connection is plain TCP over `wasi:sockets` (capability
//! `socket:<host>:<port>`), opened on the first call of an instance and
//! reused by its later calls. TLS is not supported (see
//! docs/design/020-socket-capability-and-redis.md).

mod resp;

use std::cell::RefCell;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Error, StatePack, config};
use redis_protocol::resp2::types::OwnedFrame;

use resp::{Conn, Target};

/// Longest key accepted: more than the longest the host writes (661 bytes).
const MAX_KEY: usize = 1024;

/// `put`: KEYS[1] the value's hash, KEYS[2] the index; ARGV[1] the
/// condition (`any`, `absent`, `gen`), ARGV[2] the expected generation,
/// ARGV[3] the value, ARGV[4] the state key. Returns {1, new generation}
/// or {0, current generation or ''} when the condition does not hold.
const PUT: &str = r"
local cur = redis.call('HGET', KEYS[1], 'g')
if ARGV[1] == 'absent' and cur then return {0, cur} end
if ARGV[1] == 'gen' and cur ~= ARGV[2] then return {0, cur or ''} end
local g = redis.call('HINCRBY', KEYS[1], 'g', 1)
redis.call('HSET', KEYS[1], 'v', ARGV[3])
redis.call('ZADD', KEYS[2], 0, ARGV[4])
return {1, g}
";

/// `delete`: as `put`, with ARGV[3] the state key. Returns {1, 1} when it
/// deleted, {1, 0} when there was nothing, {0, current or ''} on conflict.
const DELETE: &str = r"
local cur = redis.call('HGET', KEYS[1], 'g')
if ARGV[1] == 'absent' and cur then return {0, cur} end
if ARGV[1] == 'gen' and cur ~= ARGV[2] then return {0, cur or ''} end
if not cur then return {1, 0} end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[3])
return {1, 1}
";

#[derive(Default)]
struct RedisState {
    conn: RefCell<Option<Conn>>,
}

/// The key prefix, from config `key_prefix`.
fn prefix() -> Result<String, Error> {
    Ok(config::get("key_prefix")?.unwrap_or_else(|| "envpack:".into()))
}

fn target() -> Result<Target, Error> {
    let address = config::get("address")?.ok_or_else(|| {
        Error::invalid_input(
            "config address is not set (the Redis server, host:port); help: envpack env config <env> greentic.state.redis address 127.0.0.1:6379",
        )
    })?;
    let (host, port) = Target::parse_address(&address)?;
    let database = match config::get("database")? {
        None => None,
        Some(d) => Some(d.parse().map_err(|_| {
            Error::invalid_input(format!(
                "config database {d:?} is not a database number (0, 1, ...)"
            ))
        })?),
    };
    Ok(Target {
        host,
        port,
        database,
        username: config::get("username")?.filter(|u| !u.is_empty()),
        password_secret: config::get("password_secret")?.filter(|s| !s.is_empty()),
    })
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY || key.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "state key {key:?} must be 1 to {MAX_KEY} bytes without control characters"
        )));
    }
    Ok(())
}

/// The condition as the scripts take it: (mode, expected generation).
fn condition(expect: Option<&Expect>) -> (&'static str, String) {
    match expect {
        None => ("any", String::new()),
        Some(Expect::Absent) => ("absent", String::new()),
        Some(Expect::Generation(g)) => ("gen", g.to_string()),
    }
}

fn bad_reply(what: &str, frame: &OwnedFrame) -> Error {
    Error::internal(format!("redis answered {what} with {frame:?}"))
}

/// A reply element as an integer (a Lua number comes back as an integer,
/// a stored generation as a bulk string).
fn integer(frame: &OwnedFrame) -> Option<u64> {
    match frame {
        OwnedFrame::Integer(n) => u64::try_from(*n).ok(),
        OwnedFrame::BulkString(b) | OwnedFrame::SimpleString(b) => {
            std::str::from_utf8(b).ok()?.parse().ok()
        }
        _ => None,
    }
}

/// Reads a script's `{status, generation}` reply: `Ok(n)` when the write
/// happened, else the conflict (built by the SDK's `check_expect`, so the
/// message names the generation found exactly as other packs do).
fn script_result(
    what: &str,
    key: &str,
    expect: Option<&Expect>,
    reply: &OwnedFrame,
) -> Result<u64, Error> {
    let OwnedFrame::Array(items) = reply else {
        return Err(bad_reply(what, reply));
    };
    match items.as_slice() {
        [OwnedFrame::Integer(1), n] => integer(n).ok_or_else(|| bad_reply(what, reply)),
        [OwnedFrame::Integer(0), cur] => {
            let current = match cur {
                OwnedFrame::BulkString(b) if b.is_empty() => None,
                other => Some(integer(other).ok_or_else(|| bad_reply(what, reply))?),
            };
            check_expect(key, current, expect)?;
            Err(Error::internal(format!(
                "redis refused {what} of {key:?} at generation {current:?}, which the condition allows"
            )))
        }
        _ => Err(bad_reply(what, reply)),
    }
}

impl RedisState {
    /// Runs one command on the instance's connection, opening it first. A
    /// connection that failed is dropped, so the next call reconnects.
    fn call(&self, args: &[&[u8]]) -> Result<OwnedFrame, Error> {
        let mut slot = self.conn.borrow_mut();
        if slot.is_none() {
            *slot = Some(Conn::open(&target()?)?);
        }
        let conn = slot
            .as_mut()
            .ok_or_else(|| Error::internal("no redis connection"))?;
        let result = conn.call(args);
        if matches!(result, Err(Error::Unavailable(_) | Error::Timeout(_))) {
            *slot = None;
        }
        result
    }

    fn eval(&self, script: &str, keys: [&[u8]; 2], args: &[&[u8]]) -> Result<OwnedFrame, Error> {
        let mut all: Vec<&[u8]> = vec![b"EVAL", script.as_bytes(), b"2", keys[0], keys[1]];
        all.extend_from_slice(args);
        self.call(&all)
    }
}

impl StatePack for RedisState {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        check_key(&key)?;
        let data = format!("{}v:{key}", prefix()?);
        let reply = self.call(&[b"HMGET", data.as_bytes(), b"g", b"v"])?;
        match &reply {
            OwnedFrame::Array(items) => match items.as_slice() {
                [OwnedFrame::Null, _] => Ok(None),
                [g, OwnedFrame::BulkString(v)] => Ok(Some(Entry {
                    generation: integer(g).ok_or_else(|| bad_reply("get", &reply))?,
                    value: v.clone(),
                })),
                _ => Err(bad_reply("get", &reply)),
            },
            _ => Err(bad_reply("get", &reply)),
        }
    }

    fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        check_key(&key)?;
        let p = prefix()?;
        let (data, index) = (format!("{p}v:{key}"), format!("{p}index"));
        let (mode, want) = condition(expect.as_ref());
        let reply = self.eval(
            PUT,
            [data.as_bytes(), index.as_bytes()],
            &[mode.as_bytes(), want.as_bytes(), &value, key.as_bytes()],
        )?;
        script_result("put", &key, expect.as_ref(), &reply)
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        check_key(&key)?;
        let p = prefix()?;
        let (data, index) = (format!("{p}v:{key}"), format!("{p}index"));
        let (mode, want) = condition(expect.as_ref());
        let reply = self.eval(
            DELETE,
            [data.as_bytes(), index.as_bytes()],
            &[mode.as_bytes(), want.as_bytes(), key.as_bytes()],
        )?;
        Ok(script_result("delete", &key, expect.as_ref(), &reply)? == 1)
    }

    fn list(&self, prefix_of_keys: String) -> Result<Vec<String>, Error> {
        let index = format!("{}index", prefix()?);
        // Keys are UTF-8, which never holds the byte 0xff: every key
        // starting with the prefix sorts before prefix + 0xff.
        let (min, max) = if prefix_of_keys.is_empty() {
            (b"-".to_vec(), b"+".to_vec())
        } else {
            let mut min = b"[".to_vec();
            min.extend_from_slice(prefix_of_keys.as_bytes());
            let mut max = min.clone();
            max.push(0xff);
            (min, max)
        };
        let reply = self.call(&[b"ZRANGEBYLEX", index.as_bytes(), &min, &max])?;
        let OwnedFrame::Array(items) = &reply else {
            return Err(bad_reply("list", &reply));
        };
        items
            .iter()
            .map(|item| match item {
                OwnedFrame::BulkString(b) => String::from_utf8(b.clone())
                    .map_err(|_| Error::internal("redis holds a state key that is not UTF-8")),
                _ => Err(bad_reply("list", &reply)),
            })
            .collect()
    }
}

envpack_sdk::export_state!(RedisState);
