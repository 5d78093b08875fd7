//! The bearer token from `TokenResource.svc`, cached in the pack's kv and
//! refreshed before it expires (and after a 401).
//!
//! The token request carries the user, password and API key as header
//! placeholders (`userName: {{credential:KINETIC_USER}}`, ...), which the
//! host fills in as the request leaves: the pack sees only the token the
//! server returns, never the credentials that bought it.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::error::KineticError;

/// `ExpiresIn` when the server leaves it out (Kinetic's default TTL).
pub const DEFAULT_TTL_S: u64 = 1200;

/// A token and when it stops working.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CachedToken {
    /// The bearer token.
    pub access_token: String,
    /// Expiry, in ms since the epoch.
    pub expires_at_ms: u64,
}

impl CachedToken {
    /// Parses a `TokenResource.svc` answer received at `now_ms`.
    pub fn parse(body: &[u8], now_ms: u64) -> Result<Self, KineticError> {
        let call = "TokenResource.svc";
        let v: Value = serde_json::from_slice(body)
            .map_err(|e| KineticError::protocol(call, format!("the body is not JSON ({e})")))?;
        let token = v
            .get("AccessToken")
            .or_else(|| v.get("access_token"))
            .and_then(Value::as_str)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| KineticError::protocol(call, "no AccessToken in the answer"))?;
        let ttl = match v.get("ExpiresIn").or_else(|| v.get("expires_in")) {
            None | Some(Value::Null) => DEFAULT_TTL_S,
            Some(Value::Number(n)) => n.as_u64().ok_or_else(|| {
                KineticError::protocol(call, format!("ExpiresIn {n} is not a whole number"))
            })?,
            // Some servers send it as a string; accept a number in one.
            Some(Value::String(s)) => s.trim().parse().map_err(|_| {
                KineticError::protocol(call, format!("ExpiresIn {s:?} is not a number"))
            })?,
            Some(other) => {
                return Err(KineticError::protocol(
                    call,
                    format!("ExpiresIn is {other}, expected a number of seconds"),
                ));
            }
        };
        Ok(Self {
            access_token: token.to_string(),
            expires_at_ms: now_ms.saturating_add(ttl.saturating_mul(1000)),
        })
    }

    /// Whether the token is still good at `now_ms` with `margin_ms` to spare.
    pub fn fresh(&self, now_ms: u64, margin_ms: u64) -> bool {
        now_ms.saturating_add(margin_ms) < self.expires_at_ms
    }

    /// Stored form.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// From the stored form; `None` for anything unreadable (it is refetched).
    pub fn from_bytes(bytes: &[u8]) -> Option<Self> {
        serde_json::from_slice(bytes).ok()
    }
}

/// The kv key of the token for a server and user: changing either (or the
/// secret names) starts a new cache entry.
pub fn cache_key(base_url: &str, user_secret: &str, api_key_secret: &str) -> String {
    use sha2::Digest as _;
    let digest = sha2::Sha256::digest(format!("{base_url}\n{user_secret}\n{api_key_secret}"));
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("token/{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_expires() {
        let t = CachedToken::parse(
            br#"{"AccessToken":"abc","ExpiresIn":300,"TokenType":"Bearer"}"#,
            1_000,
        )
        .expect("token");
        assert_eq!(t.expires_at_ms, 301_000);
        assert!(t.fresh(1_000, 60_000));
        assert!(
            !t.fresh(241_000, 60_000),
            "refreshed a minute before expiry"
        );
        let d = CachedToken::parse(br#"{"AccessToken":"abc"}"#, 0).expect("default ttl");
        assert_eq!(d.expires_at_ms, DEFAULT_TTL_S * 1000);
        let s =
            CachedToken::parse(br#"{"AccessToken":"abc","ExpiresIn":"60"}"#, 0).expect("string");
        assert_eq!(s.expires_at_ms, 60_000);
        assert!(CachedToken::parse(br#"{"ExpiresIn":60}"#, 0).is_err());
        assert!(CachedToken::parse(b"<html>", 0).is_err());
        assert_eq!(CachedToken::from_bytes(&t.to_bytes()), Some(t));
        assert_ne!(cache_key("a", "U", "K"), cache_key("b", "U", "K"));
    }
}
