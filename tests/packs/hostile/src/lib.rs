//! `acme.state.hostile`: a state pack that misbehaves on purpose, one way per
//! command, so the end-to-end tests can prove the sandbox contains it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;

mod flood;

use envpack_sdk::state::{Entry, Expect, check_expect};
use envpack_sdk::{Args, Error, Output, StatePack};

#[derive(Default)]
struct Hostile(RefCell<BTreeMap<String, Entry>>);

fn report<T: std::fmt::Debug>(r: Result<T, impl std::fmt::Display>) -> Output {
    Output::text(match r {
        Ok(v) => format!("ok: {v:?}"),
        Err(e) => format!("err: {e}"),
    })
}

fn number<T: std::str::FromStr>(args: &Args, name: &str) -> Result<T, Error> {
    args.required(name)?
        .parse()
        .map_err(|_| Error::invalid_input(format!("{name} must be a number")))
}

fn io(e: std::io::Error) -> Error {
    Error::internal(e.to_string())
}

fn kind(e: &Error) -> &'static str {
    match e {
        Error::InvalidInput(_) => "invalid-input",
        Error::NotFound(_) => "not-found",
        Error::Denied(_) => "denied",
        Error::Conflict(_) => "conflict",
        Error::Unavailable(_) => "unavailable",
        Error::Timeout(_) => "timeout",
        Error::Internal(_) => "internal",
    }
}

/// Recursion the optimiser cannot turn into a loop: the result of the inner
/// call is used after it returns, through `black_box`.
#[inline(never)]
#[allow(unconditional_recursion)]
fn recurse(depth: u64) -> u64 {
    black_box(recurse(black_box(depth + 1))).wrapping_add(depth)
}

impl StatePack for Hostile {
    fn get(&self, key: String) -> Result<Option<Entry>, Error> {
        Ok(self.0.borrow().get(&key).cloned())
    }

    fn put(&self, key: String, value: Vec<u8>, expect: Option<Expect>) -> Result<u64, Error> {
        let mut map = self.0.borrow_mut();
        let current = map.get(&key).map(|e| e.generation);
        check_expect(&key, current, expect.as_ref())?;
        let generation = current.unwrap_or(0) + 1;
        map.insert(key, Entry { value, generation });
        Ok(generation)
    }

    fn delete(&self, key: String, expect: Option<Expect>) -> Result<bool, Error> {
        let mut map = self.0.borrow_mut();
        check_expect(&key, map.get(&key).map(|e| e.generation), expect.as_ref())?;
        Ok(map.remove(&key).is_some())
    }

    fn list(&self, prefix: String) -> Result<Vec<String>, Error> {
        Ok(self
            .0
            .borrow()
            .keys()
            .filter(|k| k.starts_with(&prefix))
            .cloned()
            .collect())
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        match name {
            "hostile loop" => {
                let mut n = 0u64;
                loop {
                    n = black_box(n.wrapping_add(1));
                }
            }
            "hostile alloc" => {
                let mut hoard: Vec<Vec<u8>> = Vec::new();
                loop {
                    hoard.push(black_box(vec![0xA5; 1 << 20]));
                    black_box(&mut hoard);
                }
            }
            "hostile recurse" => Ok(Output::text(recurse(black_box(0)).to_string())),
            "hostile panic" => panic!("boom from hostile pack"),
            "hostile http" => {
                let url = args.required("url")?;
                Ok(Output::text(
                    match envpack_sdk::http::Request::get(url).send() {
                        Ok(r) => format!("status {}: {}", r.status, r.text()),
                        Err(e) => format!("err {}: {}", kind(&e), e.message()),
                    },
                ))
            }
            "hostile read-file" => Ok(report(std::fs::read_to_string(args.required("path")?))),
            "hostile write-file" => Ok(report(std::fs::write(
                args.required("path")?,
                args.required("text")?,
            ))),
            "hostile env" => {
                let var = std::env::var(args.required("var")?);
                let count = std::env::vars().count();
                Ok(Output::text(format!("var: {var:?}; vars: {count}")))
            }
            "hostile output" => {
                let bytes: usize = args
                    .required("bytes")?
                    .parse()
                    .map_err(|_| Error::invalid_input("bytes must be a number"))?;
                Ok(Output::text("x".repeat(bytes)))
            }
            other => floods(other, args),
        }
    }
}

/// The commands that flood, wait, fill and forge (issue 15's hostile set).
fn floods(name: &str, args: &Args) -> Result<Output, Error> {
    match name {
        "hostile sleep" => {
            let ms: u64 = number(args, "ms")?;
            std::thread::sleep(std::time::Duration::from_millis(ms));
            Ok(Output::text(format!("slept {ms} ms")))
        }
        "hostile http-credential" => {
            let url = args.required("url")?;
            let sent = envpack_sdk::http::Request::get(url)
                .credential_header("authorization", "Bearer {}", args.required("secret")?)
                .send();
            Ok(Output::text(match sent {
                Ok(r) => format!("status {}: {}", r.status, r.text()),
                Err(e) => format!("err {}: {}", kind(&e), e.message()),
            }))
        }
        "hostile http-post" => {
            // Errors propagate, so the host's exit code is the error's kind.
            let body = vec![b'x'; number(args, "bytes")?];
            let request = envpack_sdk::http::Request::post(args.required("url")?)
                .header("content-type", "text/plain");
            let resp = if args.flag("stream") {
                request.send_reader(&body[..], None)?
            } else {
                request.body(body).send()?
            };
            Ok(Output::text(format!(
                "status {}: {}",
                resp.status,
                resp.text()
            )))
        }
        "hostile http-flood" => Ok(Output::text(flood::http(
            args.required("url")?,
            number(args, "count")?,
        ))),
        "hostile deny-flood" => {
            let count: u64 = number(args, "count")?;
            let denied = (0..count)
                .filter(|_| envpack_sdk::secret::get("NOT_REQUESTED").is_err())
                .count();
            Ok(Output::text(format!("denied {denied}")))
        }
        "hostile log-flood" => {
            flood::log(number(args, "lines")?, number(args, "stderr-bytes")?);
            Ok(Output::text("flooded"))
        }
        "hostile flood-then-deny" => {
            for i in 0..2000 {
                envpack_sdk::log::warn(&format!("noise {i}"), &[]);
            }
            flood::log(20, 1 << 20);
            let secret = envpack_sdk::secret::get("NOT_REQUESTED");
            let http = envpack_sdk::http::Request::get(args.required("url")?).send();
            Ok(Output::text(format!(
                "secret: {}; http: {}",
                secret.is_err(),
                http.is_err()
            )))
        }
        "hostile kv-put" => kv_put(args),
        "hostile scratch-fill" => {
            use std::io::Write;
            let mib: usize = number(args, "mib")?;
            let chunk = vec![0xC3u8; 1 << 20];
            let mut file = std::fs::File::create("/scratch/fill").map_err(io)?;
            for i in 0..mib {
                if let Err(e) = file.write_all(&chunk).and_then(|()| file.flush()) {
                    return Ok(Output::text(format!("wrote {i} MiB; err {e}")));
                }
            }
            Ok(Output::text(format!("wrote {mib} MiB")))
        }
        "hostile ansi" => {
            let fake = "\x1b]0;pwned\x07\x1b[2J\x1b[H\rerror: envpack: all checks passed\n";
            match args.required("where")? {
                "output" => Ok(Output::text(format!("before{fake}after"))),
                "error" => Err(Error::internal(format!("bad{fake}"))),
                _ => {
                    envpack_sdk::log::warn(&format!("log{fake}"), &[("field", fake)]);
                    Ok(Output::text("logged"))
                }
            }
        }
        other => Err(Error::invalid_input(format!("unknown command {other:?}"))),
    }
}

/// Stores `count` values of `size` bytes under keys of `key-len` bytes.
fn kv_put(args: &Args) -> Result<Output, Error> {
    let key_len: usize = number(args, "key-len")?;
    let size: usize = number(args, "size")?;
    let value = vec![0x5A; size];
    for i in 0..number::<usize>(args, "count")? {
        let key = format!("{i:08}{}", "k".repeat(key_len.saturating_sub(8)));
        if let Err(e) = envpack_sdk::kv::set(&key, &value) {
            return Ok(Output::text(format!(
                "stored {i}; err {}: {}",
                kind(&e),
                e.message()
            )));
        }
    }
    Ok(Output::text("stored all"))
}

envpack_sdk::export_state!(Hostile);
