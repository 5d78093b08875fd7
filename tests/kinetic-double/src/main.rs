//! `envpack-kinetic-double`: the Kinetic REST test double as a standalone server.
//!
//! ```text
//! envpack-kinetic-double --listen 127.0.0.1:8077 --company EPIC06 --company EPIC07 \
//!     --api-key K --user U --password P [--token-ttl 1200] [--no-seed]
//! ```

use std::process::ExitCode;
use std::time::Duration;

use envpack_kinetic_double::{DoubleConfig, KineticDouble};

const USAGE: &str =
    "usage: envpack-kinetic-double [--listen ADDR] [--company ID]... [--api-key KEY] \
[--user USER] [--password PASSWORD] [--token-ttl SECS] [--seed | --no-seed]

  --listen ADDR      where to listen (default 127.0.0.1:0, a free port)
  --company ID       a company to serve; repeat for several (default EPIC06 and EPIC07)
  --api-key KEY      the x-api-key every call must carry (default test-api-key)
  --user USER        the user the token endpoint accepts (default manager)
  --password PASS    that user's password (default manager)
  --token-ttl SECS   bearer token lifetime, ExpiresIn (default 1200)
  --seed / --no-seed seed fixtures (default: seed)

Routes and the /_double control API: docs/kinetic-double.md";

fn parse(args: &[String]) -> Result<DoubleConfig, String> {
    let mut config = DoubleConfig::default();
    let mut companies = Vec::new();
    let mut it = args.iter();
    while let Some(flag) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .cloned()
                .ok_or_else(|| format!("{name} needs a value\n\n{USAGE}"))
        };
        match flag.as_str() {
            "--listen" => {
                let v = value("--listen")?;
                config.listen = v
                    .parse()
                    .map_err(|_| format!("--listen '{v}' is not an address like 127.0.0.1:8077"))?;
            }
            "--company" => companies.push(value("--company")?),
            "--api-key" => config.api_key = value("--api-key")?,
            "--user" => config.user = value("--user")?,
            "--password" => config.password = value("--password")?,
            "--token-ttl" => {
                let v = value("--token-ttl")?;
                let secs = v
                    .parse()
                    .map_err(|_| format!("--token-ttl '{v}' is not a number of seconds"))?;
                config.token_ttl = Duration::from_secs(secs);
            }
            "--seed" => config.seed = true,
            "--no-seed" => config.seed = false,
            "-h" | "--help" => return Err(USAGE.to_string()),
            other => return Err(format!("unknown argument '{other}'\n\n{USAGE}")),
        }
    }
    if !companies.is_empty() {
        config.companies = companies;
    }
    Ok(config)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let config = match parse(&args) {
        Ok(config) => config,
        Err(message) => {
            eprintln!("{message}");
            return ExitCode::from(2);
        }
    };
    let companies = config.companies.join(", ");
    let double = match KineticDouble::start(config) {
        Ok(double) => double,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // The base URL on stdout (one line) so scripts can read the port when --listen used :0.
    println!("{}", double.base_url());
    eprintln!(
        "kinetic double serving companies {companies} at {}; control API at {}/_double/journal; Ctrl-C stops it",
        double.base_url(),
        double.base_url()
    );
    loop {
        std::thread::park();
    }
}
