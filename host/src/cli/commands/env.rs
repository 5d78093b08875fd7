//! `envpack env ...`

use envpack_descriptor::PackId;
use envpack_manifest::Capability;
use serde_json::json;

use crate::cli::Ctx;
use envpack_descriptor::Slot;

use crate::cli::args::{EnvCommand, PolicyArgs};
use crate::cli::output::{Report, table};
use crate::env::plan::Plan;
use crate::env::{self, EnvName, EnvView};
use crate::error::{Error, Result};

mod modes;
mod policy;
mod render;
use policy::{policy_edit, set_policy, signing_edit};

fn name(s: &str) -> Result<EnvName> {
    s.parse()
}

fn after(p: &PolicyArgs) -> Result<Option<EnvName>> {
    p.after.as_deref().map(name).transpose()
}

fn grants(list: &[String]) -> Result<Vec<Capability>> {
    list.iter()
        .map(|g| g.parse::<Capability>().map_err(Error::from))
        .collect()
}

/// The provenance, signature and tag lines of `env show`, when any is set.
fn signing_lines(p: &env::Policy) -> String {
    if !p.require_signature
        && !p.require_provenance
        && p.trusted_keys.is_empty()
        && p.tag_patterns.is_empty()
    {
        return String::new();
    }
    let keys: Vec<&str> = p.trusted_keys.keys().map(String::as_str).collect();
    let or = |list: Vec<&str>, none: &str| {
        if list.is_empty() {
            none.to_string()
        } else {
            list.join(", ")
        }
    };
    format!(
        "  provenance       {}\n  signatures       {}\n  trusted keys     {}\n  tag patterns     {}\n",
        if p.require_provenance {
            "git required"
        } else {
            "any"
        },
        if p.require_signature {
            "required"
        } else {
            "not required"
        },
        or(keys, "none"),
        or(p.tag_patterns.iter().map(String::as_str).collect(), "any"),
    )
}

/// Renders an environment for people.
fn render(v: &EnvView) -> String {
    let p = &v.meta.policy;
    let sources: Vec<&str> = p.allowed_sources.iter().map(|s| s.as_str()).collect();
    let mut out = format!(
        "environment {}\n  mode             {}\n  production       {}\n  allowed sources  {}\n  after            {}\n  lock generation  {}\n\n",
        v.name,
        v.meta.mode,
        if p.production { "yes" } else { "no" },
        if sources.is_empty() {
            "none".to_string()
        } else {
            sources.join(", ")
        },
        p.after
            .as_ref()
            .map_or("-".to_string(), ToString::to_string),
        v.lock.generation
    );
    out.insert_str(out.len() - 1, &signing_lines(p));
    out.push_str(&table(
        &["slot", "pack", "requirement", "digest", "grants"],
        v.lock
            .bindings()
            .map(|(seat, b)| {
                vec![
                    seat.slot().to_string(),
                    b.descriptor.to_string(),
                    b.requirement.to_string(),
                    format!("sha256:{}", b.digest.short()),
                    b.grants
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(" "),
                ]
            })
            .collect(),
    ));
    if !v.meta.config.is_empty() {
        out.push_str("\n\nconfig:");
        for (pack, kv) in &v.meta.config {
            for (k, val) in kv {
                out.push_str(&format!("\n  {pack} {k} = {val}"));
            }
        }
    }
    out
}

/// Dispatches `envpack env`.
pub fn run(ctx: &Ctx, cmd: EnvCommand) -> Result<Report> {
    match cmd {
        EnvCommand::Init {
            name: n,
            policy,
            mode,
            secrets,
        } => init(ctx, n, policy, mode, secrets),
        EnvCommand::List => list(ctx),
        EnvCommand::Show { name: n } => show(ctx, n),
        EnvCommand::Bind {
            name: n,
            slot,
            descriptor,
            grants: g,
            grant_requested,
        } => bind(ctx, n, slot, descriptor, g, grant_requested),
        EnvCommand::Unbind {
            name: n,
            slot,
            pack,
        } => unbind(ctx, n, slot, pack.as_deref()),
        EnvCommand::Rm { name: n, force } => rm(ctx, n, force),
        EnvCommand::Policy {
            name: n,
            policy,
            no_production,
            no_after,
            add_source,
            remove_source,
            gate,
            signing,
        } => {
            let mut edit = policy_edit(&policy, no_production, no_after, gate)?;
            edit.add_sources = add_source;
            edit.remove_sources = remove_source;
            signing_edit(&mut edit, signing)?;
            set_policy(ctx, n, &edit)
        }
        EnvCommand::Retention {
            name: n,
            scale_down_delay,
            keep,
            reset,
        } => retention(ctx, n, scale_down_delay, keep, reset),
        EnvCommand::Export { names, all, out } => super::declared::export(ctx, names, all, out),
        EnvCommand::Mode { name: n, mode } => modes::mode(ctx, &n, mode),
        EnvCommand::Status { name: n } => modes::status(ctx, n),
        EnvCommand::Validate { name: n } => modes::validate(ctx, n),
        EnvCommand::Reset { name: n, timeout } => modes::reset(ctx, n, timeout),
        EnvCommand::Down { name: n } => down(ctx, n),
        EnvCommand::Up { name: n, timeout } => up(ctx, n, timeout),
        EnvCommand::Doctor { name: n } => doctor(ctx, n),
        EnvCommand::Limits {
            name: n,
            kv_quota_mb,
            scratch_quota_mb,
            reset,
        } => limits(ctx, n, kv_quota_mb, scratch_quota_mb, reset),
        EnvCommand::Config {
            name: n,
            pack,
            key,
            value,
            unset,
        } => config(ctx, n, pack, key, value, unset),
        EnvCommand::Render {
            name: n,
            deployment,
        } => render::run(ctx, n, deployment.as_deref()),
    }
}

fn init(
    ctx: &Ctx,
    n: Option<String>,
    policy: PolicyArgs,
    mode: Option<env::Mode>,
    secrets: Option<envpack_descriptor::Requirement>,
) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    let production = policy.production.then_some(true);
    let opts = env::InitOptions {
        production,
        sources: policy.allow_source.clone(),
        after: after(&policy)?,
        mode: mode.clone(),
        secrets,
        allow_dev_secrets: policy.allow_dev_secrets,
    };
    if ctx.dry_run {
        let exists = env::show(&ctx.home, &n).is_ok();
        let plan = Plan::new("env.init", &n, n.to_string()).change(
            format!("environment {n}"),
            if exists { "exists" } else { "-" },
            if exists {
                "checked, repaired if damaged"
            } else {
                "created"
            },
        );
        return Ok(Report::new(
            format!("{}\ndry run: nothing was changed", plan.human()),
            &plan,
        ));
    }
    let o = env::init(&ctx.home, ctx.runtime()?, &n, &opts)?;
    let mut human = format!("{} environment {}", o.outcome, n);
    for r in &o.repairs {
        human.push_str(&format!("\n  repaired: {r}"));
    }
    if o.outcome == "created" {
        human.push_str(&format!("\n\n{}", render(&o.env)));
    }
    if !o.env.lock.slots.contains_key(&Slot::Deployer) {
        human.push_str(&modes::deployer_next_step(&n, &o.env.meta.mode));
    }
    Ok(Report::new(human, &o))
}

fn list(ctx: &Ctx) -> Result<Report> {
    let all = env::list(&ctx.home)?;
    let human = if all.is_empty() {
        "no environments; help: envpack env init".to_string()
    } else {
        table(
            &["name", "production", "after", "slots"],
            all.iter()
                .map(|v| {
                    vec![
                        v.name.to_string(),
                        if v.meta.policy.production {
                            "yes"
                        } else {
                            "no"
                        }
                        .to_string(),
                        v.meta
                            .policy
                            .after
                            .as_ref()
                            .map_or("-".into(), ToString::to_string),
                        v.lock.slots.len().to_string(),
                    ]
                })
                .collect(),
        )
    };
    let names = all.iter().map(|v| v.name.to_string()).collect();
    Ok(Report::new(human, &all).with_names(names))
}

fn show(ctx: &Ctx, n: Option<String>) -> Result<Report> {
    let v = env::show(&ctx.home, &ctx.env_or_positional(n)?)?;
    Ok(Report::new(render(&v), &v))
}

fn bind(
    ctx: &Ctx,
    n: String,
    slot: Slot,
    descriptor: String,
    g: Vec<String>,
    grant_requested: bool,
) -> Result<Report> {
    let n = name(&n)?;
    let grants = grants(&g)?;
    let opts = env::BindOptions {
        slot,
        requirement: &descriptor,
        grants: &grants,
        grant_requested,
        dry_run: true,
    };
    let plan = || {
        let o = env::bind(&ctx.home, ctx.runtime()?, &n, &opts)?;
        let grants = |g: &envpack_manifest::Grants| {
            g.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" ")
        };
        Ok(Plan::new("env.bind", &n, slot.to_string())
            .change(
                format!("slot {slot}"),
                o.previous
                    .as_ref()
                    .map_or("-".to_string(), ToString::to_string),
                o.binding.descriptor.to_string(),
            )
            .change("grants", "-", grants(&o.binding.grants)))
    };
    if let Some(report) = ctx.plan_first(&n, plan)? {
        return Ok(report);
    }
    let opts = env::BindOptions {
        dry_run: false,
        ..opts
    };
    let o = env::bind(&ctx.home, ctx.runtime()?, &n, &opts)?;
    let mut human = match &o.previous {
        Some(p) => format!("bound {slot} of {n}: {p} -> {}", o.binding.descriptor),
        None => format!("bound {slot} of {n} to {}", o.binding.descriptor),
    };
    let diff = env::format_diff(&o.added, &o.removed);
    if !diff.is_empty() {
        human.push_str(&format!("\ncapability diff:\n{}", diff.trim_end()));
    }
    human.push_str(&format!(
        "\ngranted: {}",
        o.binding
            .grants
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(" ")
    ));
    Ok(Report::new(human, &o))
}

fn unbind(ctx: &Ctx, n: String, slot: Slot, pack: Option<&str>) -> Result<Report> {
    let n = name(&n)?;
    let seat = env::seat_for(&n, &env::show(&ctx.home, &n)?.lock, slot, pack)?;
    let plan = || {
        let v = env::show(&ctx.home, &n)?;
        let bound = v
            .lock
            .binding(&seat)
            .map_or("-".to_string(), |b| b.descriptor.to_string());
        let what = match &seat {
            env::Seat::Slot(s) => format!("slot {s}"),
            env::Seat::Commands(id) => format!("command pack {id}"),
        };
        Ok(Plan::new("env.unbind", &n, seat.unbind_args()).change(what, bound, "-"))
    };
    if let Some(report) = ctx.plan_first(&n, plan)? {
        return Ok(report);
    }
    let old = env::unbind(&ctx.home, &n, &seat)?;
    Ok(Report::new(
        format!(
            "unbound {} of {n} (was {})",
            seat.unbind_args(),
            old.descriptor
        ),
        &json!({"slot": slot, "seat": seat, "was": old}),
    ))
}

fn rm(ctx: &Ctx, n: String, force: bool) -> Result<Report> {
    let n = name(&n)?;
    let plan = || crate::deploy::plan::remove_environment(&ctx.home, &n, force);
    if let Some(report) = ctx.plan_first(&n, plan)? {
        return Ok(report);
    }
    crate::deploy::remove_environment(&ctx.home, ctx.runtime()?, &n, force)?;
    Ok(Report::new(
        format!("removed environment {n}"),
        &json!({"removed": n}),
    ))
}

fn down(ctx: &Ctx, n: Option<String>) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    if let Some(report) = ctx.plan_first(&n, || crate::deploy::plan::down(&ctx.home, &n))? {
        return Ok(report);
    }
    let o = crate::deploy::down(&ctx.home, ctx.runtime()?, &n)?;
    Ok(Report::new(
        format!("stopped {} revision(s) of {n}", o.revisions.len()),
        &o,
    ))
}

fn up(ctx: &Ctx, n: Option<String>, timeout: Option<std::time::Duration>) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    if let Some(report) = ctx.plan_first(&n, || crate::deploy::plan::up(&ctx.home, &n))? {
        return Ok(report);
    }
    let o = crate::deploy::up(&ctx.home, ctx.runtime()?, &n, timeout)?;
    let mut human = format!("started {} revision(s) of {n}", o.revisions.len());
    for (r, why) in &o.failed {
        human.push_str(&format!("\n  {r} failed: {why}"));
    }
    if !o.failed.is_empty() {
        return Err(
            Error::unavailable(human).with_details(serde_json::to_value(&o).unwrap_or_default())
        );
    }
    Ok(Report::new(human, &o))
}

fn doctor(ctx: &Ctx, n: Option<String>) -> Result<Report> {
    let n = ctx.env_or_positional(n)?;
    let report = crate::truth::checkup(&ctx.home, ctx.runtime()?, &n)?;
    let findings = &report.findings;
    let mut human = String::new();
    for f in findings {
        let slot = f.slot.map_or(String::new(), |s| format!("[{s}] "));
        human.push_str(&format!(
            "{}: {slot}{}\n  fix: {}\n",
            f.severity, f.message, f.fix
        ));
    }
    if let Err(e) = report.check() {
        eprint!("{human}");
        return Err(e);
    }
    human.push_str(&format!(
        "environment {n} is healthy{}",
        if findings.is_empty() {
            String::new()
        } else {
            format!(" ({} warning(s))", findings.len())
        }
    ));
    Ok(Report::new(
        human,
        &json!({"environment": n, "healthy": true, "findings": findings}),
    ))
}

fn limits(
    ctx: &Ctx,
    n: String,
    kv: Option<u64>,
    scratch: Option<u64>,
    reset: bool,
) -> Result<Report> {
    let n = name(&n)?;
    let change = |l: &mut env::PackLimits| {
        if reset {
            *l = Default::default();
        }
        l.kv_quota_mb = kv.or(l.kv_quota_mb);
        l.scratch_quota_mb = scratch.or(l.scratch_quota_mb);
    };
    if kv.is_some() || scratch.is_some() || reset {
        let plan = || {
            let before = env::show(&ctx.home, &n)?.meta.limits;
            let mut after = before.clone();
            change(&mut after);
            let mb = |v: Option<u64>| v.map_or("host default".to_string(), |m| format!("{m} MiB"));
            Ok(Plan::new("env.limits", &n, n.to_string())
                .change("kv quota", mb(before.kv_quota_mb), mb(after.kv_quota_mb))
                .change(
                    "scratch quota",
                    mb(before.scratch_quota_mb),
                    mb(after.scratch_quota_mb),
                ))
        };
        if let Some(report) = ctx.plan_first(&n, plan)? {
            return Ok(report);
        }
    }
    let limits = env::set_limits(&ctx.home, &n, change)?;
    let host = ctx.runtime()?.limits();
    let kv_mb = limits.kv_quota_mb.unwrap_or(host.kv_quota >> 20);
    let scratch_mb = limits.scratch_quota_mb.unwrap_or(host.scratch_quota >> 20);
    let from = |set: Option<u64>| {
        if set.is_some() {
            "this environment"
        } else {
            "the host"
        }
    };
    let human = crate::cli::output::table(
        &["quota", "per pack", "from"],
        vec![
            vec![
                "kv values".into(),
                format!("{kv_mb} MiB"),
                from(limits.kv_quota_mb).into(),
            ],
            vec![
                "scratch".into(),
                format!("{scratch_mb} MiB"),
                from(limits.scratch_quota_mb).into(),
            ],
        ],
    );
    Ok(Report::new(
        human,
        &json!({
            "environment": n,
            "set": limits,
            "effective": {"kv_quota_mb": kv_mb, "scratch_quota_mb": scratch_mb},
        }),
    ))
}

fn config(
    ctx: &Ctx,
    n: String,
    pack: String,
    key: String,
    value: Option<String>,
    unset: bool,
) -> Result<Report> {
    let n = name(&n)?;
    let pack: PackId = pack.parse()?;
    let value = if unset { None } else { value };
    let plan = || {
        let meta = env::show(&ctx.home, &n)?.meta;
        let now = meta
            .config
            .get(&pack.to_string())
            .and_then(|c| c.get(&key))
            .cloned();
        let show = |v: Option<&String>| v.map_or("-".to_string(), |v| format!("{v:?}"));
        Ok(Plan::new("env.config", &n, format!("{pack} {key}")).change(
            format!("{pack} {key}"),
            show(now.as_ref()),
            show(value.as_ref()),
        ))
    };
    if let Some(report) = ctx.plan_first(&n, plan)? {
        return Ok(report);
    }
    let old = env::config_set(&ctx.home, &n, &pack, &key, value.as_deref())?;
    let human = match &value {
        Some(v) => format!("set {pack} {key} = {v} in {n}"),
        None => format!("unset {pack} {key} in {n}"),
    };
    Ok(Report::new(
        human,
        &json!({"pack": pack, "key": key, "value": value, "previous": old}),
    ))
}

/// `envpack env retention`.
fn retention(
    ctx: &Ctx,
    n: String,
    delay: Option<std::time::Duration>,
    keep: Option<u32>,
    reset: bool,
) -> Result<Report> {
    let n = name(&n)?;
    let change = |r: &mut env::Retention| {
        if reset {
            *r = Default::default();
        }
        r.scale_down_delay_secs = delay.map(|d| d.as_secs()).or(r.scale_down_delay_secs);
        r.keep = keep.or(r.keep);
    };
    let text = |r: &env::Retention| {
        format!(
            "scale-down delay {}, keep {}",
            humantime::format_duration(r.delay()),
            r.keep.unwrap_or(0)
        )
    };
    if delay.is_some() || keep.is_some() || reset {
        let plan = || {
            let before = env::show(&ctx.home, &n)?.meta.retention;
            let mut after = before.clone();
            change(&mut after);
            Ok(Plan::new("env.retention", &n, n.to_string()).change(
                "retention",
                text(&before),
                text(&after),
            ))
        };
        if let Some(report) = ctx.plan_first(&n, plan)? {
            return Ok(report);
        }
    }
    let r = env::set_retention(&ctx.home, &n, change)?;
    Ok(Report::new(
        format!(
            "{n}: revisions at 0% keep running for {}; the {} newest stay running anyway",
            humantime::format_duration(r.delay()),
            r.keep.unwrap_or(0)
        ),
        &json!({"environment": n, "scale_down_delay_secs": r.delay().as_secs(), "keep": r.keep.unwrap_or(0)}),
    ))
}
