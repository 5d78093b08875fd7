//! `envpack-k8s-double`: the Kubernetes API test double, standalone, for an
//! operator to point kubectl (or a deployer) at.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use envpack_k8s_double::{Denial, K8sDouble, Options, PodFailure, RolloutMatch};

/// Serve a Kubernetes API test double over plain HTTP.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:6443")]
    listen: SocketAddr,
    /// Bearer token every request must carry.
    #[arg(long, env = "ENVPACK_K8S_DOUBLE_TOKEN")]
    token: String,
    /// How long a Deployment takes to become available: `0`, `500ms`, `3s`.
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    rollout_delay: Duration,
    /// Write a kubeconfig for this server and token to PATH.
    #[arg(long, value_name = "PATH")]
    kubeconfig: Option<PathBuf>,
    /// Default namespace of the kubeconfig's context (created if missing).
    #[arg(long, default_value = "default")]
    namespace: String,
    /// Deny a verb on a resource in the RBAC table: `patch/deployments`,
    /// `delete/services`, `*/secrets` (repeatable).
    #[arg(long, value_name = "VERB/RESOURCE", value_parser = Denial::parse)]
    deny: Vec<Denial>,
    /// Never let this Deployment become available (repeatable).
    #[arg(long, value_name = "NAME")]
    fail_rollout: Vec<String>,
    /// Never let Deployments running an image containing TEXT become
    /// available (repeatable).
    #[arg(long, value_name = "TEXT")]
    fail_image: Vec<String>,
    /// How failing rollouts fail.
    #[arg(long, value_enum, default_value = "image-pull-back-off")]
    failure: Failure,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
enum Failure {
    ImagePullBackOff,
    CrashLoopBackOff,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let bad = || format!("invalid duration {text:?}: expected e.g. 0, 500ms or 3s");
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.parse().map(Duration::from_millis).map_err(|_| bad());
    }
    let secs = text.strip_suffix('s').unwrap_or(text);
    secs.parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
        .ok_or_else(bad)
}

fn main() -> ExitCode {
    let args = Args::parse();
    let options = Options {
        listen: args.listen,
        token: args.token,
        rollout_delay: args.rollout_delay,
        namespaces: vec![args.namespace.clone()],
    };
    let double = match K8sDouble::start(options) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    for d in args.deny {
        double.deny(&d.verb, &d.resource);
    }
    let failure = match args.failure {
        Failure::ImagePullBackOff => PodFailure::ImagePullBackOff,
        Failure::CrashLoopBackOff => PodFailure::CrashLoopBackOff,
    };
    for name in args.fail_rollout {
        double.fail_rollout(RolloutMatch::Name(name), failure);
    }
    for image in args.fail_image {
        double.fail_rollout(RolloutMatch::Image(image), failure);
    }
    if let Some(path) = &args.kubeconfig {
        if let Err(e) = double.write_kubeconfig(path, &args.namespace) {
            eprintln!(
                "error: could not write the kubeconfig {}: {e}",
                path.display()
            );
            return ExitCode::FAILURE;
        }
        println!(
            "kubeconfig written to {} (use: kubectl --kubeconfig {} get deployments)",
            path.display(),
            path.display()
        );
    }
    println!("serving the Kubernetes API on {}", double.base_url());
    loop {
        std::thread::park();
    }
}
