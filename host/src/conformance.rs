//! Conformance suites: `envpack pack test`.
//!
//! One suite per slot exercises a pack's exports against the contract as
//! `wit/v0.1.0/slots.wit` and `docs/wit-reference.md` document it, and
//! reports every case with the rule it checks and what the pack did. The
//! pack runs in the real sandbox ([`sandbox`]): its requested capabilities
//! granted, its kv and scratch directory in a temporary directory of its own,
//! shared by every instance the suite creates, so durability and
//! compare-and-swap across instances are tested on real instances.
//!
//! - [`state`], [`secrets`], [`telemetry`], [`deployer`], [`kinetic`]: the
//!   slot suites ([`kinetic`] against the Kinetic REST double, started
//!   in-process for the run).
//! - [`commands`]: the `command` export, for packs that declare commands.
//! - [`junit`]: the JUnit XML rendering for a pack's CI.
//!
//! This module sits beside the deployment verbs: it uses the runtime and
//! the local process table, never the CLI or environments.

pub mod commands;
pub mod deployer;
pub mod junit;
pub mod kinetic;
mod sandbox;
pub mod secrets;
pub mod state;
pub mod target_setup;
pub mod telemetry;

use std::collections::BTreeMap;
use std::fmt;

use envpack_descriptor::Slot;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::runtime::{LoadedPack, Runtime};

pub use commands::CommandLine;
pub use sandbox::Sandbox;

/// A suite: one per slot, and `commands`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Suite {
    /// The `state` slot.
    State,
    /// The `secrets` slot.
    Secrets,
    /// The `telemetry` slot.
    Telemetry,
    /// The `deployer` slot.
    Deployer,
    /// The `kinetic` slot (API 0.2.0).
    Kinetic,
    /// The `command` export and the declared commands.
    Commands,
}

impl Suite {
    /// Every suite's name, as `--slot` takes it.
    pub const NAMES: [&'static str; 6] = [
        "state",
        "secrets",
        "telemetry",
        "deployer",
        "kinetic",
        "commands",
    ];

    /// The name.
    pub fn as_str(self) -> &'static str {
        match self {
            Suite::State => "state",
            Suite::Secrets => "secrets",
            Suite::Telemetry => "telemetry",
            Suite::Deployer => "deployer",
            Suite::Kinetic => "kinetic",
            Suite::Commands => "commands",
        }
    }

    /// The suite of a slot, when the slot has one.
    pub fn of_slot(slot: Slot) -> Option<Suite> {
        match slot {
            Slot::State => Some(Suite::State),
            Slot::Secrets => Some(Suite::Secrets),
            Slot::Telemetry => Some(Suite::Telemetry),
            Slot::Deployer => Some(Suite::Deployer),
            Slot::Kinetic => Some(Suite::Kinetic),
            // A command-only pack's contract is its commands.
            Slot::Command => None,
        }
    }
}

impl fmt::Display for Suite {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Suite {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        match s {
            "state" => Ok(Suite::State),
            "secrets" => Ok(Suite::Secrets),
            "telemetry" => Ok(Suite::Telemetry),
            "deployer" => Ok(Suite::Deployer),
            "kinetic" => Ok(Suite::Kinetic),
            "commands" | "command" => Ok(Suite::Commands),
            other => Err(Error::invalid(format!(
                "there is no conformance suite {other:?}; expected one of {}",
                Suite::NAMES.join(", ")
            ))),
        }
    }
}

/// How a case ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// The pack kept the rule.
    Pass,
    /// The pack broke the rule.
    Fail,
    /// The rule does not apply to this pack (it says so in `describe`), or
    /// a case it depends on failed.
    Skip,
}

/// One checked rule.
#[derive(Clone, Debug, Serialize)]
pub struct Case {
    /// The suite.
    pub suite: Suite,
    /// Short stable name, such as `generation-starts-at-1`.
    pub case: String,
    /// The rule, as the contract states it.
    pub rule: String,
    /// Whether the pack kept it (a skipped case is `true`).
    pub ok: bool,
    /// Pass, fail or skip.
    pub status: Status,
    /// What the pack did.
    pub observed: String,
}

/// What a case found: `Ok(observation)` passes, `Err(observation)` fails.
pub(crate) type Verdict = std::result::Result<String, Fail>;

/// A failed case's observation. Host errors (a pack's WIT error, a trap)
/// convert into one, so a case can use `?` on every call.
#[derive(Debug)]
pub(crate) struct Fail(pub String);

impl From<Error> for Fail {
    fn from(e: Error) -> Self {
        Fail(format!(
            "the call failed with {}: {}",
            e.kind().as_str(),
            e.message()
        ))
    }
}

impl From<String> for Fail {
    fn from(s: String) -> Self {
        Fail(s)
    }
}

/// Fails with `message` unless `cond` holds.
pub(crate) fn ensure(cond: bool, message: impl FnOnce() -> String) -> Result<(), Fail> {
    if cond { Ok(()) } else { Err(Fail(message())) }
}

/// Collects the cases of one suite.
pub(crate) struct Cases {
    suite: Suite,
    out: Vec<Case>,
}

impl Cases {
    fn new(suite: Suite) -> Self {
        Self {
            suite,
            out: Vec::new(),
        }
    }

    /// Records a case from its verdict.
    pub(crate) fn record(&mut self, case: &str, rule: &str, verdict: Verdict) -> bool {
        let (status, observed) = match verdict {
            Ok(o) => (Status::Pass, o),
            Err(Fail(o)) => (Status::Fail, o),
        };
        self.push(case, rule, status, observed);
        status == Status::Pass
    }

    /// Runs `check` and records its verdict; `true` when it passed.
    pub(crate) fn check(
        &mut self,
        case: &str,
        rule: &str,
        check: impl FnOnce() -> Verdict,
    ) -> bool {
        let verdict = check();
        self.record(case, rule, verdict)
    }

    /// Records a case that does not apply, and why.
    pub(crate) fn skip(&mut self, case: &str, rule: &str, why: impl Into<String>) {
        self.push(case, rule, Status::Skip, why.into());
    }

    fn push(&mut self, case: &str, rule: &str, status: Status, observed: String) {
        self.out.push(Case {
            suite: self.suite,
            case: case.to_string(),
            rule: rule.to_string(),
            ok: status != Status::Fail,
            status,
            observed,
        });
    }
}

/// What `pack test` runs.
pub struct Options<'a> {
    /// The suites to run; empty: the pack's slot, and `commands` when it
    /// declares commands.
    pub suites: Vec<Suite>,
    /// Config values the pack reads through `config`.
    pub config: BTreeMap<String, String>,
    /// Secrets it reads through `secrets-access`, or has attached as
    /// credentials.
    pub secrets: BTreeMap<String, String>,
    /// Extra attributes of the deployer suite's test bundle.
    pub attributes: Vec<(String, String)>,
    /// The host's command-line parser for declared commands.
    pub command_line: &'a dyn CommandLine,
}

/// The outcome of `pack test`.
#[derive(Clone, Debug, Serialize)]
pub struct Outcome {
    /// The pack.
    pub pack: envpack_descriptor::Descriptor,
    /// Its digest.
    pub digest: envpack_manifest::Digest,
    /// The suites run.
    pub suites: Vec<Suite>,
    /// Every case, in order.
    pub cases: Vec<Case>,
    /// Cases passed.
    pub passed: usize,
    /// Cases failed.
    pub failed: usize,
    /// Cases skipped.
    pub skipped: usize,
}

impl Outcome {
    /// `checks-failed` naming the failed cases, when any failed.
    pub fn check(&self) -> Result<()> {
        if self.failed == 0 {
            return Ok(());
        }
        let names: Vec<String> = self
            .cases
            .iter()
            .filter(|c| c.status == Status::Fail)
            .map(|c| format!("{}/{}", c.suite, c.case))
            .collect();
        Err(Error::new(
            crate::error::Kind::ChecksFailed,
            format!(
                "{} failed {} of {} conformance case(s): {}",
                self.pack,
                self.failed,
                self.cases.len(),
                names.join(", ")
            ),
        )
        .hint("each failed case names the rule it checks and what the pack did; see docs/pack-author-guide.md#conformance-envpack-pack-test")
        .with_details(serde_json::json!({ "result": self })))
    }
}

/// The suites `pack` gets by default: its slot's, and `commands` when it
/// declares commands.
pub fn default_suites(pack: &LoadedPack) -> Vec<Suite> {
    let mut out: Vec<Suite> = Suite::of_slot(pack.manifest().slot()).into_iter().collect();
    if !pack.manifest().commands.is_empty() {
        out.push(Suite::Commands);
    }
    out
}

/// Runs the conformance suites on `pack`.
pub fn run(runtime: &Runtime, pack: &LoadedPack, opts: &Options<'_>) -> Result<Outcome> {
    let suites = if opts.suites.is_empty() {
        default_suites(pack)
    } else {
        opts.suites.clone()
    };
    if suites.is_empty() {
        return Err(Error::invalid(format!(
            "{} fills the {} slot, which has no conformance suite, and declares no commands",
            pack.label(),
            pack.manifest().slot()
        ))
        .hint("pick a suite with --slot commands"));
    }
    let slot = pack.manifest().slot();
    // A kinetic pack runs every suite against one Kinetic double: its
    // commands too, so they reach a server without an operator's settings.
    let double = match slot {
        envpack_descriptor::Slot::Kinetic => Some(kinetic::Double::start()?),
        _ => None,
    };
    let given = opts;
    let pointed = double.as_ref().map(|d| kinetic::options(d, opts));
    let opts = pointed.as_ref().unwrap_or(opts);
    let mut cases = Vec::new();
    for suite in &suites {
        if *suite != Suite::Commands && Suite::of_slot(slot) != Some(*suite) {
            return Err(Error::invalid(format!(
                "{} fills the {slot} slot, so the {suite} suite cannot run on it",
                pack.label()
            ))
            .hint(format!(
                "run the suite of its slot: --slot {}",
                Suite::of_slot(slot).map_or("commands", Suite::as_str)
            )));
        }
        let sandbox = Sandbox::new(runtime, pack, opts)?;
        let mut c = Cases::new(*suite);
        match suite {
            Suite::State => state::run(&sandbox, &mut c),
            Suite::Secrets => secrets::run(&sandbox, &mut c),
            Suite::Telemetry => telemetry::run(&sandbox, &mut c),
            Suite::Deployer => deployer::run(&sandbox, &mut c),
            Suite::Kinetic => match &double {
                // The operator's settings, before the prod company was set.
                Some(d) => kinetic::run(runtime, pack, d, given, &mut c)?,
                None => return Err(Error::internal("the kinetic suite runs without its double")),
            },
            Suite::Commands => commands::run(&sandbox, opts.command_line, &mut c),
        }
        sandbox.sweep();
        cases.extend(c.out);
    }
    let count = |s: Status| cases.iter().filter(|c| c.status == s).count();
    Ok(Outcome {
        pack: pack.label().descriptor.clone(),
        digest: pack.label().digest,
        passed: count(Status::Pass),
        failed: count(Status::Fail),
        skipped: count(Status::Skip),
        suites,
        cases,
    })
}
