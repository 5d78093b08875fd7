//! `envpack pack new NAME --slot S`: a pack crate from the slot's template.

use crate::cli::args::NewArgs;
use crate::cli::output::Report;
use crate::error::Result;
use crate::scaffold::{self, NewOptions};

/// Generates the crate and says what to run next.
pub fn run(a: NewArgs) -> Result<Report> {
    let made = scaffold::new_pack(&NewOptions {
        name: a.name,
        slot: a.slot.parse()?,
        namespace: a.namespace,
        parent: a.dir,
        sdk_path: a.sdk_path,
    })?;
    let dir = made.dir.display();
    let slot = made.pack.split('.').nth(1).unwrap_or_default();
    let human = format!(
        "created {} in {dir}\n  files  {}\n  sdk    {} ({})\nnext:\n  cd {dir} && cargo test\n  envpack pack build {dir}\n  envpack pack install {dir}/target/envpack/{}-0.1.0.wasm\n  envpack env init dev   # unless it exists\n  envpack env bind dev {slot} {}@0.1.0 --grant-requested\n  envpack --env dev {}",
        made.pack,
        made.files.join(", "),
        made.sdk.display(),
        made.sdk_found,
        made.pack,
        made.pack,
        made.command,
    );
    Ok(Report::new(human, &made))
}
