//! One typed client per slot. `instance.state()?` checks once that the pack
//! fills the slot and returns a [`state::StateClient`] whose methods go
//! straight to the export; each file also holds the domain types its slot
//! exchanges, which the version modules convert to and from WIT.

pub mod command;
pub mod deployer;
pub mod kinetic;
pub mod secrets;
pub mod state;
pub mod telemetry;

use envpack_descriptor::Slot;

use super::instance::PackInstance;
use super::wit::SlotGuest;
use crate::error::{Error, Result};

fn not_slot(instance: &PackInstance, slot: Slot) -> Error {
    Error::invalid(format!("{} is not a {slot} pack", instance.label()))
}

impl PackInstance {
    /// The `command` interface every pack exports.
    pub fn command(&mut self) -> command::CommandClient<'_> {
        let (calls, guests) = self.parts();
        command::CommandClient::new(calls, &*guests.command)
    }

    /// The state slot's client, if the pack is a state pack.
    pub fn state(&mut self) -> Result<state::StateClient<'_>> {
        let err = not_slot(self, Slot::State);
        match self.parts() {
            (
                calls,
                super::wit::Guests {
                    slot: SlotGuest::State(g),
                    ..
                },
            ) => Ok(state::StateClient::new(calls, &**g)),
            _ => Err(err),
        }
    }

    /// The secrets slot's client, if the pack is a secrets pack.
    pub fn secrets(&mut self) -> Result<secrets::SecretsClient<'_>> {
        let err = not_slot(self, Slot::Secrets);
        match self.parts() {
            (
                calls,
                super::wit::Guests {
                    slot: SlotGuest::Secrets(g),
                    ..
                },
            ) => Ok(secrets::SecretsClient::new(calls, &**g)),
            _ => Err(err),
        }
    }

    /// The telemetry slot's client, if the pack is a telemetry pack.
    pub fn telemetry(&mut self) -> Result<telemetry::TelemetryClient<'_>> {
        let err = not_slot(self, Slot::Telemetry);
        match self.parts() {
            (
                calls,
                super::wit::Guests {
                    slot: SlotGuest::Telemetry(g),
                    ..
                },
            ) => Ok(telemetry::TelemetryClient::new(calls, &**g)),
            _ => Err(err),
        }
    }

    /// The deployer slot's client, if the pack is a deployer pack.
    pub fn deployer(&mut self) -> Result<deployer::DeployerClient<'_>> {
        let err = not_slot(self, Slot::Deployer);
        match self.parts() {
            (
                calls,
                super::wit::Guests {
                    slot: SlotGuest::Deployer(g),
                    ..
                },
            ) => Ok(deployer::DeployerClient::new(calls, &**g)),
            _ => Err(err),
        }
    }

    /// The kinetic slot's client, if the pack is a kinetic pack.
    pub fn kinetic(&mut self) -> Result<kinetic::KineticClient<'_>> {
        let err = not_slot(self, Slot::Kinetic);
        match self.parts() {
            (
                calls,
                super::wit::Guests {
                    slot: SlotGuest::Kinetic(g),
                    ..
                },
            ) => Ok(kinetic::KineticClient::new(calls, &**g)),
            _ => Err(err),
        }
    }
}
