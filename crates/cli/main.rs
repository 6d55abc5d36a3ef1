//! `vpcflow`: reads AWS VPC Flow Logs and says which connection attempts were blocked, and
//! where.
//!
//! Exit codes: 0 success (and, for `verdict`, nothing blocked); 1 `verdict` found a blocked
//! pair; 2 an error (bad arguments, unreadable input, a malformed line under `--strict`).

mod aws;
mod catalogue;
mod cmd;
mod flags;
#[cfg(feature = "distributed")]
mod flows;
mod logs;
mod output;
mod report;
mod s3;
mod time;

use std::io::ErrorKind;
use std::process::ExitCode;

use clap::Parser;

use crate::flags::Cli;
use crate::report::EXIT_ERROR;

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(cli.verbose);
    let result = flags::resolve::resolve(cli.command).and_then(cmd::run);
    match result {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if is_broken_pipe(&err) {
                return ExitCode::SUCCESS;
            }
            eprintln!("error: {err:#}");
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// On Ctrl-C, removes spill files before exiting (a run that ends normally removes them
/// itself). Only commands that do not handle the signal themselves install it.
pub fn remove_spills_on_interrupt() {
    let installed = ctrlc::set_handler(|| {
        vpcflow_verdict::remove_spill_dirs();
        std::process::exit(130);
    });
    if let Err(e) = installed {
        tracing::debug!("cannot install the Ctrl-C handler: {e}");
    }
}

/// A closed stdout (`vpcflow parse … | head`) is a normal way to stop, not an error.
fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|e| e.kind() == ErrorKind::BrokenPipe)
    })
}

fn init_logging(verbose: u8) {
    let default = match verbose {
        0 => "warn",
        1 => "info",
        _ => "debug",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .init();
}
