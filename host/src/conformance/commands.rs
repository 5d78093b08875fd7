//! The `commands` suite: the `command` export and the commands a pack
//! declares in its manifest.
//!
//! For each declared command: `--help` renders from the declaration and
//! names every argument; the declared arguments parse (through the host's
//! own parser, [`CommandLine`]) into the values given, with defaults filled
//! in; and the pack runs the command with the required arguments (and the
//! defaults) without trapping, with valid JSON output when it returns any
//! (an error it answers for the sample values is shown, not failed).
//! Arguments get their default, else their first allowed value, else `1`;
//! a command declared `effect = "mutate"` runs with `--dry-run`, so it only
//! plans. For every pack: an undeclared command name gets
//! `invalid-input`.

use envpack_manifest::{ArgKind, CommandEffect, CommandSpec, DRY_RUN_ARG};

use super::{Cases, Fail, Sandbox, Verdict, ensure};
use crate::error::Kind;

/// Parsed arguments, as `command.run` takes them.
pub type ParsedArgs = Vec<(String, Vec<String>)>;

/// The host's parser for declared commands (the CLI's), so the suite checks
/// declarations exactly as `envpack <command>` reads them.
pub trait CommandLine {
    /// Parses `words`, the arguments after the command's name.
    fn parse(&self, spec: &CommandSpec, words: &[String]) -> Result<ParsedArgs, String>;
    /// The text `envpack <command> --help` prints.
    fn help(&self, spec: &CommandSpec) -> Result<String, String>;
}

/// The sample value the suite gives an argument.
fn sample(a: &envpack_manifest::ArgSpec) -> String {
    a.default
        .clone()
        .or_else(|| a.values.first().cloned())
        .unwrap_or_else(|| "1".into())
}

/// Words giving every argument, and the parse they must yield.
fn every_arg(spec: &CommandSpec) -> (Vec<String>, ParsedArgs) {
    let mut words = Vec::new();
    let mut want = Vec::new();
    for a in &spec.args {
        let v = sample(a);
        match a.kind {
            ArgKind::Positional => words.push(v.clone()),
            ArgKind::Option => words.extend([format!("--{}", a.name), v.clone()]),
            ArgKind::Flag => words.push(format!("--{}", a.name)),
        }
        let v = if a.kind == ArgKind::Flag {
            "true".into()
        } else {
            v
        };
        want.push((a.name.clone(), vec![v]));
    }
    (words, want)
}

/// Words giving only the required arguments, and the parse they must
/// yield: those values and every default.
fn required_only(spec: &CommandSpec) -> (Vec<String>, ParsedArgs) {
    let mut words = Vec::new();
    let mut want = Vec::new();
    for a in &spec.args {
        if a.required {
            let v = sample(a);
            match a.kind {
                ArgKind::Positional => words.push(v.clone()),
                ArgKind::Option => words.extend([format!("--{}", a.name), v.clone()]),
                ArgKind::Flag => words.push(format!("--{}", a.name)),
            }
            want.push((a.name.clone(), vec![v]));
        } else if let Some(d) = &a.default
            && a.kind != ArgKind::Flag
        {
            want.push((a.name.clone(), vec![d.clone()]));
        }
    }
    (words, want)
}

/// Runs every case.
pub(crate) fn run(sb: &Sandbox<'_>, line: &dyn CommandLine, c: &mut Cases) {
    let specs = sb.pack().manifest().commands.clone();
    for spec in &specs {
        let n = &spec.name;
        c.check(
            &format!("help:{n}"),
            "--help renders from the declaration and names every argument",
            || help(line, spec),
        );
        c.check(
            &format!("args:{n}"),
            "the declared arguments parse into the values given, with defaults filled in",
            || args(line, spec),
        );
        c.check(&format!("run:{n}"), "the pack runs the declared command with arguments parsed from its declaration (required ones given a sample value, defaults filled in, mutating commands with --dry-run) without trapping, and its json output (when given) is JSON", || run_one(sb, line, spec));
    }
    c.check(
        "unknown-command",
        "run of a command name the pack does not declare returns invalid-input",
        || unknown(sb),
    );
}

fn help(line: &dyn CommandLine, spec: &CommandSpec) -> Verdict {
    let text = line.help(spec).map_err(Fail)?;
    let missing: Vec<&str> = spec
        .args
        .iter()
        .map(|a| a.name.as_str())
        .filter(|n| !text.contains(n))
        .collect();
    ensure(missing.is_empty(), || {
        format!("--help does not name {missing:?}")
    })?;
    Ok(format!("--help: {} line(s)", text.lines().count()))
}

fn args(line: &dyn CommandLine, spec: &CommandSpec) -> Verdict {
    for (words, want) in [every_arg(spec), required_only(spec)] {
        let got = line.parse(spec, &words).map_err(|e| {
            Fail(format!(
                "`envpack {} {}` does not parse: {e}",
                spec.name,
                words.join(" ")
            ))
        })?;
        ensure(got == want, || {
            format!(
                "`envpack {} {}` parsed as {got:?}, expected {want:?}",
                spec.name,
                words.join(" ")
            )
        })?;
    }
    Ok(format!("{} argument(s) parsed", spec.args.len()))
}

fn run_one(sb: &Sandbox<'_>, line: &dyn CommandLine, spec: &CommandSpec) -> Verdict {
    // Only what must be given: optional values such as a company or a
    // target override would point the command elsewhere.
    let (mut words, _) = required_only(spec);
    // A command that changes its target only plans, as under `--dry-run`.
    let mutates = spec.effect == CommandEffect::Mutate;
    if mutates {
        words.push(format!("--{DRY_RUN_ARG}"));
    }
    let mut parsed = line
        .parse(spec, &words)
        .map_err(|e| Fail(format!("the sample arguments do not parse: {e}")))?;
    if mutates {
        parsed.retain(|(n, _)| n != DRY_RUN_ARG);
        parsed.push((DRY_RUN_ARG.into(), vec!["true".into()]));
    }
    let mut i = sb.instance()?;
    let out = match i.command().run(&spec.name, &parsed) {
        Ok(out) => out,
        Err(e) if e.kind() == Kind::PackFault => {
            return Err(Fail(format!(
                "`envpack {} {}` returned {}: {}",
                spec.name,
                words.join(" "),
                e.kind().as_str(),
                e.message()
            )));
        }
        Err(e) => {
            return Ok(format!(
                "ran and answered {}: {} (an error for the sample values is fine)",
                e.kind().as_str(),
                e.message()
            ));
        }
    };
    if let Some(j) = &out.json {
        serde_json::from_str::<serde_json::Value>(j)
            .map_err(|e| Fail(format!("its json output does not parse: {e}: {j:?}")))?;
    }
    Ok(format!(
        "ran: {} byte(s) of text{}",
        out.text.len(),
        if out.json.is_some() { " and JSON" } else { "" }
    ))
}

fn unknown(sb: &Sandbox<'_>) -> Verdict {
    let name = "conformance no-such-command";
    let r = sb.instance()?.command().run(name, &[]);
    match r {
        Err(e) if e.kind() == Kind::InvalidInput => Ok(format!("invalid-input: {}", e.message())),
        Err(e) => Err(Fail(format!(
            "run({name:?}) returned {}: {}",
            e.kind().as_str(),
            e.message()
        ))),
        Ok(out) => Err(Fail(format!("run({name:?}) succeeded with {:?}", out.text))),
    }
}
