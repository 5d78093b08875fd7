//! `envpack pack dev`: build a pack crate as a dev version, install it, and
//! rebind it in a non-production environment, keeping that binding's
//! grants; older dev versions of the pack that nothing binds are removed.
//!
//! A dev version is `<version>-dev.<hex of the sha256 of the component and pack.toml>`: every
//! change gets a new one without touching `Cargo.toml`, and no requirement
//! without a pre-release (`@1.2.0`, `@^1`, `@*`) ever resolves to it, so a
//! production environment's requirements never pick one up; binding one in
//! a production environment is refused too (see `env::bind`).

use std::path::PathBuf;

use envpack_descriptor::Descriptor;
use envpack_manifest::Capability;
use serde::Serialize;

use crate::builder::{self, BuildOptions, Built};
use crate::env::{BindOptions, BindOutcome, EnvName, EnvRecords};
use crate::error::{Error, Kind, Result};
use crate::home::Home;
use crate::runtime::Runtime;
use crate::store::{InstallOutcome, Store};
use crate::types::Reporter;

/// What to do.
#[derive(Clone, Debug)]
pub struct DevOptions {
    /// The pack crate.
    pub dir: PathBuf,
    /// The environment to rebind, if any.
    pub env: Option<EnvName>,
    /// Capabilities to grant now (besides those the binding kept).
    pub grants: Vec<Capability>,
    /// Grant everything the pack requests.
    pub grant_requested: bool,
    /// Cargo's target directory.
    pub target_dir: Option<PathBuf>,
    /// Keep cargo quiet.
    pub quiet: bool,
}

/// What one round did.
#[derive(Clone, Debug, Serialize)]
pub struct DevOutcome {
    /// The build.
    pub built: Built,
    /// The install.
    pub installed: InstallOutcome,
    /// The rebind, when an environment was given.
    pub bound: Option<BindOutcome>,
    /// Older dev versions removed.
    pub collected: Vec<Descriptor>,
}

/// Whether `d` is a dev version.
pub fn is_dev(d: &Descriptor) -> bool {
    builder::is_dev_version(d.version())
}

/// Refuses a production environment before anything is built.
fn check_env(home: &Home, env: &EnvName) -> Result<()> {
    let (meta, _) = EnvRecords::new(home, env).load()?;
    if meta.policy.production {
        return Err(Error::new(
            Kind::Denied,
            format!("environment {env:?} is production; `pack dev` binds dev versions only in non-production environments"),
        )
        .hint("envpack pack dev <DIR> --env <ENV>, naming a non-production environment"));
    }
    Ok(())
}

/// One round: build, install, rebind, collect.
pub fn dev_round(
    home: &Home,
    runtime: &Runtime,
    opts: &DevOptions,
    reporter: &dyn Reporter,
) -> Result<DevOutcome> {
    if let Some(env) = &opts.env {
        check_env(home, env)?;
    }
    let built = builder::build(
        &BuildOptions {
            dir: opts.dir.clone(),
            out_dir: None,
            debug: false,
            dev: true,
            target_dir: opts.target_dir.clone(),
            quiet: opts.quiet,
        },
        reporter,
    )?;
    let installed = crate::env::install_packs(home, runtime, std::slice::from_ref(&built.path))?
        .into_iter()
        .next()
        .ok_or_else(|| Error::internal("installing the dev build reported nothing"))?;
    let d = &installed.descriptor;
    let bound = match &opts.env {
        Some(env) => Some(crate::env::bind(
            home,
            runtime,
            env,
            &BindOptions {
                slot: d.id().slot(),
                requirement: &format!("{}@={}", d.id(), d.version()),
                grants: &opts.grants,
                grant_requested: opts.grant_requested,
                dry_run: false,
            },
        )?),
        None => None,
    };
    let collected = collect(home, d)?;
    Ok(DevOutcome {
        built,
        installed,
        bound,
        collected,
    })
}

/// Removes the dev versions of `keep`'s pack other than `keep` that no
/// environment binds (a bound one stays until it is rebound).
fn collect(home: &Home, keep: &Descriptor) -> Result<Vec<Descriptor>> {
    let mut out = Vec::new();
    for p in Store::open(home).list()? {
        let d = p.descriptor;
        if d.id() != keep.id() || &d == keep || !is_dev(&d) {
            continue;
        }
        match crate::env::remove_pack(home, &d, false) {
            Ok(_) => out.push(d),
            Err(e) if e.kind() == Kind::Conflict => {}
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}
