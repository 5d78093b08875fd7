//! `acme.state.hostile`: a state pack that misbehaves on purpose, one way per
//! command, so the end-to-end tests can prove the sandbox contains it.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::hint::black_box;

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
            other => Err(Error::invalid_input(format!("unknown command {other:?}"))),
        }
    }
}

envpack_sdk::export_state!(Hostile);
