//! The host the helpers call when a pack runs natively (`cargo test` on the
//! build machine): one in-process fake per thread, installed by
//! `testing::FakeHost` (feature `testing`).
//!
//! Each module below has the signatures of the wit-bindgen import it stands
//! in for, so [`host`](crate::host) can pick one or the other by target and
//! the helpers stay the same code in both builds. With no fake installed
//! every call fails with `unavailable`, saying how to install one, instead
//! of the `unreachable` panic of wit-bindgen's native stubs.
#![cfg_attr(not(feature = "testing"), allow(dead_code))]

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::http::Response;
use crate::{Error, Level};

/// The largest kv key and value, as the host enforces them.
const MAX_KEY: usize = 512;
const MAX_VALUE: usize = 1024 * 1024;

/// One log line the pack wrote.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Its level.
    pub level: Level,
    /// The message.
    pub message: String,
    /// Its fields, in order.
    pub fields: Vec<(String, String)>,
}

/// One HTTP request the pack sent, as the server would see it (credential
/// placeholders filled in).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SentRequest {
    /// Upper-case method.
    pub method: String,
    /// The URL as the pack wrote it.
    pub url: String,
    /// Headers, names lowercase, in order (`content-length` included).
    pub headers: Vec<(String, String)>,
    /// The whole body.
    pub body: Vec<u8>,
}

impl SentRequest {
    /// The first header named `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        crate::http::header_in(&self.headers, name)
    }

    /// The body as UTF-8 text (lossy).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// What a scripted request answers.
pub(crate) type Answer = Result<Response, Error>;

/// Everything the fake host holds for one thread.
#[derive(Default)]
pub(crate) struct State {
    pub config: BTreeMap<String, String>,
    pub secrets: BTreeMap<String, String>,
    pub kv: BTreeMap<String, Vec<u8>>,
    pub denied: BTreeSet<String>,
    /// (METHOD, url) -> answers in order; the last one repeats.
    pub responses: BTreeMap<(String, String), VecDeque<Answer>>,
    pub sent: Vec<SentRequest>,
    pub logs: Vec<LogLine>,
    pub processes: BTreeMap<String, crate::process::Info>,
    pub now_ms: Option<u64>,
    pub next_pid: u32,
}

thread_local! {
    static HOST: RefCell<Option<State>> = const { RefCell::new(None) };
}

/// Installs a fresh fake on this thread (replacing any).
pub(crate) fn install() {
    HOST.with(|h| *h.borrow_mut() = Some(State::default()));
}

/// Removes this thread's fake.
pub(crate) fn uninstall() {
    HOST.with(|h| *h.borrow_mut() = None);
}

/// Runs `f` on this thread's fake state; `None` when none is installed.
pub(crate) fn with_state<R>(f: impl FnOnce(&mut State) -> R) -> Option<R> {
    HOST.with(|h| h.borrow_mut().as_mut().map(f))
}

/// Runs a host call needing `capability` on the fake: `unavailable` when no
/// fake is installed, `denied` (as the real host says it) when the test
/// denied the capability.
fn call<R>(capability: &str, f: impl FnOnce(&mut State) -> Result<R, Error>) -> Result<R, Error> {
    with_state(|s| {
        if s.denied.contains(capability) {
            return Err(Error::denied(format!(
                "capability \"{capability}\" is not granted to this pack (denied by the test's FakeHost)"
            )));
        }
        f(s)
    })
    .unwrap_or_else(|| {
        Err(Error::unavailable(format!(
            "no envpack host: this is a native build, and the host import behind \"{capability}\" exists only inside envpack; help: in a unit test, enable envpack-sdk's `testing` feature (a dev-dependency) and start the test with `let host = envpack_sdk::testing::FakeHost::new();`"
        )))
    })
}

fn check_key(key: &str) -> Result<(), Error> {
    if key.is_empty() || key.len() > MAX_KEY {
        return Err(Error::invalid_input(format!(
            "kv key must be 1 to {MAX_KEY} bytes, got {}",
            key.len()
        )));
    }
    if key.chars().any(char::is_control) {
        return Err(Error::invalid_input(format!(
            "kv key {key:?} contains a control character"
        )));
    }
    Ok(())
}

/// The fake clock, when the test set one.
pub(crate) fn now_ms() -> Option<u64> {
    with_state(|s| s.now_ms).flatten()
}

/// Sends a request: fills credential placeholders from the fake's secrets,
/// records it, and answers with the next scripted response.
pub(crate) fn http(mut request: SentRequest) -> Result<Response, Error> {
    let host = authority(&request.url);
    call(&format!("http:{host}"), |s| {
        for (_, value) in &mut request.headers {
            *value = fill_credentials(s, value)?;
        }
        let key = (request.method.clone(), request.url.clone());
        let answer = match s.responses.get_mut(&key) {
            Some(queue) if queue.len() > 1 => queue.pop_front(),
            Some(queue) => queue.front().cloned(),
            None => None,
        };
        s.sent.push(request);
        answer.unwrap_or_else(|| {
            Err(Error::unavailable(format!(
                "the FakeHost has no response for {} {}; help: host.respond({:?}, {:?}, 200, \"...\")",
                key.0, key.1, key.0, key.1
            )))
        })
    })
}

/// `value` with each `{{credential:NAME}}` replaced by the fake's secret
/// `NAME`, checked like the real host does (`credential:NAME` granted, the
/// secret set).
fn fill_credentials(s: &State, value: &str) -> Result<String, Error> {
    const OPEN: &str = "{{credential:";
    let mut out = String::new();
    let mut rest = value;
    while let Some(start) = rest.find(OPEN) {
        out.push_str(&rest[..start]);
        let after = &rest[start + OPEN.len()..];
        let end = after.find("}}").ok_or_else(|| {
            Error::invalid_input("a header has an unterminated {{credential:...}} placeholder")
        })?;
        let name = &after[..end];
        if s.denied.contains(&format!("credential:{name}")) {
            return Err(Error::denied(format!(
                "capability \"credential:{name}\" is not granted to this pack (denied by the test's FakeHost)"
            )));
        }
        let secret = s.secrets.get(name).ok_or_else(|| {
            Error::unavailable(format!(
                "secret {name:?} is not set in this environment; help: host.secret({name:?}, \"...\") in the test"
            ))
        })?;
        out.push_str(secret);
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    Ok(out)
}

/// The `host[:port]` of an `http(s)://` URL.
fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    &rest[..end]
}

/// Stands in for the `log` import.
pub mod log {
    use super::{LogLine, call};
    use crate::{Error, Level};

    /// Records the line.
    pub fn write(level: Level, message: &str, fields: &[(String, String)]) -> Result<(), Error> {
        call("log", |s| {
            s.logs.push(LogLine {
                level,
                message: message.to_string(),
                fields: fields.to_vec(),
            });
            Ok(())
        })
    }
}

/// Stands in for the `config` import.
pub mod config {
    use super::call;
    use crate::Error;

    /// The test's value for `key`.
    pub fn get(key: &str) -> Result<Option<String>, Error> {
        call(&format!("config:{key}"), |s| Ok(s.config.get(key).cloned()))
    }
}

/// Stands in for the `kv` import.
pub mod kv {
    use super::{MAX_VALUE, call, check_key};
    use crate::Error;

    /// The value under `key`.
    pub fn get(key: &str) -> Result<Option<Vec<u8>>, Error> {
        call("kv", |s| {
            check_key(key)?;
            Ok(s.kv.get(key).cloned())
        })
    }

    /// Stores `value`.
    pub fn set(key: &str, value: &[u8]) -> Result<(), Error> {
        call("kv", |s| {
            check_key(key)?;
            if value.len() > MAX_VALUE {
                return Err(Error::invalid_input(format!(
                    "kv value for {key:?} is {} bytes; the limit is {MAX_VALUE}",
                    value.len()
                )));
            }
            s.kv.insert(key.to_string(), value.to_vec());
            Ok(())
        })
    }

    /// Removes `key`.
    pub fn delete(key: &str) -> Result<bool, Error> {
        call("kv", |s| {
            check_key(key)?;
            Ok(s.kv.remove(key).is_some())
        })
    }

    /// Keys under `prefix`, sorted.
    pub fn list_keys(prefix: &str) -> Result<Vec<String>, Error> {
        call("kv", |s| {
            Ok(s.kv
                .keys()
                .filter(|k| k.starts_with(prefix))
                .cloned()
                .collect())
        })
    }
}

/// Stands in for the `secrets-access` import.
pub mod secrets_access {
    use super::call;
    use crate::Error;

    /// The test's secret `name`.
    pub fn get(name: &str) -> Result<Option<String>, Error> {
        call(&format!("secret:{name}"), |s| {
            Ok(s.secrets.get(name).cloned())
        })
    }
}

/// Stands in for the `process` import: a table of what was started; no
/// program runs.
pub mod process {
    use super::call;
    use crate::Error;
    use crate::process::{Info, Spec};

    /// Records the process as running on a port of its own.
    pub fn start(spec: &Spec) -> Result<Info, Error> {
        call("process", |s| {
            if s.processes.get(&spec.revision).is_some_and(|i| i.running) {
                return Err(Error::conflict(format!(
                    "a process already runs for revision {:?}",
                    spec.revision
                )));
            }
            s.next_pid += 1;
            let info = Info {
                revision: spec.revision.clone(),
                pid: 1000 + s.next_pid,
                port: u16::try_from(40_000 + s.next_pid).unwrap_or(u16::MAX),
                running: true,
                output_tail: String::new(),
                bundle: String::new(),
            };
            s.processes.insert(spec.revision.clone(), info.clone());
            Ok(info)
        })
    }

    /// Marks it stopped; `false` when none ran.
    pub fn stop(revision: &str) -> Result<bool, Error> {
        call("process", |s| {
            Ok(s.processes.get_mut(revision).is_some_and(|i| {
                let was = i.running;
                i.running = false;
                was
            }))
        })
    }

    /// Its record.
    pub fn status(revision: &str) -> Result<Option<Info>, Error> {
        call("process", |s| Ok(s.processes.get(revision).cloned()))
    }

    /// Every record.
    pub fn list() -> Result<Vec<Info>, Error> {
        call("process", |s| Ok(s.processes.values().cloned().collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_fake_calls_say_how_to_install_one() {
        uninstall();
        let err = config::get("k").expect_err("no host");
        assert!(
            matches!(&err, Error::Unavailable(m) if m.contains("FakeHost::new()")),
            "{err:?}"
        );
    }

    #[test]
    fn credentials_and_authority() {
        install();
        with_state(|s| s.secrets.insert("T".into(), "s3".into()));
        let filled = with_state(|s| fill_credentials(s, "Bearer {{credential:T}}!"));
        assert_eq!(filled.expect("installed").expect("filled"), "Bearer s3!");
        assert_eq!(authority("https://a.example:8443/x?y"), "a.example:8443");
        assert_eq!(authority("http://h?q"), "h");
        uninstall();
    }
}
