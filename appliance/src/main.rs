//! `vsa`: the daemon (`vsa serve`) and the command-line client.
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    vsa_appliance::core::cli::main(vsa_appliance::components::all())
}
