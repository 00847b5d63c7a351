//! `vsa`: the daemon (`vsa serve`) and the command-line client.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    vsa_appliance::cli::main()
}
