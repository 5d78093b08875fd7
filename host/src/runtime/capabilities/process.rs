//! `process`: revision processes for deployers (capability `process`).
//!
//! | manifest requests | operator granted | any `process` call                                     |
//! |-------------------|------------------|--------------------------------------------------------|
//! | `process`         | `process`        | allowed; programs only from the revision's payload dir |
//! | `process`         | -                | `denied`                                               |
//! | -                 | `process`        | `denied`                                               |
//!
//! Outside an environment (`pack call`) every call is `unavailable`.

use envpack_manifest::Capability;

use crate::env::{ProcessInfo, ProcessSpec};
use crate::runtime::since_v0_1::host::{process, types};
use crate::runtime::store_data::StoreData;

fn to_wit(i: ProcessInfo) -> process::Info {
    process::Info {
        revision: i.revision,
        pid: i.pid,
        port: i.port,
        running: i.running,
        output_tail: i.output_tail,
        bundle: i.bundle,
    }
}

impl process::Host for StoreData {
    fn start(&mut self, spec: process::Spec) -> Result<process::Info, types::Error> {
        self.granter.check(&Capability::Process)?;
        let spec = ProcessSpec {
            revision: spec.revision,
            argv: spec.argv,
            env: spec.env,
        };
        Ok(to_wit(self.services.process_start(&self.pack, &spec)?))
    }

    fn stop(&mut self, revision: String) -> Result<bool, types::Error> {
        self.granter.check(&Capability::Process)?;
        Ok(self.services.process_stop(&self.pack, &revision)?)
    }

    fn status(&mut self, revision: String) -> Result<Option<process::Info>, types::Error> {
        self.granter.check(&Capability::Process)?;
        Ok(self
            .services
            .process_status(&self.pack, &revision)?
            .map(to_wit))
    }

    fn list(&mut self) -> Result<Vec<process::Info>, types::Error> {
        self.granter.check(&Capability::Process)?;
        Ok(self
            .services
            .process_list(&self.pack)?
            .into_iter()
            .map(to_wit)
            .collect())
    }
}
