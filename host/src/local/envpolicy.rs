//! What environment a bundle may give its revision processes (`env.NAME`
//! attributes), checked at `bundle build`, `bundle verify` and again at
//! every start.
//!
//! | name                                         | why refused                               |
//! |----------------------------------------------|-------------------------------------------|
//! | `PORT`, `ENVPACK_*`                          | set by the host; a bundle cannot override |
//! | `LD_*`, `DYLD_*`, `GCONV_PATH`, `MALLOC_*`... | the loader/libc runs code from elsewhere  |
//! | `PATH`, `IFS`, `BASH_ENV`, `ENV`, `SHELLOPTS`, `BASHOPTS`, `PS4`, `CDPATH` | the shell runs or finds code from elsewhere |
//! | `PYTHON*`, `NODE_OPTIONS`, `NODE_PATH`, `PERL5*`, `PERLLIB`, `RUBYOPT`, `RUBYLIB`, `JAVA_TOOL_OPTIONS`, `_JAVA_OPTIONS`, `JDK_JAVA_OPTIONS`, `CLASSPATH` | an interpreter loads code from elsewhere |
//! | empty, or not `[A-Za-z_][A-Za-z0-9_]*`       | not a portable variable name              |
//!
//! Every other name is allowed (`DATABASE_URL`, `LOG_LEVEL`, ...). The
//! table lives in `docs/security.md` too.

use crate::error::{Error, Result};

/// Exact names the host sets itself.
const RESERVED: &[&str] = &["PORT"];
/// Prefixes the host reserves.
const RESERVED_PREFIXES: &[&str] = &["ENVPACK_"];

/// Exact names that make a loader, shell or interpreter run code that is
/// not the payload's.
const INJECTION: &[&str] = &[
    "PATH",
    "IFS",
    "BASH_ENV",
    "ENV",
    "SHELLOPTS",
    "BASHOPTS",
    "PS4",
    "CDPATH",
    "GCONV_PATH",
    "HOSTALIASES",
    "LOCPATH",
    "NLSPATH",
    "RESOLV_HOST_CONF",
    "TMPDIR",
    "NODE_OPTIONS",
    "NODE_PATH",
    "PERLLIB",
    "RUBYOPT",
    "RUBYLIB",
    "JAVA_TOOL_OPTIONS",
    "_JAVA_OPTIONS",
    "JDK_JAVA_OPTIONS",
    "CLASSPATH",
];
/// Prefixes of the same.
const INJECTION_PREFIXES: &[&str] = &["LD_", "DYLD_", "MALLOC_", "PYTHON", "PERL5", "BASH_FUNC_"];

fn portable(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Why a bundle may not set environment variable `name`, if it may not.
pub fn refusal(name: &str) -> Option<&'static str> {
    let upper = name.to_ascii_uppercase();
    if !portable(name) {
        Some("it is not a portable variable name ([A-Za-z_][A-Za-z0-9_]*)")
    } else if RESERVED.contains(&upper.as_str())
        || RESERVED_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        Some("the host sets it for every revision process")
    } else if INJECTION.contains(&upper.as_str())
        || INJECTION_PREFIXES.iter().any(|p| upper.starts_with(p))
    {
        Some("it would make the loader, shell or interpreter run code from outside the payload")
    } else {
        None
    }
}

/// Checks `name` (an `env.NAME` bundle attribute, or a variable a deployer
/// passes to a process); the error names it, says why and how to go on.
pub fn check(name: &str) -> Result<()> {
    match refusal(name) {
        None => Ok(()),
        Some(why) => Err(Error::invalid(format!(
            "environment variable {name:?} is not allowed for revision processes: {why}; \
             remove `env.{name}` from the bundle's attributes (the allowed names are listed in docs/security.md, section local runtime)"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The table above, one row per class.
    #[test]
    fn allows() {
        for (name, allowed) in [
            ("DATABASE_URL", true),
            ("LOG_LEVEL", true),
            ("_private", true),
            ("PORT", false),
            ("port", false),
            ("ENVPACK_REVISION_DIR", false),
            ("LD_PRELOAD", false),
            ("DYLD_INSERT_LIBRARIES", false),
            ("BASH_ENV", false),
            ("ENV", false),
            ("PATH", false),
            ("IFS", false),
            ("PS4", false),
            ("SHELLOPTS", false),
            ("PYTHONPATH", false),
            ("PYTHONSTARTUP", false),
            ("PYTHONHOME", false),
            ("NODE_OPTIONS", false),
            ("NODE_PATH", false),
            ("PERL5LIB", false),
            ("PERL5OPT", false),
            ("RUBYOPT", false),
            ("RUBYLIB", false),
            ("JAVA_TOOL_OPTIONS", false),
            ("_JAVA_OPTIONS", false),
            ("GCONV_PATH", false),
            ("BASH_FUNC_x%%", false),
            ("", false),
            ("A=B", false),
            ("1X", false),
        ] {
            assert_eq!(refusal(name).is_none(), allowed, "{name:?}");
        }
        let e = check("BASH_ENV").unwrap_err();
        assert!(e.message().contains("\"BASH_ENV\""), "{e}");
        assert!(e.message().contains("outside the payload"), "{e}");
    }
}
