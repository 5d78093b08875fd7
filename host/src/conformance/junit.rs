//! JUnit XML for `pack test --junit FILE`: one `<testsuite>` per suite,
//! one `<testcase>` per case, the rule as its `<failure>` message and what
//! the pack did as the failure's text (or `<skipped>`), so CI systems show
//! conformance like any test run.

use super::{Outcome, Status, Suite};

fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            // XML 1.0 has no representation for other control characters.
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\r' | '\t') => out.push('?'),
            c => out.push(c),
        }
    }
    out
}

/// The JUnit XML document of `outcome`.
pub fn render(outcome: &Outcome) -> String {
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    out.push_str(&format!(
        "<testsuites name=\"envpack pack test {}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\">\n",
        escape(&outcome.pack.to_string()),
        outcome.cases.len(),
        outcome.failed,
        outcome.skipped
    ));
    for suite in &outcome.suites {
        suite_xml(outcome, *suite, &mut out);
    }
    out.push_str("</testsuites>\n");
    out
}

fn suite_xml(outcome: &Outcome, suite: Suite, out: &mut String) {
    let cases: Vec<_> = outcome.cases.iter().filter(|c| c.suite == suite).collect();
    let count = |s: Status| cases.iter().filter(|c| c.status == s).count();
    out.push_str(&format!(
        "  <testsuite name=\"{suite}\" tests=\"{}\" failures=\"{}\" skipped=\"{}\" errors=\"0\">\n",
        cases.len(),
        count(Status::Fail),
        count(Status::Skip)
    ));
    out.push_str(&format!(
        "    <properties><property name=\"pack\" value=\"{}\"/><property name=\"digest\" value=\"{}\"/></properties>\n",
        escape(&outcome.pack.to_string()),
        escape(&outcome.digest.to_string())
    ));
    for c in cases {
        let head = format!(
            "    <testcase classname=\"{}.{suite}\" name=\"{}\"",
            escape(&outcome.pack.id().to_string()),
            escape(&c.case)
        );
        match c.status {
            Status::Pass => out.push_str(&format!(
                "{head}>\n      <system-out>{}</system-out>\n    </testcase>\n",
                escape(&format!("{}\n{}", c.rule, c.observed))
            )),
            Status::Fail => out.push_str(&format!(
                "{head}>\n      <failure message=\"{}\" type=\"conformance\">{}</failure>\n    </testcase>\n",
                escape(&c.rule),
                escape(&c.observed)
            )),
            Status::Skip => out.push_str(&format!(
                "{head}>\n      <skipped message=\"{}\"/>\n    </testcase>\n",
                escape(&c.observed)
            )),
        }
    }
    out.push_str("  </testsuite>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::conformance::Case;

    #[test]
    fn renders_every_case_escaped() {
        let case = |name: &str, status, observed: &str| Case {
            suite: Suite::State,
            case: name.into(),
            rule: "a <rule> & more".into(),
            ok: status != Status::Fail,
            status,
            observed: observed.into(),
        };
        let outcome = Outcome {
            pack: "acme.state.memory@1.0.0".parse().expect("descriptor"),
            digest: envpack_manifest::Digest::of(b"x"),
            suites: vec![Suite::State],
            cases: vec![
                case("a", Status::Pass, "fine"),
                case("b", Status::Fail, "got \"1\"\u{1b}"),
                case("c", Status::Skip, "n/a"),
            ],
            passed: 1,
            failed: 1,
            skipped: 1,
        };
        let xml = render(&outcome);
        assert!(
            xml.contains("tests=\"3\" failures=\"1\" skipped=\"1\""),
            "{xml}"
        );
        assert!(xml.contains("<failure message=\"a &lt;rule&gt; &amp; more\" type=\"conformance\">got &quot;1&quot;?</failure>"), "{xml}");
        assert!(xml.contains("<skipped message=\"n/a\"/>"), "{xml}");
        assert!(
            xml.contains("classname=\"acme.state.memory.state\" name=\"a\""),
            "{xml}"
        );
    }
}
