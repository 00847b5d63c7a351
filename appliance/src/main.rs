//! `vsa`: the daemon (`vsa serve`), the command-line client, and (re-executed by the
//! daemon as `vsa __vm-runner ...`) the process of one VM.
#![forbid(unsafe_code)]

use vsa_appliance::vm::runner;

fn main() -> std::process::ExitCode {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some(runner::RUNNER_ARG) {
        return runner::main(args);
    }
    vsa_appliance::core::cli::main(vsa_appliance::components::all())
}
