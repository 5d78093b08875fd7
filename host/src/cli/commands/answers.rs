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
        return Ok(Input::Schema(Report::raw(text, value, 0)));
    }
    match &a.answers {
        None => Ok(Input::Flags),
        Some(path) => {
            let bytes = std::fs::read(path).map_err(|e| Error::io("read answers file", path, e))?;
            parse(&bytes, &path.display().to_string()).map(Input::Answers)
        }
    }
}

/// Reads answers bytes as `T`; `name` says where they came from.
fn parse<T: DeserializeOwned>(bytes: &[u8], name: &str) -> Result<T> {
    serde_json::from_slice(bytes).map_err(|e| {
        Error::invalid(format!("answers file {name} does not fit the schema: {e}"))
            .hint("print the expected shape with --schema")
    })
}

/// Reads `bytes` as the answers file of every verb that takes one and runs
/// the checks each verb makes before acting (environment names, traffic
/// entries, versions, attributes); returns how many verbs accepted them.
/// The `answers` fuzz target and its property test call this: whatever the
/// bytes, it returns and never panics.
pub fn check(bytes: &[u8]) -> usize {
    use super::{bundle, deploy, promote, revisions, rollback, traffic};
    fn env(e: Option<&str>) -> Result<()> {
        e.map_or(Ok(()), |e| e.parse::<EnvName>().map(drop))
    }
    let checks: [&dyn Fn() -> Result<()>; 6] = [
        &|| {
            let x: traffic::TrafficAnswers = parse(bytes, "fuzz")?;
            env(x.env.as_deref())?;
            let weights = x
                .weights
                .iter()
                .map(|e| crate::deploy::model::parse_weight(e))
                .collect::<Result<Vec<_>>>()?;
            let weights: Vec<_> = weights
                .into_iter()
                .map(
                    |(revision, basis_points)| crate::runtime::slots::deployer::Weight {
                        revision,
                        basis_points,
                    },
                )
                .collect();
            crate::deploy::model::check_sum(&weights)
        },
        &|| {
            env(parse::<revisions::TransitionAnswers>(bytes, "fuzz")?
                .env
                .as_deref())
        },
        &|| env(Some(&parse::<promote::PromoteAnswers>(bytes, "fuzz")?.to)),
        &|| {
            env(parse::<deploy::DeployAnswers>(bytes, "fuzz")?
                .env
                .as_deref())
        },
        &|| {
            env(parse::<rollback::RollbackAnswers>(bytes, "fuzz")?
                .env
                .as_deref())
        },
        &|| {
            let x: bundle::BundleAnswers = parse(bytes, "fuzz")?;
            bundle::version(&x.version)?;
            bundle::attributes(&x.attributes).map(drop)
        },
    ];
    checks.iter().filter(|c| c().is_ok()).count()
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
    crate::deploy::plan::weights_text(weights)
}
