//! `config`: non-secret per-environment settings (capability `config:<key>`).
//!
//! | manifest requests | operator granted | `get("base_url")`       |
//! |-------------------|------------------|-------------------------|
//! | `config:base_url` | `config:base_url`| the value, or `none`    |
//! | `config:base_url` | `config:*`       | the value, or `none`    |
//! | `config:base_url` | -                | `denied`                |
//! | -                 | `config:*`       | `denied`                |

use envpack_manifest::Capability;

use crate::runtime::since_v0_1::host::{config, types};
use crate::runtime::store_data::StoreData;

impl config::Host for StoreData {
    fn get(&mut self, key: String) -> Result<Option<String>, types::Error> {
        self.granter.check(&Capability::Config(key.clone()))?;
        Ok(self.services.config(&self.pack, &key)?)
    }
}
