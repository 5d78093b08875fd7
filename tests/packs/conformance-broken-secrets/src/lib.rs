//! `acme.secrets.broken`: a correct kv-backed secrets pack (like the
//! `pack new --slot secrets` scaffold) with one deliberate bug, chosen by
//! the config key `bug`, so `envpack pack test` can be shown to fail
//! exactly the case of the rule broken:
//!
//! | `bug`               | what it does wrong                                   | failing case               |
//! |---------------------|------------------------------------------------------|----------------------------|
//! | `get-missing`       | a secret never put reads as the empty value          | `get-missing-none`         |
//! | `crlf-to-lf`        | values come back with `\r\n` turned into `\n`       | `round-trip`               |
//! | `put-keeps-first`   | a put of an existing name keeps the old value        | `put-replaces`             |
//! | `list-unsorted`     | list returns the names in reverse order              | `list-names-sorted`        |
//! | `list-values`       | list returns `NAME=VALUE` entries next to the names  | `list-never-values`        |
//! | `delete-always-true`| delete of a missing secret returns `true`            | `delete`                   |
//! | `names-unchecked`   | any name is accepted                                 | `invalid-name`             |
//! | `memory-only`       | secrets live in the instance's memory, not in kv     | `durable-across-instances` |
//! | `command-bad-json`  | `broken info` answers JSON that does not parse       | `run:broken info` (commands) |
//! | `unknown-ok`        | an undeclared command name answers ok                | `unknown-command` (commands) |

use std::cell::RefCell;
use std::collections::BTreeMap;

use envpack_sdk::{Args, Error, Output, SecretsPack, config, kv};

fn bug(name: &str) -> bool {
    config::get("bug").ok().flatten().as_deref() == Some(name)
}

fn key(name: &str) -> Result<String, Error> {
    let valid = !name.is_empty()
        && name.len() <= 128
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
    if valid || bug("names-unchecked") {
        Ok(format!("secret/{name}"))
    } else {
        Err(Error::invalid_input(format!(
            "secret name {name:?}: use 1 to 128 letters, digits, '_', '-' and '.'"
        )))
    }
}

#[derive(Default)]
struct Broken {
    /// The store under `memory-only`.
    memory: RefCell<BTreeMap<String, String>>,
}

impl Broken {
    fn read(&self, k: &str) -> Result<Option<String>, Error> {
        if bug("memory-only") {
            return Ok(self.memory.borrow().get(k).cloned());
        }
        Ok(kv::get(k)?.map(|b| String::from_utf8_lossy(&b).into_owned()))
    }

    fn write(&self, k: &str, v: &str) -> Result<(), Error> {
        if bug("memory-only") {
            self.memory.borrow_mut().insert(k.into(), v.into());
            return Ok(());
        }
        kv::set(k, v.as_bytes())
    }

    fn names(&self) -> Result<Vec<String>, Error> {
        let keys = if bug("memory-only") {
            self.memory.borrow().keys().cloned().collect()
        } else {
            kv::list_keys("secret/")?
        };
        Ok(keys
            .iter()
            .filter_map(|k| k.strip_prefix("secret/"))
            .map(String::from)
            .collect())
    }
}

impl SecretsPack for Broken {
    fn get(&self, name: String) -> Result<Option<String>, Error> {
        let got = self.read(&key(&name)?)?;
        // Only a name never put: one that was deleted reads as none.
        let never_put = || kv::get(&format!("gone/{name}")).ok().flatten().is_none();
        Ok(match got {
            None if bug("get-missing") && never_put() => Some(String::new()),
            Some(v) if bug("crlf-to-lf") => Some(v.replace("\r\n", "\n")),
            other => other,
        })
    }

    fn put(&self, name: String, value: String) -> Result<(), Error> {
        let k = key(&name)?;
        if bug("put-keeps-first") && self.read(&k)?.is_some() {
            return Ok(());
        }
        self.write(&k, &value)
    }

    fn delete(&self, name: String) -> Result<bool, Error> {
        let k = key(&name)?;
        if bug("get-missing") {
            kv::set(&format!("gone/{name}"), b"")?;
        }
        let existed = if bug("memory-only") {
            self.memory.borrow_mut().remove(&k).is_some()
        } else {
            kv::delete(&k)?
        };
        Ok(existed || bug("delete-always-true"))
    }

    fn list(&self) -> Result<Vec<String>, Error> {
        let mut names = self.names()?;
        if bug("list-values") {
            // Sorted and complete, so only the rule about values breaks.
            let mut with = names.clone();
            for n in &names {
                let v = self.read(&format!("secret/{n}"))?.unwrap_or_default();
                with.push(format!("{n}={v}"));
            }
            with.sort();
            names = with;
        }
        if bug("list-unsorted") {
            names.reverse();
        }
        Ok(names)
    }

    fn command(&self, name: &str, _args: &Args) -> Result<Output, Error> {
        match name {
            "broken info" => {
                let count = self.names()?.len();
                let json = if bug("command-bad-json") {
                    format!("{{\"secrets\": {count},")
                } else {
                    format!("{{\"secrets\":{count}}}")
                };
                Ok(Output::text(format!("{count} secret(s)")).with_json(json))
            }
            _ if bug("unknown-ok") => Ok(Output::text("ok")),
            other => Err(Error::invalid_input(format!("no command {other:?}"))),
        }
    }
}

envpack_sdk::export_secrets!(Broken);
