//! `acme.deployer.recorder`: a deployer that records instead of running,
//! and observes what it recorded.

mod recording;

use envpack_sdk::Error;
use envpack_sdk::deployer::ObservedRevision;

const TARGET: &str = "recorder";

fn observe_reality() -> Result<Vec<ObservedRevision>, Error> {
    recording::recorded()
}

envpack_sdk::export_deployer!(recording::Recorder);
