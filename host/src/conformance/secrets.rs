//! The `secrets` suite: round trip, replace, list (names only, sorted),
//! missing secrets, delete, name validation, durability.

use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::error::Kind;
use crate::runtime::PackInstance;

/// A value no secret name could contain by accident.
const MARK: &str = "conformance-value-7f3a9c";

fn instance(sb: &Sandbox<'_>) -> Result<PackInstance, Fail> {
    Ok(sb.instance()?)
}

fn show<T: std::fmt::Debug>(r: &crate::error::Result<T>) -> String {
    match r {
        Ok(v) => format!("ok({v:?})"),
        Err(e) => format!("{}({:?})", e.kind().as_str(), e.message()),
    }
}

/// Runs every case.
pub(crate) fn run(sb: &Sandbox<'_>, c: &mut Cases) {
    c.check(
        "get-missing-none",
        "get of a secret that does not exist returns none",
        || missing(sb),
    );
    c.check(
        "round-trip",
        "get returns exactly the value put, whatever its characters",
        || round_trip(sb),
    );
    c.check(
        "put-replaces",
        "put of an existing name replaces its value",
        || replaces(sb),
    );
    c.check(
        "list-names-sorted",
        "list returns the names, sorted",
        || list_sorted(sb),
    );
    c.check("list-never-values", "list never returns values", || {
        list_no_values(sb)
    });
    c.check(
        "delete",
        "delete removes the secret and returns true; a missing secret returns false",
        || delete(sb),
    );
    c.check(
        "invalid-name",
        "names outside 1 to 128 characters of [A-Za-z0-9_.-] get invalid-input",
        || invalid(sb),
    );
    c.check(
        "durable-across-instances",
        "what one instance puts, another instance gets",
        || durable(sb),
    );
}

fn missing(sb: &Sandbox<'_>) -> Verdict {
    let got = instance(sb)?.secrets()?.get("CONFORMANCE_NEVER_SET")?;
    ensure(got.is_none(), || {
        format!(
            "get returned {} characters instead of none",
            got.as_ref().map_or(0, String::len)
        )
    })?;
    Ok("get returned none".into())
}

fn round_trip(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    let values = [
        ("CONFORMANCE_PLAIN", "s3cr3t".to_string()),
        (
            "conformance.symbols",
            format!("{MARK} = ; \"quoted\" \\ {{braces}} é ✓"),
        ),
        (
            "conformance-lines",
            "line one\nline two\r\n\ttabbed".to_string(),
        ),
        ("conformance_empty", String::new()),
    ];
    for (name, value) in &values {
        s.put(name, value)?;
        let got = s.get(name)?;
        ensure(got.as_deref() == Some(value.as_str()), || {
            format!(
                "{name}: put {} characters, get returned {:?}",
                value.chars().count(),
                got.as_ref().map(|v| v.chars().count())
            )
        })?;
    }
    Ok("plain, symbols and unicode, newlines and the empty value round-tripped".into())
}

fn replaces(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    s.put("CONFORMANCE_REPLACE", "old")?;
    s.put("CONFORMANCE_REPLACE", "new")?;
    let got = s.get("CONFORMANCE_REPLACE")?;
    ensure(got.as_deref() == Some("new"), || {
        format!("after put old then new, get returned {got:?}")
    })?;
    Ok("the second put replaced the first".into())
}

fn list_sorted(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    let names = [
        "CONFORMANCE_LIST_M",
        "CONFORMANCE_LIST_B",
        "CONFORMANCE_LIST_Z",
        "CONFORMANCE_LIST_A",
    ];
    for n in names {
        s.put(n, "v")?;
    }
    let got = s.list()?;
    let mut sorted = got.clone();
    sorted.sort();
    ensure(got == sorted, || {
        format!("list returned {got:?}, not sorted")
    })?;
    let missing: Vec<&str> = names
        .iter()
        .copied()
        .filter(|n| !got.iter().any(|g| g == n))
        .collect();
    ensure(missing.is_empty(), || {
        format!("list lacks {missing:?}: it returned {got:?}")
    })?;
    Ok(format!("list returned {} names, sorted", got.len()))
}

fn list_no_values(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    s.put("CONFORMANCE_HIDDEN", MARK)?;
    let got = s.list()?;
    let leaked: Vec<&String> = got
        .iter()
        .filter(|n| n.contains(MARK) || n.contains('='))
        .collect();
    ensure(leaked.is_empty(), || {
        format!("list returned entries holding values: {leaked:?}")
    })?;
    ensure(got.iter().any(|n| n == "CONFORMANCE_HIDDEN"), || {
        format!("list does not name the secret just put: {got:?}")
    })?;
    Ok("list named the secret without its value".into())
}

fn delete(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    s.put("CONFORMANCE_DELETE", "v")?;
    let existed = s.delete("CONFORMANCE_DELETE")?;
    ensure(existed, || {
        "delete of an existing secret returned false".into()
    })?;
    let got = s.get("CONFORMANCE_DELETE")?;
    ensure(got.is_none(), || {
        "after delete, get still returned a value".into()
    })?;
    let listed = s.list()?;
    ensure(!listed.iter().any(|n| n == "CONFORMANCE_DELETE"), || {
        "after delete, list still names the secret".into()
    })?;
    let again = s.delete("CONFORMANCE_DELETE")?;
    ensure(!again, || "delete of a deleted secret returned true".into())?;
    Ok("delete returned true, then false; get and list no longer saw it".into())
}

fn invalid(sb: &Sandbox<'_>) -> Verdict {
    let mut i = instance(sb)?;
    let mut s = i.secrets()?;
    let long = "A".repeat(129);
    for name in ["", "has space", "slash/name", "equals=sign", long.as_str()] {
        let r = s.put(name, "v");
        ensure(
            matches!(&r, Err(e) if e.kind() == Kind::InvalidInput),
            || {
                format!(
                    "put of name {:?} returned {}",
                    if name.len() > 20 { "A x 129" } else { name },
                    show(&r)
                )
            },
        )?;
    }
    Ok("empty, space, slash, '=' and 129-character names got invalid-input".into())
}

fn durable(sb: &Sandbox<'_>) -> Verdict {
    instance(sb)?.secrets()?.put("CONFORMANCE_DURABLE", MARK)?;
    let got = instance(sb)?.secrets()?.get("CONFORMANCE_DURABLE")?;
    ensure(got.as_deref() == Some(MARK), || {
        format!("a new instance got {got:?}")
    })?;
    Ok("a new instance got the value".into())
}
