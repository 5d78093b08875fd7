//! `envpack pack test FILE|DIR|REQUIREMENT [--slot S] [--junit FILE]`: the
//! conformance suites ([`crate::conformance`]).

use std::collections::BTreeMap;
use std::path::Path;

use envpack_manifest::CommandSpec;

use crate::builder::{self, BuildOptions};
use crate::cli::Ctx;
use crate::cli::args::TestArgs;
use crate::cli::commands::external;
use crate::cli::output::{Report, table};
use crate::conformance::{self, CommandLine, Outcome, Status, Suite, commands::ParsedArgs};
use crate::error::{Error, Result};
use crate::packs;
use crate::runtime::LoadedPack;
use crate::store::Store;

/// Declared commands parsed exactly as `envpack <command>` parses them.
struct HostCommandLine;

impl CommandLine for HostCommandLine {
    fn parse(
        &self,
        spec: &CommandSpec,
        words: &[String],
    ) -> std::result::Result<ParsedArgs, String> {
        let m = external::build_clap(spec)
            .try_get_matches_from(words)
            .map_err(|e| {
                e.render()
                    .to_string()
                    .lines()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches("error: ")
                    .to_string()
            })?;
        Ok(external::collected(spec, &m))
    }

    fn help(&self, spec: &CommandSpec) -> std::result::Result<String, String> {
        Ok(external::build_clap(spec).render_help().to_string())
    }
}

/// Runs `envpack pack test`.
pub fn run(ctx: &Ctx, a: TestArgs) -> Result<Report> {
    let config = pairs("--config", &a.config)?;
    let secrets = pairs("--secret", &a.secrets)?;
    let attributes = pairs("--attr", &a.attributes)?.into_iter().collect();
    let suites = a
        .slots
        .iter()
        .map(|s| s.parse::<Suite>())
        .collect::<Result<Vec<_>>>()?;
    let pack = load(ctx, &a)?;
    let outcome = conformance::run(
        ctx.runtime()?,
        &pack,
        &conformance::Options {
            suites,
            config,
            secrets,
            attributes,
            command_line: &HostCommandLine,
        },
    )?;
    if let Some(file) = &a.junit {
        crate::fsutil::write_atomic(file, conformance::junit::render(&outcome).as_bytes())?;
    }
    let human = render(&outcome);
    if let Err(e) = outcome.check() {
        if !ctx.json {
            eprintln!("{human}");
        }
        return Err(e);
    }
    Ok(Report::new(human, &outcome))
}

/// `KEY=VALUE` options as a map.
fn pairs(option: &str, given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for kv in given {
        let (k, v) = kv
            .split_once('=')
            .ok_or_else(|| Error::invalid(format!("{option} {kv:?} is not KEY=VALUE")))?;
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// The pack to test: a crate directory (built), a pack file, or an
/// installed pack.
fn load(ctx: &Ctx, a: &TestArgs) -> Result<LoadedPack> {
    let path = Path::new(&a.pack);
    if path.is_dir() {
        let built = builder::build(
            &BuildOptions {
                dir: path.to_path_buf(),
                out_dir: None,
                debug: a.debug,
                dev: false,
                target_dir: a.target_dir.clone(),
                quiet: ctx.json,
            },
            &crate::cli::progress::Terminal,
        )?;
        return packs::load_file(ctx.runtime()?, &built.path);
    }
    if a.pack.ends_with(".wasm") || path.is_file() {
        return packs::load_file(ctx.runtime()?, path);
    }
    let req: envpack_descriptor::Requirement = a.pack.parse().map_err(|e: envpack_descriptor::DescriptorError| {
        Error::from(e).hint("give a pack file (.wasm), a pack crate directory, or an installed pack such as greentic.state.fs")
    })?;
    let store = Store::open(&ctx.home);
    let d = store.resolve(&req)?;
    packs::load(&store, ctx.runtime()?, &d, None)
}

fn render(o: &Outcome) -> String {
    let rows = o
        .cases
        .iter()
        .map(|c| {
            let result = match c.status {
                Status::Pass => "pass",
                Status::Fail => "FAIL",
                Status::Skip => "skip",
            };
            vec![
                c.suite.to_string(),
                c.case.clone(),
                result.to_string(),
                first_line(&c.observed),
            ]
        })
        .collect();
    let mut out = format!("{} ({})\n", o.pack, o.digest);
    out.push_str(&table(&["suite", "case", "result", "observed"], rows));
    for c in o.cases.iter().filter(|c| c.status == Status::Fail) {
        out.push_str(&format!(
            "\nFAIL {}/{}\n  rule:     {}\n  observed: {}",
            c.suite,
            c.case,
            c.rule,
            c.observed.replace('\n', "\n            ")
        ));
    }
    out.push_str(&format!(
        "\n{} passed, {} failed, {} skipped",
        o.passed, o.failed, o.skipped
    ));
    out
}

fn first_line(s: &str) -> String {
    let line = s.lines().next().unwrap_or("");
    if line.chars().count() > 70 {
        format!("{}...", line.chars().take(67).collect::<String>())
    } else {
        line.to_string()
    }
}
