//! The fixed set of slots a pack can fill.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize, Serializer};

use crate::error::{DescriptorError, Subject};

/// The role a pack plays in the host; the second segment of a pack id.
///
/// The set is closed: the host has one interface per slot, so an unknown
/// slot can never be loaded and is rejected at parse time.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
// Deserialising through `FromStr` gives the same "did you mean" message as
// parsing a descriptor, instead of serde's generic variant list.
#[serde(try_from = "String")]
pub enum Slot {
    /// Deploys workloads somewhere (`deployer`).
    Deployer,
    /// Stores and retrieves secrets (`secrets`).
    Secrets,
    /// Exports logs, metrics and traces (`telemetry`).
    Telemetry,
    /// Persists key-value state (`state`).
    State,
    /// Epicor Kinetic ERP solution handling (`kinetic`): solutions (backup,
    /// build, install), UD schema, UI layers and the inventory of one
    /// Kinetic company. Defined from API 0.2.0 on; an environment binds it
    /// optionally, next to the four slots every environment has.
    Kinetic,
    /// No slot: a command-only pack (`command`), which contributes CLI
    /// commands and nothing else. An environment binds any number of them,
    /// each under its own name. Defined from API 0.2.0 on (the
    /// `command-slot` world).
    Command,
}

impl Slot {
    /// Every slot, in declaration (and `Ord`) order.
    pub const ALL: [Slot; 6] = [
        Slot::Deployer,
        Slot::Secrets,
        Slot::Telemetry,
        Slot::State,
        Slot::Kinetic,
        Slot::Command,
    ];

    /// The slot's name as written in descriptors, e.g. `"deployer"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::Deployer => "deployer",
            Slot::Secrets => "secrets",
            Slot::Telemetry => "telemetry",
            Slot::State => "state",
            Slot::Kinetic => "kinetic",
            Slot::Command => "command",
        }
    }

    /// Whether a pack of this kind fills a slot an environment has at most
    /// one of (every kind but [`Slot::Command`]).
    pub fn is_exclusive(self) -> bool {
        self != Slot::Command
    }

    /// Parses a slot segment, reporting errors against the whole `input` so
    /// the user sees the descriptor they wrote, not just the segment.
    pub(crate) fn parse_in(
        subject: Subject,
        input: &str,
        text: &str,
    ) -> Result<Slot, DescriptorError> {
        Slot::ALL
            .into_iter()
            .find(|slot| slot.as_str() == text)
            .ok_or_else(|| DescriptorError::UnknownSlot {
                subject,
                input: input.to_owned(),
                slot: text.to_owned(),
                suggestion: suggest(text),
            })
    }
}

/// The known slot closest to `text`, if it is close enough to be a typo.
///
/// Jaro-Winkler favours shared prefixes, which fits the usual mistakes
/// (`deploy`, `secret`, `telem`); comparing lowercase catches `State`.
fn suggest(text: &str) -> Option<Slot> {
    // Below this, suggestions for short or unrelated words are mostly noise.
    const THRESHOLD: f64 = 0.8;
    let lower = text.trim().to_ascii_lowercase();
    Slot::ALL
        .into_iter()
        .map(|slot| (strsim::jaro_winkler(&lower, slot.as_str()), slot))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .filter(|(score, _)| *score >= THRESHOLD)
        .map(|(_, slot)| slot)
}

impl fmt::Display for Slot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Slot {
    type Err = DescriptorError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slot::parse_in(Subject::Slot, s, s)
    }
}

impl TryFrom<String> for Slot {
    type Error = DescriptorError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        value.parse()
    }
}

impl Serialize for Slot {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for slot in Slot::ALL {
            assert_eq!(slot.as_str().parse::<Slot>(), Ok(slot));
            assert_eq!(slot.to_string(), slot.as_str());
        }
    }

    #[test]
    fn suggestions() {
        assert_eq!(suggest("deploy"), Some(Slot::Deployer));
        assert_eq!(suggest("secret"), Some(Slot::Secrets));
        assert_eq!(suggest("telemtry"), Some(Slot::Telemetry));
        assert_eq!(suggest("State"), Some(Slot::State));
        assert_eq!(suggest("kinetc"), Some(Slot::Kinetic));
        assert_eq!(suggest("commands"), Some(Slot::Command));
        assert_eq!(suggest("zzz"), None);
        assert_eq!(suggest(""), None);
    }

    #[test]
    fn unknown_slot_message() {
        let err = "deploy".parse::<Slot>().expect_err("unknown slot");
        assert_eq!(
            err.to_string(),
            r#"invalid slot "deploy": unknown slot "deploy"; expected one of deployer, secrets, telemetry, state, kinetic, command (did you mean "deployer"?)"#
        );
    }

    #[test]
    fn serde_is_the_lowercase_name() {
        let json = serde_json::to_string(&Slot::Telemetry).expect("serialise");
        assert_eq!(json, r#""telemetry""#);
        let back: Slot = serde_json::from_str(&json).expect("deserialise");
        assert_eq!(back, Slot::Telemetry);
        let err = serde_json::from_str::<Slot>(r#""Telemetry""#).expect_err("uppercase");
        assert!(
            err.to_string().contains("did you mean \"telemetry\""),
            "{err}"
        );
    }
}
