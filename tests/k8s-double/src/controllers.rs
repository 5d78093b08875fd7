//! The simulated controllers' side of a write: the deployment controller
//! starts (and, after the delay, finishes) rollouts; the Gateway
//! controller writes Gateway and HTTPRoute status.

use serde_json::Value;

use crate::gateway;
use crate::managed;
use crate::resources;
use crate::rollout::{self, Phase};
use crate::server::{Shared, State};
use crate::write::{Pending, name_of};

/// A Deployment whose rollout settles after the scripted delay.
pub struct Settle {
    ns: String,
    name: String,
    generation: Value,
    delay: std::time::Duration,
}

/// A change that needs the Deployment rolled out again gets the
/// controller's status: settled at once with no delay, else progressing
/// (and a [`Settle`] for later).
pub fn start_rollout(s: &Shared, p: &Pending<'_>, new: &mut Value) -> Option<Settle> {
    if p.t.plural != "deployments"
        || p.subresource == "status"
        || !rollout::needs_rollout(p.old, new)
    {
        return None;
    }
    let delay = s.script.rollout_delay;
    let phase = if delay.is_zero() {
        rollout::settled_phase(new, &s.script)
    } else {
        Phase::Progressing
    };
    let serving = p
        .old
        .and_then(|o| o["status"]["availableReplicas"].as_u64())
        .unwrap_or(0);
    let before = new.clone();
    new["status"] = rollout::status(new, phase, serving, replaced(s, new));
    managed::record_update(Some(&before), new, "kube-controller-manager", "status");
    (!delay.is_zero()).then(|| Settle {
        ns: p.ns.to_string(),
        name: name_of(new),
        generation: new["metadata"]["generation"].clone(),
        delay,
    })
}

/// Whether the pods that last became available run another template.
fn replaced(s: &Shared, d: &Value) -> bool {
    let uid = d["metadata"]["uid"].as_str().unwrap_or_default();
    s.served
        .get(uid)
        .is_some_and(|t| *t != d["spec"]["template"])
}

/// Keeps the template of a Deployment that is available: its pods serve
/// while a later template rolls out.
pub fn remember_served(s: &mut Shared, d: &Value) {
    if d["kind"] == "Deployment" && rollout::phase_of(d) == Phase::Available {
        let uid = d["metadata"]["uid"]
            .as_str()
            .unwrap_or_default()
            .to_string();
        s.served.insert(uid, d["spec"]["template"].clone());
    }
}

/// The simulated Gateway controller's status, written with the change
/// that needs it (a new generation).
pub fn gateway_status(s: &Shared, p: &Pending<'_>, new: &mut Value) {
    let fresh = p
        .old
        .is_none_or(|o| o["metadata"]["generation"] != new["metadata"]["generation"]);
    if !fresh || p.subresource == "status" {
        return;
    }
    let status = match p.t.plural {
        "httproutes" => gateway::route_status(&s.store, new),
        "gateways" => gateway::gateway_status(new),
        _ => return,
    };
    let before = new.clone();
    new["status"] = status;
    managed::record_update(Some(&before), new, gateway::CONTROLLER, "status");
}

/// After the delay, the controller finishes the rollout it started, unless
/// the Deployment changed (or went) in between.
pub fn schedule(state: &State, settle: Option<Settle>) {
    let Some(settle) = settle else { return };
    let state = state.clone();
    tokio::spawn(async move {
        tokio::time::sleep(settle.delay).await;
        let mut s = state.lock();
        if let Some(d) = settled(&s, &settle.ns, &settle.name, &settle.generation) {
            settle_one(&mut s, d);
        }
    });
}

/// Settles every rollout in progress now.
pub fn settle_all(state: &State) {
    let mut s = state.lock();
    for d in s.store.deployments(None) {
        if rollout::phase_of(&d) == Phase::Progressing {
            settle_one(&mut s, d);
        }
    }
}

/// The Deployment a scheduled settle is for, if it is still that rollout.
fn settled(s: &Shared, ns: &str, name: &str, generation: &Value) -> Option<Value> {
    let t = resources::by_plural("deployments")?;
    let d = s.store.get(t, ns, name)?;
    (d["metadata"]["generation"] == *generation && rollout::phase_of(d) == Phase::Progressing)
        .then(|| d.clone())
}

/// The controller's status write that ends a rollout.
fn settle_one(s: &mut Shared, d: Value) {
    let Some(t) = resources::by_plural("deployments") else {
        return;
    };
    let mut next = d.clone();
    let serving = d["status"]["availableReplicas"].as_u64().unwrap_or(0);
    let phase = rollout::settled_phase(&d, &s.script);
    next["status"] = rollout::status(&d, phase, serving, replaced(s, &d));
    managed::record_update(Some(&d), &mut next, "kube-controller-manager", "status");
    let stored = s.store.commit(t, next, "MODIFIED");
    remember_served(s, &stored);
}
