//! `envpack plan`, `envpack apply` and `envpack env export`: environments
//! declared in `envpack.toml` ([`crate::env::declared`]).

use std::collections::BTreeMap;
use std::path::PathBuf;

use envpack_descriptor::Slot;
use serde_json::json;

use crate::cli::Ctx;
use crate::cli::args::EnvFileArgs;
use crate::cli::output::Report;
use crate::env::declared::{self, DeclaredEnv, EnvFile};
use crate::env::plan::Plan;
use crate::env::{self, EnvName, Session};
use crate::error::{Error, Result};

/// The file `--file` names, or the nearest `envpack.toml` upward.
fn file_path(a: &EnvFileArgs) -> Result<PathBuf> {
    if let Some(f) = &a.file {
        return Ok(f.clone());
    }
    let cwd =
        std::env::current_dir().map_err(|e| Error::io("read", std::path::Path::new("."), e))?;
    declared::find(&cwd).ok_or_else(|| {
        Error::not_found(format!(
            "no {} in {} or any parent directory",
            declared::FILE_NAME,
            cwd.display()
        ))
        .hint(
            "write one from the environments you have: envpack env export --all --out envpack.toml",
        )
    })
}

fn schema() -> Report {
    let schema = serde_json::to_value(schemars::schema_for!(EnvFile)).unwrap_or_default();
    let text = serde_json::to_string_pretty(&schema).unwrap_or_default();
    Report::raw(text, schema, 0)
}

/// Every declared environment's plan, in ladder order, with the secrets
/// it names that do not exist.
struct Planned {
    plans: Vec<(EnvName, Plan, bool)>,
    missing_secrets: Vec<String>,
    unmanaged: Vec<String>,
}

fn planned(ctx: &Ctx, file: &EnvFile) -> Result<Planned> {
    let mut plans = Vec::new();
    let mut missing_secrets = Vec::new();
    for name in declared::ladder_order(file) {
        let env_name: EnvName = name.parse()?;
        let have = env::show(&ctx.home, &env_name).ok();
        let want = &file.env[&name];
        plans.push((
            env_name.clone(),
            declared::diff(&env_name, want, have.as_ref())?,
            have.is_some(),
        ));
        if have.is_some() && !want.secrets.is_empty() {
            let names = Session::scoped_as(&ctx.home, ctx.runtime()?, &env_name, true, |s| {
                s.with_secrets(false, |i| i.secrets()?.list())
            })?;
            for secret in want.secrets.iter().filter(|s| !names.contains(s)) {
                missing_secrets.push(format!(
                    "secret {secret} is missing in {name}: envpack secrets put --env {name} {secret}"
                ));
            }
        }
    }
    let unmanaged = env::list(&ctx.home)?
        .into_iter()
        .map(|v| v.name.to_string())
        .filter(|n| !file.env.contains_key(n))
        .collect();
    Ok(Planned {
        plans,
        missing_secrets,
        unmanaged,
    })
}

fn render(p: &Planned) -> (String, usize) {
    let mut out = String::new();
    let mut changes = 0;
    for (name, plan, exists) in &p.plans {
        if plan.changes.is_empty() {
            continue;
        }
        changes += plan.changes.len();
        out.push_str(&format!("{} env {name}\n", if *exists { "~" } else { "+" }));
        for c in &plan.changes {
            let op = match (c.before.as_str(), c.after.as_str()) {
                ("-", _) => "+",
                (_, "-") => "-",
                _ => "~",
            };
            out.push_str(&format!(
                "    {op} {}  {} -> {}\n",
                c.what, c.before, c.after
            ));
        }
    }
    for m in &p.missing_secrets {
        out.push_str(&format!("! {m}\n"));
    }
    if !p.unmanaged.is_empty() {
        out.push_str(&format!(
            "environments not in the file, left as they are: {}\n",
            p.unmanaged.join(", ")
        ));
    }
    out.push_str(&if changes == 0 {
        "no changes".to_string()
    } else {
        format!("{changes} change(s) to apply: envpack apply")
    });
    (out, changes)
}

fn json_of(p: &Planned) -> serde_json::Value {
    json!({
        "environments": p.plans.iter().map(|(n, plan, exists)| json!({
            "environment": n, "exists": exists, "changes": plan.changes,
        })).collect::<Vec<_>>(),
        "missing_secrets": p.missing_secrets,
        "unmanaged": p.unmanaged,
    })
}

/// `envpack plan`: exit 0 with no changes, 2 with changes to apply.
pub fn plan(ctx: &Ctx, a: EnvFileArgs) -> Result<Report> {
    if a.schema {
        return Ok(schema());
    }
    let file = declared::load(&file_path(&a)?)?;
    let p = planned(ctx, &file)?;
    let (human, changes) = render(&p);
    Ok(Report::raw(
        human,
        json_of(&p),
        if changes == 0 { 0 } else { 2 },
    ))
}

/// `envpack apply`: each environment after its previous rung; production
/// changes confirmed; every change through the audited operations.
pub fn apply(ctx: &Ctx, a: EnvFileArgs) -> Result<Report> {
    if a.schema {
        return Ok(schema());
    }
    let file = declared::load(&file_path(&a)?)?;
    let p = planned(ctx, &file)?;
    if ctx.dry_run {
        let (human, _) = render(&p);
        return Ok(Report::new(
            format!("{human}\ndry run: nothing was changed"),
            &json_of(&p),
        ));
    }
    let mut applied = 0;
    for (name, plan, exists) in &p.plans {
        if plan.changes.is_empty() {
            continue;
        }
        if *exists {
            ctx.confirm(name, "apply", name.as_str(), || Ok(plan.human()))?;
        }
        apply_env(ctx, name, &file.env[name.as_str()], *exists)?;
        applied += plan.changes.len();
    }
    let after = planned(ctx, &file)?;
    let (rest, _) = render(&after);
    Ok(Report::new(
        format!("applied {applied} change(s)\n{rest}"),
        &json!({"applied": applied, "plan": json_of(&after)}),
    ))
}

fn apply_env(ctx: &Ctx, name: &EnvName, want: &DeclaredEnv, exists: bool) -> Result<()> {
    let policy = want.policy()?;
    if !exists {
        // A declared secrets pack replaces the dev-store in the same apply;
        // whether the dev-store may stay is settled after the bindings.
        let other_secrets = want
            .slots
            .get("secrets")
            .is_some_and(|s| !s.pack.starts_with(env::dev_secrets::DEV_STORE));
        let opts = env::InitOptions {
            production: Some(policy.production),
            sources: policy.allowed_sources.iter().copied().collect(),
            after: policy.after.clone(),
            mode: want.mode.clone(),
            secrets: None,
            allow_dev_secrets: policy.allow_dev_secrets || other_secrets,
        };
        env::init(&ctx.home, ctx.runtime()?, name, &opts)?;
    }
    let mut have = env::show(&ctx.home, name)?;
    if let Some(mode) = want.mode.as_ref().filter(|m| **m != have.meta.mode) {
        have.meta.mode = env::set_mode(&ctx.home, name, mode.clone())?;
    }
    let gate = &have.meta.policy.gate;
    let edit = env::PolicyEdit {
        production: Some(policy.production),
        set_sources: policy.allowed_sources.iter().copied().collect(),
        after: Some(policy.after.clone()),
        add_evidence: policy
            .gate
            .evidence
            .difference(&gate.evidence)
            .cloned()
            .collect(),
        remove_evidence: gate
            .evidence
            .difference(&policy.gate.evidence)
            .cloned()
            .collect(),
        soak: Some(policy.gate.soak),
        no_drift: Some(policy.gate.no_drift),
        ..Default::default()
    };
    env::policy(&ctx.home, name, &edit, false)?;
    for (slot, s) in &want.slots {
        let slot_id = slot
            .parse::<Slot>()
            .map_err(|e| Error::invalid(e.to_string()))?;
        // A slot already bound as declared is left as it is: rebinding it
        // would write the lock and audit a change that changes nothing.
        if s.bound_as(have.lock.slots.get(&slot_id))? {
            continue;
        }
        let grants = s
            .grants
            .iter()
            .map(|g| g.parse().map_err(Error::from))
            .collect::<Result<Vec<_>>>()?;
        let opts = env::BindOptions {
            slot: slot_id,
            requirement: &s.pack,
            grants: &grants,
            grant_requested: false,
            dry_run: false,
        };
        env::bind(&ctx.home, ctx.runtime()?, name, &opts)?;
    }
    if policy.production {
        let edit = env::PolicyEdit {
            allow_dev_secrets: Some(policy.allow_dev_secrets),
            ..Default::default()
        };
        env::policy(&ctx.home, name, &edit, false)?;
    }
    apply_config(ctx, name, &have.meta.config, &want.config)
}

fn apply_config(
    ctx: &Ctx,
    name: &EnvName,
    have: &BTreeMap<String, BTreeMap<String, String>>,
    want: &BTreeMap<String, BTreeMap<String, String>>,
) -> Result<()> {
    for (pack, keys) in want {
        let id: envpack_descriptor::PackId = pack.parse()?;
        let current = have.get(pack).cloned().unwrap_or_default();
        for (k, v) in keys {
            if current.get(k) != Some(v) {
                env::config_set(&ctx.home, name, &id, k, Some(v))?;
            }
        }
        for k in current.keys().filter(|k| !keys.contains_key(*k)) {
            env::config_set(&ctx.home, name, &id, k, None)?;
        }
    }
    Ok(())
}

/// `envpack env export`.
pub fn export(ctx: &Ctx, names: Vec<String>, all: bool, out: Option<PathBuf>) -> Result<Report> {
    let names: Vec<EnvName> = if all {
        env::list(&ctx.home)?.into_iter().map(|v| v.name).collect()
    } else if names.is_empty() {
        vec![ctx.env_name()?]
    } else {
        names.iter().map(|n| n.parse()).collect::<Result<_>>()?
    };
    let mut file = EnvFile::default();
    for n in &names {
        let v = env::show(&ctx.home, n)?;
        file.env.insert(n.to_string(), DeclaredEnv::of(&v));
    }
    let text = toml::to_string_pretty(&file)
        .map_err(|e| Error::internal(format!("cannot write envpack.toml: {e}")))?;
    let text = format!(
        "# Environments of this envpack home, as code: `envpack plan` compares,\n# `envpack apply` makes them match. Secrets are listed by name only.\n\n{text}"
    );
    match out {
        Some(path) => {
            crate::fsutil::write_atomic(&path, text.as_bytes())?;
            Ok(Report::new(
                format!("wrote {} environment(s) to {}", names.len(), path.display()),
                &json!({"path": path, "environments": names}),
            ))
        }
        None => Ok(Report::new(
            text.trim_end().to_string(),
            &json!({"file": text}),
        )),
    }
}
