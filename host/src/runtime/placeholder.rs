//! What a pack says about the environment it cannot name.
//!
//! A pack never learns which environment it runs in (nothing in its
//! sandbox names it), yet the fixes it suggests are commands of that
//! environment. The convention (`docs/pack-author-guide.md`, "Errors and
//! hints"): a pack writes the placeholder `<env>` where the name goes, and
//! ends an error message with `help: COMMAND` (after `; ` or a newline).
//! The host replaces `<env>` in error messages and in command output (text
//! and JSON) when the instance runs in an environment, and turns the
//! trailing `help:` into the error's hint, so `--json` carries it in
//! `error.hint` and people see it on a `help:` line. Where no environment
//! exists (`pack call`, `pack test`) the placeholder stays as written.

use crate::types::EnvName;

/// The placeholder a pack writes for the environment's name.
pub const ENV: &str = "<env>";

/// `text` with [`ENV`] replaced by `env`'s name, when given.
pub fn fill(text: String, env: Option<&EnvName>) -> String {
    match env {
        Some(e) if text.contains(ENV) => text.replace(ENV, e.as_str()),
        _ => text,
    }
}

/// The message and its trailing `help: ...` hint, split apart. Only the
/// last `; help: ` or `\nhelp: ` counts, and only when a hint follows it.
pub fn split_hint(message: &str) -> (String, Option<String>) {
    let at = ["; help: ", "\nhelp: "]
        .iter()
        .filter_map(|sep| message.rfind(sep).map(|i| (i, sep.len())))
        .max_by_key(|(i, _)| *i);
    match at {
        Some((i, len)) if !message[i + len..].trim().is_empty() => (
            message[..i].trim_end().to_string(),
            Some(message[i + len..].trim().to_string()),
        ),
        _ => (message.to_string(), None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_placeholder_names_the_environment() {
        let env: EnvName = "prod-eu".parse().expect("name");
        assert_eq!(
            fill("envpack --env <env> x; again <env>".into(), Some(&env)),
            "envpack --env prod-eu x; again prod-eu"
        );
        assert_eq!(
            fill("envpack --env <env> x".into(), None),
            "envpack --env <env> x",
            "no environment: left as written"
        );
    }

    #[test]
    fn a_trailing_help_becomes_the_hint() {
        for (message, want, hint) in [
            (
                "refused; help: envpack secrets put --env dev K",
                "refused",
                Some("envpack secrets put --env dev K"),
            ),
            ("refused\nhelp: envpack x", "refused", Some("envpack x")),
            (
                "a; help: first; b; help: envpack last",
                "a; help: first; b",
                Some("envpack last"),
            ),
            ("nothing to suggest", "nothing to suggest", None),
            ("empty; help: ", "empty; help: ", None),
            (
                "help: at the start is text",
                "help: at the start is text",
                None,
            ),
        ] {
            let (m, h) = split_hint(message);
            assert_eq!(m, want, "{message:?}");
            assert_eq!(h.as_deref(), hint, "{message:?}");
        }
    }
}
