//! `secrets-access`: reading named secrets (capability `secret:<name>`).
//!
//! | manifest requests | operator granted | `get("API_KEY")`        |
//! |-------------------|------------------|-------------------------|
//! | `secret:API_KEY`  | `secret:API_KEY` | the value, or `none`    |
//! | `secret:API_KEY`  | `secret:*`       | the value, or `none`    |
//! | `secret:API_KEY`  | -                | `denied`                |
//! | `secret:*`        | `secret:API_KEY` | only `API_KEY`          |
//! | -                 | `secret:*`       | `denied`                |

use envpack_manifest::Capability;

use crate::runtime::since_v0_1::host::{secrets_access, types};
use crate::runtime::store_data::StoreData;

impl secrets_access::Host for StoreData {
    fn get(&mut self, name: String) -> Result<Option<String>, types::Error> {
        self.granter.check(&Capability::Secret(name.clone()))?;
        Ok(self.services.secret(&self.pack, &name)?)
    }
}
