//! The `envpack` binary.

fn main() -> std::process::ExitCode {
    // A revision's supervisor is this binary started with a hidden first
    // argument; it never reaches the CLI.
    if let Some(code) = envpack_host::local::supervise::dispatch() {
        return code;
    }
    envpack_host::cli::main()
}
