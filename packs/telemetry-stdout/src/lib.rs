//! `greentic.telemetry.stdout`: events as JSON lines.
//!
//! Each event is written to the pack's standard output as one JSON object
//! (`{"ts":..,"level":..,"name":..,"attributes":{..}}`). The host shows a
//! telemetry pack's output on its own standard error, so command results on
//! standard output stay machine-readable. Events below the configured
//! `level` (default `info`) are dropped:
//! `envpack env config local greentic.telemetry.stdout level debug`.

use std::io::Write;

use envpack_sdk::telemetry::Event;
use envpack_sdk::{Args, Error, Level, Output, TelemetryPack, config};

#[derive(Default)]
struct Stdout;

fn rank(l: Level) -> u8 {
    match l {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        Level::Error => 4,
    }
}

fn name(l: Level) -> &'static str {
    ["trace", "debug", "info", "warn", "error"][rank(l) as usize]
}

fn min_level() -> Result<u8, Error> {
    Ok(match config::get("level")?.as_deref() {
        None | Some("info") => 2,
        Some("trace") => 0,
        Some("debug") => 1,
        Some("warn") => 3,
        Some("error") => 4,
        Some(other) => {
            return Err(Error::invalid_input(format!(
                "config level={other:?} is not one of trace, debug, info, warn, error"
            )));
        }
    })
}

fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn line(e: &Event) -> String {
    let attrs: Vec<String> = e
        .attributes
        .iter()
        .map(|(k, v)| format!("{}:{}", json_string(k), json_string(v)))
        .collect();
    format!(
        "{{\"ts\":{},\"level\":\"{}\",\"name\":{},\"attributes\":{{{}}}}}",
        e.timestamp_ms,
        name(e.level),
        json_string(&e.name),
        attrs.join(",")
    )
}

impl TelemetryPack for Stdout {
    fn emit(&self, events: Vec<Event>) -> Result<(), Error> {
        let min = min_level()?;
        let mut out = std::io::stdout().lock();
        for e in events.iter().filter(|e| rank(e.level) >= min) {
            writeln!(out, "{}", line(e)).map_err(|err| Error::unavailable(format!("cannot write an event: {err}")))?;
        }
        Ok(())
    }

    fn flush(&self) -> Result<(), Error> {
        std::io::stdout()
            .flush()
            .map_err(|e| Error::unavailable(format!("cannot flush events: {e}")))
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        match name {
            "telemetry test" => {
                let message = args.get("message").unwrap_or("telemetry works");
                let event = Event {
                    name: "telemetry.test".into(),
                    level: Level::Info,
                    timestamp_ms: std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| d.as_millis() as u64),
                    attributes: vec![("message".into(), message.into())],
                };
                Ok(Output::text(line(&event)).with_json(line(&event)))
            }
            other => Err(Error::invalid_input(format!("unknown command {other:?}"))),
        }
    }
}

envpack_sdk::export_telemetry!(Stdout);
