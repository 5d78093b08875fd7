//! The `kinetic` suite: the `kinetic` interface of API 0.2.0 against the
//! Kinetic REST double, started in-process on a free port for the run.
//!
//! Every case changes the server (recreate, build, install, clear), so the
//! suite never runs against a real Kinetic: it starts its own double
//! (`tests/kinetic-double`, seeded with a dev company `EPIC06` holding the
//! solution `CustTracking` and a prod company `EPIC07`) and points the pack
//! at it through configuration, as an operator would: `base_url` and
//! `company`, and the secrets `KINETIC_API_KEY`, `KINETIC_USER` and
//! `KINETIC_PASSWORD` attached as credentials. A pack whose keys differ
//! maps them with `--config KEY={kinetic.base_url}` (also
//! `{kinetic.company}`) and `--secret NAME={kinetic.api_key}` (also
//! `{kinetic.user}`, `{kinetic.password}`). Two sandboxes, one per company,
//! stand for the dev and prod environments.
//!
//! The double's journal is the evidence: "changes nothing" means no request
//! that asks to change the server (anything but the token endpoint, `Get*`
//! and `Validate*`) while the call ran.

mod layers;
mod solutions;
mod target;

use std::collections::BTreeMap;

use envpack_kinetic_double::{DoubleConfig, JournalEntry, KineticDouble};

use super::{Cases, Fail, Options, Sandbox};
use crate::error::{Error, Result};
use crate::runtime::{LoadedPack, PackInstance, Runtime};

/// The company the solution is built in.
pub const DEV: &str = "EPIC06";
/// The company it is installed into.
pub const PROD: &str = "EPIC07";
/// The seeded solution the suite releases.
pub const SOLUTION: &str = "CustTracking";
/// The declared `Customer_UD` the schema cases compare with the prod
/// company (a `ZDataTable` XML export).
pub use target::SPEC as CUSTOMER_UD_SPEC;

/// The double of one suite run, and the settings that point a pack at it.
pub struct Double {
    double: KineticDouble,
}

impl std::fmt::Debug for Double {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Double")
            .field("base_url", &self.double.base_url())
            .finish()
    }
}

impl Double {
    /// Starts a seeded double with credentials of its own.
    pub fn start() -> Result<Self> {
        let double = KineticDouble::start(DoubleConfig {
            api_key: "conformance-api-key".into(),
            user: "conformance-user".into(),
            password: "conformance-password".into(),
            ..DoubleConfig::default()
        })
        .map_err(|e| {
            Error::unavailable(format!(
                "cannot start the Kinetic double for the kinetic suite: {e}"
            ))
        })?;
        Ok(Self { double })
    }

    /// The placeholders `--config` and `--secret` values may use.
    fn placeholders(&self, company: &str) -> [(&'static str, String); 5] {
        let c = self.double.config();
        [
            ("{kinetic.base_url}", self.double.base_url()),
            ("{kinetic.company}", company.to_string()),
            ("{kinetic.api_key}", c.api_key),
            ("{kinetic.user}", c.user),
            ("{kinetic.password}", c.password),
        ]
    }

    fn fill(&self, company: &str, value: &str) -> String {
        self.placeholders(company)
            .iter()
            .fold(value.to_string(), |v, (k, with)| v.replace(k, with))
    }

    /// The config a pack gets for `company`: the defaults, then the
    /// operator's `--config` values with placeholders filled in.
    pub fn config(
        &self,
        company: &str,
        given: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        let mut out = BTreeMap::from([
            ("base_url".to_string(), self.double.base_url()),
            ("company".to_string(), company.to_string()),
        ]);
        for (k, v) in given {
            out.insert(k.clone(), self.fill(company, v));
        }
        out
    }

    /// The secrets it gets: the double's credentials under the default
    /// names, then `--secret` values with placeholders filled in.
    pub fn secrets(&self, given: &BTreeMap<String, String>) -> BTreeMap<String, String> {
        let c = self.double.config();
        let mut out = BTreeMap::from([
            ("KINETIC_API_KEY".to_string(), c.api_key),
            ("KINETIC_USER".to_string(), c.user),
            ("KINETIC_PASSWORD".to_string(), c.password),
        ]);
        for (k, v) in given {
            out.insert(k.clone(), self.fill(DEV, v));
        }
        out
    }

    /// The handle, for setting up cases and reading the journal.
    pub fn handle(&self) -> &KineticDouble {
        &self.double
    }

    /// Runs `f` and returns its result with the requests it made.
    fn watched<T>(&self, f: impl FnOnce() -> T) -> (T, Vec<JournalEntry>) {
        let before = self.double.journal().len();
        let out = f();
        let all = self.double.journal();
        (
            out,
            all.get(before..).map(<[_]>::to_vec).unwrap_or_default(),
        )
    }
}

/// The requests among `calls` that ask to change the server, as
/// `Service/Method`.
fn mutating(calls: &[JournalEntry]) -> Vec<String> {
    calls
        .iter()
        .filter(|e| e.mutates())
        .map(JournalEntry::route)
        .collect()
}

/// Options for the other suites of a kinetic pack: pointed at the double.
pub fn options<'a>(double: &Double, opts: &Options<'a>) -> Options<'a> {
    Options {
        suites: opts.suites.clone(),
        config: double.config(PROD, &opts.config),
        secrets: double.secrets(&opts.secrets),
        attributes: opts.attributes.clone(),
        command_line: opts.command_line,
    }
}

/// A dev and a prod sandbox over one double.
pub(crate) struct World<'s, 'p> {
    pub double: &'s Double,
    pub dev: &'s Sandbox<'p>,
    pub prod: &'s Sandbox<'p>,
}

impl World<'_, '_> {
    /// A fresh instance in `company`'s sandbox.
    pub fn instance(&self, company: &str) -> Result<PackInstance, Fail> {
        Ok(if company == DEV {
            self.dev.instance()?
        } else {
            self.prod.instance()?
        })
    }
}

/// Runs the suite.
pub(crate) fn run(
    runtime: &Runtime,
    pack: &LoadedPack,
    double: &Double,
    opts: &Options<'_>,
    c: &mut Cases,
) -> Result<()> {
    let sandbox = |company: &str| {
        Sandbox::new(
            runtime,
            pack,
            &Options {
                suites: vec![],
                config: double.config(company, &opts.config),
                secrets: double.secrets(&opts.secrets),
                attributes: vec![],
                command_line: opts.command_line,
            },
        )
    };
    let dev = sandbox(DEV)?;
    let prod = sandbox(PROD)?;
    let w = World {
        double,
        dev: &dev,
        prod: &prod,
    };
    // The inventory and schema cases first: the install cases change the
    // prod company's layers and UD fields.
    target::describe(&w, c);
    target::run(&w, c);
    let built = solutions::run(&w, c);
    layers::run(&w, built.as_ref(), c);
    Ok(())
}
