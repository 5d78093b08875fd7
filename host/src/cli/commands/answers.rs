//! Answers files: every verb takes its input from flags or from a JSON
//! answers file (`--answers FILE`); `--schema` prints that file's JSON
//! schema, generated from the verb's answer type.

use schemars::JsonSchema;
use serde::de::DeserializeOwned;

use crate::cli::Ctx;
use crate::cli::args::AnswersArgs;
use crate::cli::output::Report;
use crate::env::EnvName;
use crate::error::{Error, Result};

/// Either the schema to print, the answers read from the file, or nothing
/// (flags are used).
pub(crate) enum Input<T> {
    Schema(Report),
    Answers(T),
    Flags,
}

pub(crate) fn input<T: DeserializeOwned + JsonSchema>(a: &AnswersArgs) -> Result<Input<T>> {
    if a.schema {
        let schema = schemars::schema_for!(T);
        let value = serde_json::to_value(&schema).unwrap_or_default();
        let text = serde_json::to_string_pretty(&value).unwrap_or_default();
        return Ok(Input::Schema(Report {
            human: text,
            json: value,
            exit: 0,
        }));
    }
    match &a.answers {
        None => Ok(Input::Flags),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io("read answers file", path, e))?;
            serde_json::from_slice(&bytes)
                .map(Input::Answers)
                .map_err(|e| {
                    Error::invalid(format!(
                        "answers file {} does not fit the schema: {e}",
                        path.display()
                    ))
                    .hint("print the expected shape with --schema")
                })
        }
    }
}

pub(crate) fn env_or(ctx: &Ctx, env: Option<String>) -> Result<EnvName> {
    match env {
        Some(e) => e.parse(),
        None => ctx.env_name(),
    }
}

pub(crate) fn missing(what: &str) -> Error {
    Error::invalid(format!("missing {what}")).hint("give it as an argument or in --answers FILE")
}

/// Renders a split the way every command prints it.
pub(crate) fn split(weights: &[crate::runtime::slots::deployer::Weight]) -> String {
    weights
        .iter()
        .map(|w| format!("{}={}bps", w.revision, w.basis_points))
        .collect::<Vec<_>>()
        .join(" ")
}
