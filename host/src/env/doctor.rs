//! `env doctor`: checks every binding of an environment and says, for each
//! problem, how bad it is and the exact command that fixes it.

use envpack_descriptor::{Descriptor, Slot};
use envpack_manifest::{Capability, exported_interfaces};
use serde::Serialize;

use super::model::{Binding, EnvName};
use super::session::Session;
use super::{EnvRecords, SLOTS};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::packs;
use crate::runtime::Runtime;
use crate::store::{Store, VerifiedPack};

/// One finding.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorFinding {
    /// `error` (the slot will not work) or `warning`.
    pub severity: &'static str,
    /// The slot concerned, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slot: Option<Slot>,
    /// Which check: `binding`, `resolve`, `digest`, `world`, `grants`,
    /// `artifact`, `secrets`, `lock`, `records` (a damaged deployment
    /// record), `reality`, `tag` (the registry tag a pack was pulled from
    /// moved).
    pub check: &'static str,
    /// What is wrong.
    pub message: String,
    /// The command that fixes it.
    pub fix: String,
}

/// What `env doctor` found.
#[derive(Clone, Debug, Serialize)]
pub struct DoctorReport {
    /// The environment.
    pub environment: EnvName,
    /// Every finding, errors and warnings.
    pub findings: Vec<DoctorFinding>,
}

impl DoctorReport {
    /// How many findings are errors.
    pub fn errors(&self) -> usize {
        self.findings
            .iter()
            .filter(|f| f.severity == "error")
            .count()
    }

    /// `checks-failed` when any finding is an error, carrying every finding
    /// in its details and the first error's fix as its hint.
    pub fn check(&self) -> Result<()> {
        let errors = self.errors();
        if errors == 0 {
            return Ok(());
        }
        Err(Error::new(
            Kind::ChecksFailed,
            format!("environment {} has {errors} problem(s)", self.environment),
        )
        .hint(
            self.findings
                .iter()
                .find(|f| f.severity == "error")
                .map_or(String::new(), |f| f.fix.clone()),
        )
        .with_details(serde_json::json!({ "findings": self.findings })))
    }
}

/// Runs every check on environment `name`.
pub fn doctor(home: &Home, runtime: &Runtime, name: &EnvName) -> Result<DoctorReport> {
    let findings = findings(home, runtime, name)?;
    Ok(DoctorReport {
        environment: name.clone(),
        findings,
    })
}

fn findings(home: &Home, runtime: &Runtime, name: &EnvName) -> Result<Vec<DoctorFinding>> {
    let mut c = Checkup {
        home,
        runtime,
        name,
        store: Store::open(home),
        out: Vec::new(),
        secrets_needed: Vec::new(),
    };
    let (meta, lock) = match EnvRecords::new(home, name).load() {
        Ok(v) => v,
        Err(e) => {
            let fix = e.hint_text().unwrap_or("").to_string();
            c.error(None, "lock", e.message().to_string(), fix);
            return Ok(c.out);
        }
    };
    for slot in SLOTS {
        match lock.slots.get(&slot) {
            Some(b) => c.binding(slot, b),
            // `env init` binds the built-in deployer in local mode only.
            None if slot == Slot::Deployer && meta.mode != super::Mode::local() => c.error(
                Some(slot),
                "binding",
                format!(
                    "the deployer slot is not bound; mode {} needs a deployer whose target is {}",
                    meta.mode,
                    meta.mode.target()
                ),
                super::mode::bind_command(name.as_str(), &meta.mode),
            ),
            None => c.error(
                Some(slot),
                "binding",
                format!("the {slot} slot is not bound"),
                format!("envpack env init {name}"),
            ),
        }
    }
    // Command-only packs get every check a slot's pack gets.
    for b in lock.commands.values() {
        c.binding(Slot::Command, b);
    }
    c.secrets();
    Ok(c.out)
}

/// The checks of one doctor run and what they found.
struct Checkup<'a> {
    home: &'a Home,
    runtime: &'a Runtime,
    name: &'a EnvName,
    store: Store,
    out: Vec<DoctorFinding>,
    /// Secrets bound packs read, to check they exist.
    secrets_needed: Vec<(Slot, String)>,
}

impl Checkup<'_> {
    fn push(
        &mut self,
        severity: &'static str,
        slot: Option<Slot>,
        check: &'static str,
        message: String,
        fix: String,
    ) {
        self.out.push(DoctorFinding {
            severity,
            slot,
            check,
            message,
            fix,
        });
    }

    fn error(&mut self, slot: Option<Slot>, check: &'static str, message: String, fix: String) {
        self.push("error", slot, check, message, fix);
    }

    /// Every check of one slot's binding.
    fn binding(&mut self, slot: Slot, b: &Binding) {
        let (name, d) = (self.name, &b.descriptor);
        let rebind = format!("envpack env bind {name} {slot} {}", b.requirement);
        if !b.requirement.matches(d) {
            self.error(
                Some(slot),
                "resolve",
                format!(
                    "the lock pins {d}, which does not satisfy the requirement {}",
                    b.requirement
                ),
                rebind.clone(),
            );
        }
        let pack = match self.store.load(d, Some(&b.digest)) {
            Ok(p) => p,
            Err(e) => return self.unloadable(slot, d, &rebind, &e),
        };
        self.world(slot, &pack, &rebind);
        self.tag(slot, b);
        let manifest = pack.manifest();
        let missing = manifest.requested().unsatisfied_by(&b.grants);
        if !missing.is_empty() {
            let flags: Vec<String> = missing.iter().map(|c| format!("--grant {c}")).collect();
            self.error(
                Some(slot),
                "grants",
                format!(
                    "{d} requests capabilities the lock does not grant: {}; it will be refused at load",
                    missing
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                format!("{rebind} {}", flags.join(" ")),
            );
        }
        if !packs::artifact_exists(&self.store, self.runtime, &b.digest) {
            self.push(
                "warning",
                Some(slot),
                "artifact",
                format!(
                    "{d} has no precompiled artifact for this engine ({}); the next command will compile it",
                    self.runtime.engine_key()
                ),
                format!("envpack env init {name}"),
            );
        }
        for cap in manifest.requested().iter() {
            if let Capability::Secret(s) | Capability::Credential(s) = cap
                && s != "*"
                && b.grants.covers(cap)
            {
                self.secrets_needed.push((slot, s.clone()));
            }
        }
    }

    /// The locked pack is missing or does not match its digest.
    fn unloadable(&mut self, slot: Slot, d: &Descriptor, rebind: &str, e: &Error) {
        let name = self.name;
        let (check, fix) = match e.kind() {
            Kind::NotFound => (
                "resolve",
                if super::defaults::default_requirement(slot).is_some_and(|r| r.id() == d.id()) {
                    format!("envpack env init {name}")
                } else {
                    format!("envpack pack install <{d} file>")
                },
            ),
            _ => (
                "digest",
                format!(
                    "envpack pack remove {d} --force && envpack pack install <the locked {d} file> (if {d} was reinstalled on purpose instead, accept it: {rebind})"
                ),
            ),
        };
        self.error(Some(slot), check, e.message().to_string(), fix);
    }

    /// The pack fills the slot it is bound to and exports its interface.
    fn world(&mut self, slot: Slot, pack: &VerifiedPack, rebind: &str) {
        let (name, manifest) = (self.name, pack.manifest());
        let d = &manifest.descriptor;
        let other = format!("envpack env bind {name} {slot} <a {slot} pack>");
        if manifest.slot() != slot {
            self.error(
                Some(slot),
                "world",
                format!("{d} is a {} pack bound to the {slot} slot", manifest.slot()),
                other.clone(),
            );
        }
        let want = format!("greentic:envpack/{slot}@{}", manifest.api_version);
        match exported_interfaces(pack.bytes()) {
            Ok(exports) if exports.contains(&want) => {}
            Ok(exports) => self.error(
                Some(slot),
                "world",
                format!(
                    "{d} does not export {want} (it exports {})",
                    exports.join(", ")
                ),
                other,
            ),
            Err(e) => self.error(Some(slot), "world", format!("{d}: {e}"), rebind.to_string()),
        }
    }

    /// The tag the pack was pulled from still points at the manifest the
    /// lock pinned. A moved tag is drift: the environment keeps running
    /// the pinned pack, and the finding says how to take the new one on
    /// purpose.
    fn tag(&mut self, slot: Slot, b: &Binding) {
        let Some(origin) = &b.origin else { return };
        let registries = match crate::registry::Registries::load(self.home) {
            Ok(r) => r,
            Err(e) => {
                return self.push(
                    "warning",
                    Some(slot),
                    "tag",
                    e.message().to_string(),
                    e.hint_text().unwrap_or("").to_string(),
                );
            }
        };
        let Some(check) = crate::registry::check_tag(&registries, origin) else {
            return;
        };
        let (name, d, tag) = (self.name, &b.descriptor, &check.reference);
        match (&check.current, &check.error) {
            (Some(now), _) if check.moved() => self.push(
                "warning",
                Some(slot),
                "tag",
                format!(
                    "drift: tag {tag}, which {d} was pulled from, now points at {now}, not the {} the lock pinned; {name} keeps running the pinned pack (a moved tag is never an upgrade)",
                    check.pinned
                ),
                format!(
                    "to take the new artifact on purpose: envpack pack install {} && envpack env bind {name} {slot} {}",
                    tag.by_digest(*now),
                    b.requirement
                ),
            ),
            (None, Some(why)) => self.push(
                "warning",
                Some(slot),
                "tag",
                format!("cannot check whether tag {tag} ({d}'s origin) still points at {}: {why}", check.pinned),
                format!("envpack registry tags oci://{}/{}", tag.host(), tag.repository()),
            ),
            _ => {}
        }
    }

    /// Every secret a bound pack reads exists in the environment.
    fn secrets(&mut self) {
        let broken_secrets_pack = self
            .out
            .iter()
            .any(|f| f.severity == "error" && f.slot == Some(Slot::Secrets));
        if self.secrets_needed.is_empty() || broken_secrets_pack {
            return;
        }
        let name = self.name;
        let names = Session::open(self.home, self.runtime, name).and_then(|s| {
            let r = s.with_secrets(false, |i| i.secrets()?.list());
            s.finish();
            r
        });
        let names = match names {
            Ok(names) => names,
            Err(e) => {
                return self.error(
                    Some(Slot::Secrets),
                    "secrets",
                    format!(
                        "cannot list secrets to check the ones packs need: {}",
                        e.message()
                    ),
                    format!("envpack env doctor {name} -v"),
                );
            }
        };
        for (slot, s) in std::mem::take(&mut self.secrets_needed) {
            if !names.contains(&s) {
                self.push(
                    "warning",
                    Some(slot),
                    "secrets",
                    format!(
                        "the {slot} pack reads secret {s:?}, which environment {name:?} does not hold"
                    ),
                    format!("envpack secrets put --env {name} {s}"),
                );
            }
        }
    }
}
