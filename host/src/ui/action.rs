//! The dashboard's one change: shifting traffic, in two steps. A POST
//! without `confirm` answers the plan (`envpack traffic set --dry-run`); a
//! POST with `confirm: true` and the generation the plan was made at
//! performs it through `deploy::set_traffic`, the code path of `envpack
//! traffic set` (audited with the actor of `envpack ui`, then the
//! retention scale-down), refusing if the split moved in between.

use serde::Deserialize;
use serde_json::{Value, json};

use super::server::App;
use crate::deploy::{self, DeploymentRecords, TrafficOptions, retention};
use crate::env::{EnvName, EnvRecords};
use crate::error::{Error, Result};

/// The body of a traffic change.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TrafficRequest {
    /// `REVISION=WEIGHT` entries, as `envpack traffic set` takes them.
    weights: Vec<String>,
    /// Perform it; without, only the plan is answered.
    #[serde(default)]
    confirm: bool,
    /// The generation the confirmed plan was made at.
    #[serde(default)]
    generation: Option<u64>,
    /// Makes a retried confirmation safe.
    #[serde(default)]
    idempotency_key: Option<String>,
}

/// Answers `POST /api/v1/<path>`.
pub(super) fn post(app: &App, path: &str, body: &[u8]) -> Result<Value> {
    let parts: Vec<&str> = path.split('/').collect();
    let ["env", env, "deployments", dep, "traffic"] = parts.as_slice() else {
        return Err(
            Error::not_found(format!("nothing to POST at /api/v1/{path}")).hint(
                "the one change is POST /api/v1/env/ENV/deployments/DEP/traffic (docs/ui-api.md)",
            ),
        );
    };
    let env: EnvName = env.parse()?;
    let req: TrafficRequest = serde_json::from_slice(body).map_err(|e| {
        Error::invalid(format!("the traffic request is not valid: {e}"))
            .hint(r#"send {"weights": ["r1=90%", "r2=10%"]} for the plan, then with "confirm": true and its "generation""#)
    })?;
    if req.weights.is_empty() {
        return Err(Error::invalid("no REVISION=WEIGHT entries were given")
            .hint(r#"{"weights": ["r1=100%"]}"#));
    }
    let records = EnvRecords::new(&app.home, &env);
    let (meta, _) = records.load()?;
    let current = DeploymentRecords::new(&records).find(Some(dep))?.generation;
    if !req.confirm {
        let plan = deploy::plan::traffic(&app.home, &env, Some(dep), &req.weights)?;
        return Ok(json!({
            "plan": plan,
            "generation": current,
            "production": meta.policy.production,
            "actor": crate::actor::current(),
        }));
    }
    match req.generation {
        Some(g) if g == current => {}
        Some(g) => {
            return Err(Error::conflict(format!(
                "the split of {dep} in {env} changed since the plan was shown (generation {g}, now {current}); nothing was changed"
            ))
            .hint("review the new plan and confirm again"));
        }
        None => {
            return Err(Error::invalid(
                "a confirmed change names the generation its plan was made at",
            )
            .hint(r#"ask for the plan first (without "confirm"), then send its "generation" with "confirm": true"#));
        }
    }
    let opts = TrafficOptions {
        deployment: Some(dep),
        entries: &req.weights,
        idempotency_key: req.idempotency_key.as_deref(),
    };
    let out = deploy::set_traffic(&app.home, &app.runtime, &env, &opts)?;
    let (stopped, warnings) = retention::after_change(&app.home, &app.runtime, &env);
    let mut v = serde_json::to_value(&out).unwrap_or_default();
    if let Some(obj) = v.as_object_mut() {
        obj.insert("scaled_down".into(), json!(stopped));
        if !warnings.is_empty() {
            let mut all = out.warnings.clone();
            all.extend(warnings);
            obj.insert("warnings".into(), json!(all));
        }
    }
    Ok(v)
}
