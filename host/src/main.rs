//! The `envpack` binary.

fn main() -> std::process::ExitCode {
    envpack_host::cli::main()
}
