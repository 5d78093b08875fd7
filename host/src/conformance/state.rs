//! The `state` suite: generations, compare-and-swap, delete, list, large
//! values, durability, and compare-and-swap between two instances racing.
//!
//! Every case writes under its own key prefix (`conformance/<case>/`) and
//! uses a fresh instance, so one broken rule fails its own case only. Cases
//! count generations relative to what a write returned, except
//! `generation-starts-at-1`, so a pack that starts elsewhere fails that
//! case alone.

use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::error::{Error, Kind};
use crate::runtime::PackInstance;
use crate::runtime::slots::state::{Expect, StateEntry};

/// Increments each of the two racing instances makes.
pub const RACE_INCREMENTS: u64 = 20;

/// The largest value the suite stores: the kv value limit, 1 MiB.
pub const LARGE_VALUE: usize = 1 << 20;

/// The longest key the host writes: another pack's kv key of 512 bytes
/// under `packs/<pack id>/kv/`, with the longest pack id (64-byte namespace
/// and name, and `telemetry`).
pub fn longest_host_key() -> String {
    let id = format!("{}.telemetry.{}", "n".repeat(64), "m".repeat(64));
    format!("packs/{id}/kv/{}", "k".repeat(512))
}

fn key(case: &str, name: &str) -> String {
    format!("conformance/{case}/{name}")
}

fn instance(sb: &Sandbox<'_>) -> Result<PackInstance, Fail> {
    Ok(sb.instance()?)
}

/// An entry for people: its generation and value (as text when it is).
fn entry(e: &Option<StateEntry>) -> String {
    match e {
        None => "none".into(),
        Some(e) => match std::str::from_utf8(&e.value) {
            Ok(t) if t.len() <= 64 => format!("generation {}, value {t:?}", e.generation),
            _ => format!("generation {}, {} bytes", e.generation, e.value.len()),
        },
    }
}

fn is(e: &Error, kind: Kind) -> bool {
    e.kind() == kind
}

fn show(r: &crate::error::Result<impl std::fmt::Debug>) -> String {
    match r {
        Ok(v) => format!("ok({v:?})"),
        Err(e) => format!("{}({:?})", e.kind().as_str(), e.message()),
    }
}

/// Runs every case.
pub(crate) fn run(sb: &Sandbox<'_>, c: &mut Cases) {
    c.check(
        "get-missing-none",
        "get of a key that was never written returns none",
        || get_missing(sb),
    );
    c.check(
        "generation-starts-at-1",
        "the first write of a key returns generation 1, and get reports it",
        || starts_at_1(sb),
    );
    c.check(
        "generation-increases",
        "every write increments the generation by one (put returns it; get reports it)",
        || increases(sb),
    );
    c.check("expect-absent", "put with expect absent writes a new key and returns conflict for an existing one, leaving it unchanged", || expect_absent(sb));
    c.check("expect-generation", "put with expect generation(n) writes only when the key exists at exactly n: conflict for a stale n and for a missing key, value unchanged", || expect_generation(sb));
    c.check(
        "conflict-names-generation",
        "a conflict names the generation found",
        || conflict_message(sb),
    );
    c.check(
        "delete",
        "delete removes the key and returns true; a missing key returns false",
        || delete(sb),
    );
    c.check("delete-expect", "delete honours expect: conflict for a stale generation or absent on an existing key (key kept); true for the current generation", || delete_expect(sb));
    c.check(
        "list-prefix-sorted",
        "list returns exactly the keys starting with the prefix, sorted",
        || list(sb),
    );
    c.check("large-values", "values of any bytes up to 1 MiB, the empty value, and keys as long as the host writes (661 bytes: packs/<pack id>/kv/<512-byte kv key>) round-trip exactly", || large(sb));
    c.check(
        "durable-across-instances",
        "what one instance writes, another instance reads (state outlives an instance)",
        || durable(sb),
    );
    c.check("cas-across-instances", "compare-and-swap holds between two instances sharing the data: a stale writer gets conflict, and two instances racing a counter lose no update", || cas_race(sb));
}

fn get_missing(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let got = i.state()?.get(&key("get-missing", "never-written"))?;
    ensure(got.is_none(), || format!("get returned {}", entry(&got)))?;
    Ok("get returned none".into())
}

fn starts_at_1(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("starts-at-1", "k");
    let g = s.put(&k, b"v", None)?;
    ensure(g == 1, || format!("the first put returned generation {g}"))?;
    let got = s.get(&k)?;
    ensure(matches!(&got, Some(e) if e.generation == 1), || {
        format!("put returned 1, then get returned {}", entry(&got))
    })?;
    Ok("put returned 1; get reported generation 1".into())
}

fn increases(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("increases", "k");
    let mut gens = vec![s.put(&k, b"1", None)?];
    for v in [b"2", b"3"] {
        gens.push(s.put(&k, v, None)?);
    }
    ensure(gens.windows(2).all(|w| w[1] == w[0] + 1), || {
        format!("three unconditional puts returned generations {gens:?}")
    })?;
    let got = s.get(&k)?;
    ensure(
        got == Some(StateEntry {
            value: b"3".to_vec(),
            generation: gens[2],
        }),
        || {
            format!(
                "after puts returning {gens:?}, get returned {}",
                entry(&got)
            )
        },
    )?;
    Ok(format!("puts returned {gens:?}; get agreed"))
}

fn expect_absent(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("expect-absent", "k");
    let g = s.put(&k, b"first", Some(Expect::Absent))?;
    let again = s.put(&k, b"second", Some(Expect::Absent));
    ensure(matches!(&again, Err(e) if is(e, Kind::Conflict)), || {
        format!("put absent on an existing key returned {}", show(&again))
    })?;
    let got = s.get(&k)?;
    ensure(
        matches!(&got, Some(e) if e.value == b"first" && e.generation == g),
        || format!("after the refused put, get returned {}", entry(&got)),
    )?;
    Ok(format!(
        "new key written at generation {g}; existing key refused with conflict"
    ))
}

fn expect_generation(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("expect-generation", "k");
    let g1 = s.put(&k, b"a", None)?;
    let g2 = s.put(&k, b"b", Some(Expect::Generation(g1)))?;
    ensure(g2 == g1 + 1, || {
        format!("put expecting the current generation {g1} returned {g2}")
    })?;
    let stale = s.put(&k, b"c", Some(Expect::Generation(g1)));
    ensure(matches!(&stale, Err(e) if is(e, Kind::Conflict)), || {
        format!(
            "put expecting stale generation {g1} (current {g2}) returned {}",
            show(&stale)
        )
    })?;
    let got = s.get(&k)?;
    ensure(
        matches!(&got, Some(e) if e.value == b"b" && e.generation == g2),
        || format!("after the refused put, get returned {}", entry(&got)),
    )?;
    let m = key("expect-generation", "missing");
    let missing = s.put(&m, b"x", Some(Expect::Generation(1)));
    ensure(matches!(&missing, Err(e) if is(e, Kind::Conflict)), || {
        format!(
            "put expecting generation 1 of a missing key returned {}",
            show(&missing)
        )
    })?;
    let got = s.get(&m)?;
    ensure(!matches!(&got, Some(e) if e.value == b"x"), || {
        format!(
            "the refused put created the key: get returned {}",
            entry(&got)
        )
    })?;
    Ok(format!(
        "generation {g1} -> {g2}; stale and missing refused with conflict"
    ))
}

fn conflict_message(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("conflict-message", "k");
    let g1 = s.put(&k, b"a", None)?;
    let g2 = s.put(&k, b"b", Some(Expect::Generation(g1)))?;
    let err = match s.put(&k, b"c", Some(Expect::Generation(g1 + 100))) {
        Err(e) if is(&e, Kind::Conflict) => e,
        other => return Err(Fail(format!("a stale put returned {}", show(&other)))),
    };
    let numbers: Vec<&str> = err
        .message()
        .split(|c: char| !c.is_ascii_digit())
        .filter(|t| !t.is_empty())
        .collect();
    ensure(numbers.contains(&g2.to_string().as_str()), || {
        format!(
            "the conflict for a key at generation {g2} said {:?}",
            err.message()
        )
    })?;
    Ok(format!("conflict said {:?}", err.message()))
}

fn delete(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("delete", "k");
    s.put(&k, b"v", None)?;
    let existed = s.delete(&k, None)?;
    ensure(existed, || {
        "delete of an existing key returned false".into()
    })?;
    let got = s.get(&k)?;
    ensure(got.is_none(), || {
        format!("after delete, get returned {}", entry(&got))
    })?;
    let again = s.delete(&k, None)?;
    ensure(!again, || "delete of a deleted key returned true".into())?;
    let fresh = s.put(&k, b"again", Some(Expect::Absent));
    ensure(fresh.is_ok(), || {
        format!("put absent after delete returned {}", show(&fresh))
    })?;
    Ok("delete returned true, then false; the key was gone".into())
}

fn delete_expect(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let k = key("delete-expect", "k");
    let g1 = s.put(&k, b"a", None)?;
    let g2 = s.put(&k, b"b", Some(Expect::Generation(g1)))?;
    for (what, expect) in [
        (format!("stale generation {g1}"), Expect::Generation(g1)),
        ("absent".to_string(), Expect::Absent),
    ] {
        let r = s.delete(&k, Some(expect));
        ensure(matches!(&r, Err(e) if is(e, Kind::Conflict)), || {
            format!(
                "delete expecting {what} (current {g2}) returned {}",
                show(&r)
            )
        })?;
        let got = s.get(&k)?;
        ensure(got.is_some(), || {
            format!("the refused delete (expecting {what}) removed the key")
        })?;
    }
    let r = s.delete(&k, Some(Expect::Generation(g2)));
    ensure(matches!(r, Ok(true)), || {
        format!(
            "delete expecting the current generation {g2} returned {}",
            show(&r)
        )
    })?;
    Ok("stale and absent refused with conflict; current generation deleted".into())
}

fn list(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let p = key("list", "");
    for name in ["m", "b", "z/1", "a"] {
        s.put(&format!("{p}{name}"), b"v", None)?;
    }
    s.put(&key("list-other", "a"), b"v", None)?;
    s.put(key("list", "").trim_end_matches('/'), b"v", None)?;
    let want: Vec<String> = ["a", "b", "m", "z/1"]
        .iter()
        .map(|n| format!("{p}{n}"))
        .collect();
    let got = s.list(&p)?;
    ensure(got == want, || {
        format!("list({p:?}) returned {got:?}, expected {want:?}")
    })?;
    let sub = s.list(&format!("{p}z/"))?;
    ensure(sub == want[3..], || {
        format!("list(\"{p}z/\") returned {sub:?}")
    })?;
    let none = s.list(&key("list-none", ""))?;
    ensure(none.is_empty(), || {
        format!("list of an unused prefix returned {none:?}")
    })?;
    Ok(format!("list({p:?}) returned {got:?}"))
}

fn large(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.state()?;
    let big: Vec<u8> = (0..LARGE_VALUE).map(|n| (n % 251) as u8).collect();
    let all_bytes: Vec<u8> = (0..=255u8).collect();
    let long_key = longest_host_key();
    let cases: [(&str, String, &[u8]); 4] = [
        ("a 1 MiB value", key("large", "big"), &big),
        ("every byte value", key("large", "bytes"), &all_bytes),
        ("the empty value", key("large", "empty"), b""),
        (
            "a 661-byte key (the longest the host writes for kv)",
            long_key,
            b"v",
        ),
    ];
    for (what, k, value) in &cases {
        s.put(k, value, None)
            .map_err(|e| Fail(format!("put of {what} failed: {}", Fail::from(e).0)))?;
        let got = s.get(k)?;
        ensure(matches!(&got, Some(e) if e.value == *value), || {
            format!(
                "{what} came back as {}",
                got.as_ref()
                    .map_or("none".to_string(), |e| format!("{} bytes", e.value.len()))
            )
        })?;
    }
    Ok("1 MiB, every byte value, the empty value and a 661-byte key round-tripped".into())
}

fn durable(sb: &Sandbox<'_>) -> Verdict {
    let k = key("durable", "k");
    let mut a = instance(sb)?;
    let mut b = instance(sb)?;
    let g = a.state()?.put(&k, b"from a", None)?;
    let seen = b.state()?.get(&k)?;
    ensure(
        matches!(&seen, Some(e) if e.value == b"from a" && e.generation == g),
        || {
            format!(
                "instance A wrote generation {g}; instance B read {}",
                entry(&seen)
            )
        },
    )?;
    let g2 = b.state()?.put(&k, b"from b", Some(Expect::Generation(g)))?;
    let seen = a.state()?.get(&k)?;
    ensure(
        matches!(&seen, Some(e) if e.value == b"from b" && e.generation == g2),
        || {
            format!(
                "instance B wrote generation {g2}; instance A then read {}",
                entry(&seen)
            )
        },
    )?;
    Ok("each instance read the other's write".into())
}

fn cas_race(sb: &Sandbox<'_>) -> Verdict {
    stale_writer(sb)?;
    let k = key("race", "counter");
    let start = instance(sb)?.state()?.put(&k, b"0", None)?;
    let outcomes: Vec<Result<Racer, Fail>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2).map(|_| scope.spawn(|| race(sb, &k))).collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| Err(Fail("a racing thread panicked".into())))
            })
            .collect()
    });
    let mut gens = Vec::new();
    let mut conflicts = 0;
    for o in outcomes {
        let r = o?;
        gens.extend(r.generations);
        conflicts += r.conflicts;
    }
    let total = 2 * RACE_INCREMENTS;
    let end = instance(sb)?.state()?.get(&k)?;
    let value = end
        .as_ref()
        .and_then(|e| std::str::from_utf8(&e.value).ok()?.parse::<u64>().ok());
    gens.sort_unstable();
    gens.dedup();
    ensure(value == Some(total) && gens.len() as u64 == total, || {
        format!(
            "2 instances x {RACE_INCREMENTS} increments: counter {value:?} (expected {total}), {} distinct generations returned, {conflicts} conflicts retried: {} update(s) lost",
            gens.len(),
            total.saturating_sub(value.unwrap_or(0))
        )
    })?;
    let end_gen = end.map_or(0, |e| e.generation);
    ensure(end_gen == start + total, || {
        format!(
            "the counter started at generation {start} and ended at {end_gen} after {total} writes"
        )
    })?;
    Ok(format!(
        "stale writer refused; 2 instances x {RACE_INCREMENTS} increments: counter {total}, {conflicts} conflicts retried, 0 lost updates"
    ))
}

/// Two instances read the same generation; the second writer must lose.
fn stale_writer(sb: &Sandbox<'_>) -> Result<(), Fail> {
    let k = key("race", "stale");
    let mut a = instance(sb)?;
    let mut b = instance(sb)?;
    a.state()?.put(&k, b"0", None)?;
    let ga = a.state()?.get(&k)?.map(|e| e.generation);
    let gb = b.state()?.get(&k)?.map(|e| e.generation);
    let (Some(ga), Some(gb)) = (ga, gb) else {
        return Err(Fail(format!(
            "instances read generations {ga:?} and {gb:?} of a written key"
        )));
    };
    a.state()?.put(&k, b"a", Some(Expect::Generation(ga)))?;
    let late = b.state()?.put(&k, b"b", Some(Expect::Generation(gb)));
    ensure(matches!(&late, Err(e) if is(e, Kind::Conflict)), || {
        format!(
            "instances A and B both read generation {gb}; A wrote first, then B's put expecting {gb} returned {} (a lost update)",
            show(&late)
        )
    })
}

struct Racer {
    generations: Vec<u64>,
    conflicts: u64,
}

/// One racing instance: read, increment, write expecting what it read;
/// retry on conflict. Writes hold the host's write lock, reads do not.
fn race(sb: &Sandbox<'_>, k: &str) -> Result<Racer, Fail> {
    let mut inst = instance(sb)?;
    let mut out = Racer {
        generations: Vec::new(),
        conflicts: 0,
    };
    let budget = RACE_INCREMENTS * 50;
    while (out.generations.len() as u64) < RACE_INCREMENTS {
        if out.conflicts > budget {
            return Err(Fail(format!(
                "{} conflicts in a row: the counter never moved",
                out.conflicts
            )));
        }
        let Some(entry) = inst.state()?.get(k)? else {
            return Err(Fail("the counter disappeared".into()));
        };
        let n: u64 = std::str::from_utf8(&entry.value)
            .ok()
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| Fail(format!("the counter holds {:?}", entry.value)))?;
        let next = (n + 1).to_string();
        let put = {
            let _lock = sb.write_lock();
            inst.state()?.put(
                k,
                next.as_bytes(),
                Some(Expect::Generation(entry.generation)),
            )
        };
        match put {
            Ok(g) => out.generations.push(g),
            Err(e) if is(&e, Kind::Conflict) => out.conflicts += 1,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(out)
}
