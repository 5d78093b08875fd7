//! The `telemetry` suite: every level accepted, empty batches and flushes,
//! and (when the pack delivers events where the harness can see them: its
//! standard output, which the host shows operators) order within a batch,
//! order across batches held until `flush`, and level filtering that keeps
//! the more severe levels.

use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::runtime::slots::telemetry::TelemetryEvent;
use crate::runtime::{Level, PackInstance};

const LEVELS: [(Level, &str); 5] = [
    (Level::Trace, "trace"),
    (Level::Debug, "debug"),
    (Level::Info, "info"),
    (Level::Warn, "warn"),
    (Level::Error, "error"),
];

fn instance(sb: &Sandbox<'_>) -> Result<PackInstance, Fail> {
    Ok(sb.instance()?)
}

fn event(name: &str, level: Level) -> TelemetryEvent {
    TelemetryEvent {
        name: name.into(),
        level,
        timestamp_ms: 1_700_000_000_000,
        attributes: vec![("conformance".into(), "yes".into())],
    }
}

/// What the instance printed since the last take.
fn printed(i: &mut PackInstance) -> String {
    String::from_utf8_lossy(&i.take_stdout().0).into_owned()
}

/// Where each of `names` first appears in `out`, in the order of `names`
/// (`None` for a name not printed).
fn positions(out: &str, names: &[String]) -> Vec<Option<usize>> {
    names.iter().map(|n| find_name(out, n)).collect()
}

/// The first place `name` appears as a whole name (not followed by more of
/// a dotted name, so `x.1` does not match `x.10`).
fn find_name(out: &str, name: &str) -> Option<usize> {
    out.match_indices(name)
        .find(|(at, _)| {
            out[at + name.len()..]
                .chars()
                .next()
                .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-'))
        })
        .map(|(at, _)| at)
}

/// One `emit` then `flush` through WAVE, so the two calls stay apart.
fn wave(i: &mut PackInstance, call: &str) -> Result<(), Fail> {
    let out = i.call_wave(call)?;
    ensure(out.starts_with("ok"), || format!("{call} returned {out}"))
}

fn wave_event(name: &str, level: &str) -> String {
    format!(
        "{{name: \"{name}\", level: {level}, timestamp-ms: 1700000000000, attributes: [(\"conformance\", \"yes\")]}}"
    )
}

/// Runs every case.
pub(crate) fn run(sb: &Sandbox<'_>, c: &mut Cases) {
    let delivered = levels(sb, c);
    c.check(
        "empty-batch",
        "emit of no events and flush with nothing emitted succeed",
        || empty(sb),
    );
    let visible = delivered.as_ref().is_some_and(|d| d.iter().any(|x| *x));
    let order_rule = "events are delivered in the order emitted";
    let across_rule = "events of successive emits are delivered in order, by flush at the latest";
    let levels_rule = "a pack that delivers a level delivers every more severe level too";
    if !visible {
        let why = "the pack printed none of the test events on its standard output, so delivery order cannot be observed";
        c.skip("emit-order", order_rule, why);
        c.skip("order-across-emits", across_rule, why);
        c.skip("levels-keep-severe", levels_rule, why);
        return;
    }
    c.check("emit-order", order_rule, || order(sb));
    c.check("order-across-emits", across_rule, || across(sb));
    let delivered = delivered.unwrap_or_default();
    c.check("levels-keep-severe", levels_rule, || {
        keeps_severe(&delivered)
    });
}

/// `levels-accepted`; returns which levels the pack printed, when it
/// accepted them.
fn levels(sb: &Sandbox<'_>, c: &mut Cases) -> Option<Vec<bool>> {
    let mut seen = None;
    c.check(
        "levels-accepted",
        "emit accepts events of every level (trace, debug, info, warn, error) and flush succeeds",
        || {
            let mut i = instance(sb)?;
            let names: Vec<String> = LEVELS
                .iter()
                .map(|(_, n)| format!("conformance.level.{n}"))
                .collect();
            let events: Vec<TelemetryEvent> = LEVELS
                .iter()
                .zip(&names)
                .map(|((l, _), n)| event(n, *l))
                .collect();
            i.telemetry()?.emit(&events)?;
            let out = printed(&mut i);
            let shown: Vec<bool> = positions(&out, &names)
                .iter()
                .map(Option::is_some)
                .collect();
            let list: Vec<&str> = LEVELS
                .iter()
                .zip(&shown)
                .filter(|(_, s)| **s)
                .map(|((_, n), _)| *n)
                .collect();
            seen = Some(shown);
            Ok(format!("accepted all five levels; printed {list:?}"))
        },
    );
    seen
}

fn empty(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    i.telemetry()?.emit(&[])?;
    wave(&mut i, "telemetry.flush()")?;
    Ok("emit([]) and a second flush succeeded".into())
}

fn order(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let names: Vec<String> = (1..=6).map(|n| format!("conformance.order.{n}")).collect();
    let events: Vec<TelemetryEvent> = names
        .iter()
        .enumerate()
        .map(|(k, n)| {
            event(
                n,
                if k % 2 == 0 {
                    Level::Error
                } else {
                    Level::Warn
                },
            )
        })
        .collect();
    i.telemetry()?.emit(&events)?;
    let out = printed(&mut i);
    let at: Vec<usize> = positions(&out, &names).into_iter().flatten().collect();
    ensure(at.len() == names.len(), || {
        format!(
            "only {} of {} warn/error events were printed",
            at.len(),
            names.len()
        )
    })?;
    ensure(at.windows(2).all(|w| w[0] < w[1]), || {
        format!("events 1..6 were printed at offsets {at:?}, out of order")
    })?;
    Ok("six warn/error events printed in emit order".into())
}

fn across(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let names = [
        "conformance.across.1",
        "conformance.across.2",
        "conformance.across.3",
    ];
    let mut out = String::new();
    for n in names {
        wave(
            &mut i,
            &format!("telemetry.emit([{}])", wave_event(n, "error")),
        )?;
        out.push_str(&printed(&mut i));
    }
    wave(&mut i, "telemetry.flush()")?;
    out.push_str(&printed(&mut i));
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let at: Vec<usize> = positions(&out, &names).into_iter().flatten().collect();
    ensure(at.len() == names.len(), || {
        format!(
            "after three emits and a flush, {} of 3 error events were printed",
            at.len()
        )
    })?;
    ensure(at.windows(2).all(|w| w[0] < w[1]), || {
        format!("three emits were printed at offsets {at:?}, out of order")
    })?;
    Ok("three separate emits printed in order by flush".into())
}

fn keeps_severe(delivered: &[bool]) -> Verdict {
    let first = delivered.iter().position(|d| *d);
    let gap = first.and_then(|f| delivered[f..].iter().position(|d| !*d).map(|g| g + f));
    let shown: Vec<&str> = LEVELS
        .iter()
        .zip(delivered)
        .filter(|(_, d)| **d)
        .map(|((_, n), _)| *n)
        .collect();
    if let Some(g) = gap {
        return Err(Fail(format!(
            "printed {shown:?} but dropped the more severe {}",
            LEVELS[g].1
        )));
    }
    Ok(format!("printed {shown:?}"))
}
