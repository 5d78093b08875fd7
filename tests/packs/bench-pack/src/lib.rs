//! `acme.telemetry.bench`: a pack that does as little as possible, for the
//! runtime benchmarks in `host/benches/runtime.rs`.
//!
//! - `bench noop X` returns `X`: one host-to-pack call with a small string.
//! - `bench imports --n N` calls `config::get("k")` N times and returns N:
//!   pack-to-host import calls.

use envpack_sdk::telemetry::Event;
use envpack_sdk::{Args, Error, Output, TelemetryPack, config};

#[derive(Default)]
struct Bench;

impl TelemetryPack for Bench {
    fn emit(&self, _events: Vec<Event>) -> Result<(), Error> {
        Ok(())
    }

    fn command(&self, name: &str, args: &Args) -> Result<Output, Error> {
        match name {
            "bench noop" => Ok(Output::text(args.get("x").unwrap_or_default())),
            "bench imports" => {
                let n: u64 = args
                    .get("n")
                    .unwrap_or("1")
                    .parse()
                    .map_err(|_| Error::invalid_input("--n is not a number"))?;
                let mut calls = 0u64;
                for _ in 0..n {
                    std::hint::black_box(config::get("k")?);
                    calls += 1;
                }
                Ok(Output::text(calls.to_string()))
            }
            other => Err(Error::invalid_input(format!("unknown command {other:?}"))),
        }
    }
}

envpack_sdk::export_telemetry!(Bench);
