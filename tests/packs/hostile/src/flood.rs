//! Floods: many requests at once, and as much log as the host allows.

use wasip2::http::outgoing_handler;
use wasip2::http::types::{ErrorCode, Fields, OutgoingRequest, Scheme};

/// Opens `count` GETs to `url` before waiting for any, then waits for all
/// and counts the outcomes.
pub fn http(url: &str, count: usize) -> String {
    let Some((authority, path)) = url.strip_prefix("http://").map(|rest| {
        rest.split_once('/')
            .map_or((rest, "/".to_string()), |(a, p)| (a, format!("/{p}")))
    }) else {
        return "url must start with http://".into();
    };
    let mut pending = Vec::new();
    let mut refused = 0;
    for _ in 0..count {
        let request = OutgoingRequest::new(Fields::new());
        let _ = request.set_scheme(Some(&Scheme::Http));
        let _ = request.set_authority(Some(authority));
        let _ = request.set_path_with_query(Some(&path));
        match outgoing_handler::handle(request, None) {
            Ok(f) => pending.push(f),
            Err(_) => refused += 1,
        }
    }
    let (mut ok, mut limit, mut other) = (0, 0, 0);
    for f in pending {
        f.subscribe().block();
        match f.get() {
            Some(Ok(Ok(_))) => ok += 1,
            Some(Ok(Err(ErrorCode::ConnectionLimitReached))) => limit += 1,
            _ => other += 1,
        }
    }
    format!("ok {ok}; limit {limit}; other {other}; refused {refused}")
}

/// Writes `lines` log lines of the largest size with the most fields, and
/// `stderr` bytes to stderr.
pub fn log(lines: usize, stderr: usize) {
    let message = "m".repeat(8 * 1024);
    let value = "v".repeat(1024);
    let names: Vec<String> = (0..32).map(|i| format!("field{i}")).collect();
    let fields: Vec<(&str, &str)> = names.iter().map(|n| (n.as_str(), value.as_str())).collect();
    for _ in 0..lines {
        envpack_sdk::log::warn(&message, &fields);
    }
    let chunk = "e".repeat(4096);
    for _ in 0..stderr / 4096 {
        eprintln!("{chunk}");
    }
}
