//! `acme.deployer.scripted`: deploys like the recorder; observes what the
//! test scripts in its `reality` config key.

#[path = "../../test-deployer/src/recording.rs"]
mod recording;

use envpack_sdk::deployer::ObservedRevision;
use envpack_sdk::{Error, config};

const TARGET: &str = "scripted";

fn observe_reality() -> Result<Vec<ObservedRevision>, Error> {
    match config::get("reality")? {
        Some(script) => scripted(&script),
        None => recording::recorded(),
    }
}

fn none_if_empty(s: &str) -> Option<String> {
    (!s.is_empty()).then(|| s.to_string())
}

/// The reality the test wrote.
fn scripted(script: &str) -> Result<Vec<ObservedRevision>, Error> {
    if let Some(why) = script.strip_prefix("fail:") {
        return Err(Error::unavailable(why.to_string()));
    }
    let mut out = Vec::new();
    for record in script.split(';').filter(|r| !r.trim().is_empty()) {
        let f: Vec<&str> = record.split('|').collect();
        if f.len() != 6 {
            return Err(Error::invalid_input(format!("scripted record {record:?} needs 6 fields")));
        }
        out.push(ObservedRevision {
            deployment: f[0].into(),
            revision: f[1].into(),
            state: f[2].into(),
            digest: none_if_empty(f[3]),
            endpoint: none_if_empty(f[4]),
            attributes: f[5]
                .split(',')
                .filter_map(|kv| kv.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
    }
    Ok(out)
}

envpack_sdk::export_deployer!(recording::Recorder);
