//! Pack operations that need both the store and the runtime: install
//! (verify, store, precompile) and load (verify, load the precompiled
//! artifact, link).

use std::path::{Path, PathBuf};

use envpack_descriptor::Descriptor;
use envpack_manifest::Digest;

use crate::error::Result;
use crate::fsutil;
use crate::runtime::{LoadedPack, Runtime};
use crate::store::{InstallOutcome, Store, VerifiedPack};

/// Installs pack files and precompiles each for this engine, so commands
/// never compile.
pub fn install(store: &Store, runtime: &Runtime, files: &[PathBuf]) -> Result<Vec<InstallOutcome>> {
    let mut out = Vec::new();
    for file in files {
        let (outcome, pack) = store.install_file(file)?;
        compile_or_roll_back(store, runtime, &outcome, &pack)?;
        out.push(outcome);
    }
    Ok(out)
}

/// Installs pack bytes (embedded defaults) and precompiles them.
pub fn install_bytes(
    store: &Store,
    runtime: &Runtime,
    bytes: Vec<u8>,
    source: &str,
) -> Result<InstallOutcome> {
    let (outcome, pack) = store.install_bytes(bytes, source)?;
    compile_or_roll_back(store, runtime, &outcome, &pack)?;
    Ok(outcome)
}

/// Installs a pack pulled from a registry (its origin recorded) and
/// precompiles it.
pub fn install_pulled(
    store: &Store,
    runtime: &Runtime,
    bytes: Vec<u8>,
    origin: crate::types::PackOrigin,
) -> Result<InstallOutcome> {
    let (outcome, pack) = store.install_pulled(bytes, origin)?;
    compile_or_roll_back(store, runtime, &outcome, &pack)?;
    Ok(outcome)
}

/// Precompiles a pack just stored; when that fails (a file whose manifest
/// reads but whose code does not compile), removes what this install added,
/// so a refused install leaves nothing behind and the version is not taken.
fn compile_or_roll_back(
    store: &Store,
    runtime: &Runtime,
    outcome: &InstallOutcome,
    pack: &VerifiedPack,
) -> Result<()> {
    let Err(e) = ensure_artifact(store, runtime, pack) else {
        return Ok(());
    };
    if outcome.outcome == "installed"
        && let Err(undo) = store.remove(&outcome.descriptor)
    {
        tracing::warn!(pack = %outcome.descriptor, "cannot undo the failed install: {undo}");
    }
    Err(e)
}

/// Makes sure the precompiled artifact of `pack` exists for this engine,
/// compiling it if not. Returns its path.
pub fn ensure_artifact(store: &Store, runtime: &Runtime, pack: &VerifiedPack) -> Result<PathBuf> {
    let path = store.artifact_path(&pack.label().digest, runtime.engine_key());
    if path.exists() {
        return Ok(path);
    }
    let _span = tracing::info_span!("compile", pack = %pack.label().descriptor).entered();
    let compiling = runtime
        .reporter()
        .start(format!("compiling {}", pack.label().descriptor));
    let artifact = runtime.precompile(pack.bytes(), pack.label())?;
    fsutil::write_atomic(&path, &artifact)?;
    drop(compiling);
    Ok(path)
}

/// Whether the precompiled artifact for `digest` exists for this engine.
pub fn artifact_exists(store: &Store, runtime: &Runtime, digest: &Digest) -> bool {
    store.artifact_path(digest, runtime.engine_key()).exists()
}

/// Loads an installed pack: checks its bytes (against `expected` when a lock
/// recorded one), then loads its precompiled artifact. A missing artifact
/// (first run after a wasmtime upgrade) is rebuilt once, with a note.
pub fn load(
    store: &Store,
    runtime: &Runtime,
    d: &Descriptor,
    expected: Option<&Digest>,
) -> Result<LoadedPack> {
    let pack = store.load(d, expected)?;
    let path = store.artifact_path(&pack.label().digest, runtime.engine_key());
    if !path.exists() {
        tracing::warn!(pack = %d, "no precompiled artifact for this engine; compiling it now (done once)");
        ensure_artifact(store, runtime, &pack)?;
    }
    match runtime.load_artifact(&path, pack.label().clone(), pack.manifest().clone()) {
        // The cache is derived data: an unreadable artifact (truncated by a
        // crash, written by another build) is rebuilt from the verified pack.
        Err(e) if e.kind() == crate::error::Kind::Integrity => {
            tracing::warn!(pack = %d, "{}; rebuilding it", e.message());
            std::fs::remove_file(&path)
                .map_err(|err| crate::error::Error::io("remove", &path, err))?;
            ensure_artifact(store, runtime, &pack)?;
            runtime.load_artifact(&path, pack.label().clone(), pack.manifest().clone())
        }
        other => other,
    }
}

/// Loads a pack file that is not installed (for `pack call FILE`).
pub fn load_file(runtime: &Runtime, path: &Path) -> Result<LoadedPack> {
    let bytes =
        std::fs::read(path).map_err(|e| crate::error::Error::io("read pack file", path, e))?;
    let manifest = envpack_manifest::read_manifest(&bytes)
        .map_err(|e| crate::error::Error::invalid(format!("{}: {e}", path.display())))?;
    let label = crate::runtime::PackLabel {
        descriptor: manifest.descriptor.clone(),
        digest: Digest::of(&bytes),
    };
    runtime.load_bytes(&bytes, label, std::sync::Arc::new(manifest))
}

/// What `pack call` runs: a pack outside any environment, with the grants
/// and config given on the command line.
#[derive(Clone, Debug)]
pub struct CallOptions<'a> {
    /// An installed pack's requirement, or a `.wasm` file.
    pub pack: &'a str,
    /// Capabilities granted.
    pub grants: Vec<envpack_manifest::Capability>,
    /// Grant everything the manifest requests.
    pub grant_requested: bool,
    /// `config` values.
    pub config: std::collections::BTreeMap<String, String>,
    /// Secret values (`secrets-access` and credentials); none means no
    /// secrets store at all.
    pub secrets: std::collections::BTreeMap<String, String>,
    /// WAVE calls, in order.
    pub calls: &'a [String],
}

/// What `pack call` did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CallOutcome {
    /// The pack.
    pub pack: Descriptor,
    /// Its digest.
    pub digest: Digest,
    /// Each call and its WAVE result.
    pub calls: Vec<CalledExport>,
    /// Capability uses refused.
    pub denials: Vec<String>,
}

/// One call of `pack call`.
#[derive(Clone, Debug, serde::Serialize)]
pub struct CalledExport {
    /// The call.
    pub call: String,
    /// Its results in WAVE.
    pub result: String,
}

/// `pack call`: instantiates a pack with its kv under the home's `packs/`
/// and its scratch directory per digest, and calls its exports by WAVE
/// expressions.
pub fn call(
    home: &crate::home::Home,
    runtime: &Runtime,
    opts: &CallOptions<'_>,
) -> Result<CallOutcome> {
    use std::sync::Arc;

    use crate::runtime::capabilities::kv::FileKv;
    use crate::runtime::{Granter, InstanceContext, Services};

    let loaded = if opts.pack.ends_with(".wasm") || Path::new(opts.pack).is_file() {
        load_file(runtime, Path::new(opts.pack))?
    } else {
        let req: envpack_descriptor::Requirement = opts.pack.parse()?;
        let store = Store::open(home);
        let d = store.resolve(&req)?;
        load(&store, runtime, &d, None)?
    };
    let requested = loaded.manifest().requested();
    let mut granted = if opts.grant_requested {
        requested.clone()
    } else {
        envpack_manifest::Grants::none()
    };
    for g in &opts.grants {
        granted.insert(g.clone());
    }
    let label = loaded.label().clone();
    let granter = Arc::new(Granter::new(
        label.clone(),
        requested,
        granted,
        "rerun with --grant {cap}",
    ));
    let secrets: Arc<dyn crate::runtime::capabilities::secrets::SecretSource> =
        if opts.secrets.is_empty() {
            Arc::new(crate::runtime::capabilities::secrets::NoSecrets)
        } else {
            Arc::new(opts.secrets.clone())
        };
    let services = Services {
        config: Arc::new(opts.config.clone()),
        secrets,
        kv: Arc::new(FileKv::with_quota(
            home.root().join("packs"),
            runtime.limits().kv_quota,
        )),
        ..Services::default()
    };
    let mut instance = loaded.instantiate(InstanceContext {
        granter,
        services,
        scratch_dir: Some(home.pack_data_dir(&label.digest).join("scratch")),
        scratch_quota: None,
    })?;
    let mut calls = Vec::new();
    for expr in opts.calls {
        let result = instance.call_wave(expr)?;
        calls.push(CalledExport {
            call: expr.clone(),
            result,
        });
    }
    // The granter already warned about each denial as it happened.
    let denials = instance.denials().into_iter().map(|d| d.message).collect();
    Ok(CallOutcome {
        pack: label.descriptor,
        digest: label.digest,
        calls,
        denials,
    })
}
