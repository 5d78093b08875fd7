//! What a double serves: its companies, credentials, token lifetime and fixtures.

use std::net::SocketAddr;
use std::time::Duration;

/// Configuration of one double. [`Default`] serves `EPIC06` (dev) and `EPIC07` (prod) with
/// seeded fixtures on `127.0.0.1:0`, API key `test-api-key`, user `manager` / `manager`.
#[derive(Debug, Clone)]
pub struct DoubleConfig {
    /// Where to listen; port 0 picks a free port (read it back with `base_url()`).
    pub listen: SocketAddr,
    /// The companies served (`/api/v2/odata/{company}/...`); any other company answers 403.
    pub companies: Vec<String>,
    /// The `x-api-key` every call must carry.
    pub api_key: String,
    /// The user the token endpoint and Basic auth accept.
    pub user: String,
    /// That user's password.
    pub password: String,
    /// Lifetime of issued bearer tokens (`ExpiresIn`).
    pub token_ttl: Duration,
    /// Seed the companies with solutions, UD tables, layers, BAQs, directives and libraries.
    pub seed: bool,
}

impl Default for DoubleConfig {
    fn default() -> Self {
        Self {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            companies: vec!["EPIC06".to_string(), "EPIC07".to_string()],
            api_key: "test-api-key".to_string(),
            user: "manager".to_string(),
            password: "manager".to_string(),
            token_ttl: Duration::from_secs(1200),
            seed: true,
        }
    }
}

impl DoubleConfig {
    /// The default configuration with these companies instead.
    pub fn with_companies<I, S>(companies: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            companies: companies.into_iter().map(Into::into).collect(),
            ..Self::default()
        }
    }
}
