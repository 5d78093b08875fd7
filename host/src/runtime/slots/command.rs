//! The `command` interface: commands a pack declares in its manifest.

use crate::error::Result;
use crate::runtime::instance::Calls;
use crate::runtime::wit::CommandGuest;

/// What a pack command printed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CommandOutput {
    /// For people.
    pub text: String,
    /// For `--json`.
    pub json: Option<String>,
}

/// Runs a pack's commands.
pub struct CommandClient<'a> {
    calls: &'a mut Calls,
    guest: &'a dyn CommandGuest,
}

impl<'a> CommandClient<'a> {
    pub(crate) fn new(calls: &'a mut Calls, guest: &'a dyn CommandGuest) -> Self {
        Self { calls, guest }
    }

    /// Runs command `name` (declared in the manifest) with parsed arguments.
    pub fn run(&mut self, name: &str, args: &[(String, Vec<String>)]) -> Result<CommandOutput> {
        let out = self
            .calls
            .call("command", |store| self.guest.run(store, name, args))?;
        self.calls.check_output(
            "command",
            out.text.len() + out.json.as_ref().map_or(0, String::len),
        )?;
        // Environment names are `[a-z0-9-]`, so replacing the placeholder
        // keeps the JSON valid.
        Ok(CommandOutput {
            text: self.calls.with_env(out.text),
            json: out.json.map(|j| self.calls.with_env(j)),
        })
    }
}
