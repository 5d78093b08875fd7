//! The small part of Kinetic's `whereClause` language the double understands, and paging.
//!
//! Clauses are `Field = 'value'`, `Field <> 'value'`, `Field LIKE 'pre%'`, `Field BEGINS
//! 'pre'`, joined with `AND`. Anything else answers 400 rather than silently matching all.

use serde_json::{Map, Value};

use crate::error::EpicorError;

/// Rows matching `where_clause` (empty matches all), then page `absolute_page` (1-based) of
/// `page_size` rows (0 = all). Returns the page and whether more pages follow.
pub fn select(
    rows: Vec<Map<String, Value>>,
    where_clause: &str,
    page_size: u64,
    absolute_page: u64,
) -> Result<(Vec<Map<String, Value>>, bool), EpicorError> {
    let clauses = parse(where_clause)?;
    let matching: Vec<_> = rows
        .into_iter()
        .filter(|row| clauses.iter().all(|c| c.matches(row)))
        .collect();
    if page_size == 0 {
        return Ok((matching, false));
    }
    let page = absolute_page.max(1) - 1;
    let start = usize::try_from(page.saturating_mul(page_size)).unwrap_or(usize::MAX);
    let size = usize::try_from(page_size).unwrap_or(usize::MAX);
    let more = matching.len() > start.saturating_add(size);
    Ok((matching.into_iter().skip(start).take(size).collect(), more))
}

/// `whereClause`, `pageSize` and `absolutePage` of a GetList body.
pub fn list_args(body: &Value, where_key: &str) -> (String, u64, u64) {
    let where_clause = body.get(where_key).and_then(Value::as_str).unwrap_or("");
    let number = |key: &str| {
        body.get(key)
            .and_then(|v| {
                v.as_u64()
                    .or_else(|| v.as_str().and_then(|s| s.parse().ok()))
            })
            .unwrap_or(0)
    };
    (
        where_clause.to_string(),
        number("pageSize"),
        number("absolutePage"),
    )
}

#[derive(Debug, PartialEq)]
enum Op {
    Eq,
    Ne,
    Begins,
}

#[derive(Debug)]
struct Clause {
    field: String,
    op: Op,
    value: String,
}

impl Clause {
    fn matches(&self, row: &Map<String, Value>) -> bool {
        let actual = match row.get(&self.field) {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Null) | None => String::new(),
            Some(other) => other.to_string(),
        };
        let (a, v) = (actual.to_ascii_lowercase(), self.value.to_ascii_lowercase());
        match self.op {
            Op::Eq => a == v,
            Op::Ne => a != v,
            Op::Begins => a.starts_with(&v),
        }
    }
}

fn parse(where_clause: &str) -> Result<Vec<Clause>, EpicorError> {
    let trimmed = where_clause.trim();
    if trimmed.is_empty() {
        return Ok(Vec::new());
    }
    split_and(trimmed)
        .iter()
        .map(|part| parse_clause(part))
        .collect()
}

/// Splits on ` AND ` outside quotes.
fn split_and(s: &str) -> Vec<String> {
    let mut parts = Vec::new();
    let mut current = String::new();
    let mut in_quote = false;
    let mut rest = s;
    while let Some(c) = rest.chars().next() {
        if c == '\'' {
            in_quote = !in_quote;
        }
        if let (false, Some(tail)) = (in_quote, strip_word(rest, " and ")) {
            parts.push(std::mem::take(&mut current));
            rest = tail;
            continue;
        }
        current.push(c);
        rest = &rest[c.len_utf8()..];
    }
    parts.push(current);
    parts
}

/// `s` without a leading ASCII `word` (case-insensitive); never splits a character.
fn strip_word<'a>(s: &'a str, word: &str) -> Option<&'a str> {
    let head = s.get(..word.len())?;
    head.eq_ignore_ascii_case(word).then(|| &s[word.len()..])
}

fn parse_clause(part: &str) -> Result<Clause, EpicorError> {
    let invalid = || {
        EpicorError::bad_request(format!(
            "Invalid whereClause '{part}': expected Field = 'value', <>, LIKE 'x%' or BEGINS, joined with AND."
        ))
    };
    let part = part.trim();
    let (field, rest) = part.split_once(char::is_whitespace).ok_or_else(invalid)?;
    let rest = rest.trim_start();
    let (op, value) = if let Some(v) = rest.strip_prefix("<>") {
        (Op::Ne, v)
    } else if let Some(v) = rest.strip_prefix('=') {
        (Op::Eq, v)
    } else if let Some(v) = strip_word(rest, "like ") {
        (Op::Begins, v)
    } else if let Some(v) = strip_word(rest, "begins ") {
        (Op::Begins, v)
    } else {
        return Err(invalid());
    };
    let value = value.trim();
    let value = value
        .strip_prefix('\'')
        .and_then(|v| v.strip_suffix('\''))
        .ok_or_else(invalid)?;
    let value = if op == Op::Begins {
        value.trim_end_matches('%').to_string()
    } else {
        value.to_string()
    };
    Ok(Clause {
        field: field.to_string(),
        op,
        value,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rows() -> Vec<Map<String, Value>> {
        ["CUST-TRACK", "CUST-EXTRA", "ORDER-FIX"]
            .iter()
            .filter_map(|id| {
                json!({"PackageID": id, "Company": "EPIC06"})
                    .as_object()
                    .cloned()
            })
            .collect()
    }

    #[test]
    fn filters_and_pages() {
        let (all, more) = select(rows(), "", 0, 0).expect("empty clause");
        assert_eq!((all.len(), more), (3, false));
        let (one, _) = select(rows(), "PackageID = 'order-fix'", 0, 0).expect("eq");
        assert_eq!(one.len(), 1);
        let (two, _) = select(
            rows(),
            "PackageID LIKE 'CUST%' and Company = 'EPIC06'",
            0,
            0,
        )
        .expect("like and eq");
        assert_eq!(two.len(), 2);
        let (page, more) = select(rows(), "", 2, 1).expect("page");
        assert_eq!((page.len(), more), (2, true));
        let (page, more) = select(rows(), "", 2, 2).expect("page 2");
        assert_eq!((page.len(), more), (1, false));
        assert!(select(rows(), "PackageID ~ 'x'", 0, 0).is_err());
        assert!(select(rows(), "PackageID = x", 0, 0).is_err());
        assert!(
            select(
                rows(),
                "Description = 'héllo wörld' and PackageID likeé 'x'",
                0,
                0
            )
            .is_err()
        );
        let (none, _) =
            select(rows(), "Description = 'é' AND PackageID = 'ü'", 0, 0).expect("utf-8");
        assert!(none.is_empty());
    }
}
