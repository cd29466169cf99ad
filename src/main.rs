//! The `crm` binary: parse, run, and turn the outcome into an exit code (the only place errors
//! are printed).
#![forbid(unsafe_code)]

use clap::Parser;
use crm::error;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = crm::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        let mut signals = match crm::interrupt::listen() {
            Ok(signals) => signals,
            Err(e) => return Err(anyhow::Error::from(e).context("cannot listen for signals")),
        };
        let command = crm::run(cli);
        tokio::pin!(command);
        tokio::select! {
            result = &mut command => result,
            signal = signals.next() => {
                if crm::interrupt::cleaning_up() {
                    // The command undoes its partial work and returns the signal's error; a
                    // second signal stops waiting for it.
                    tokio::select! {
                        result = &mut command => result,
                        _ = signals.next() => Err(signal.error()),
                    }
                } else {
                    // Dropping the command's future kills the tools it started and closes its
                    // connections: the server rolls back any open transaction.
                    Err(signal.error_saying(": any open transaction was rolled back"))
                }
            }
        }
    });
    // Do not wait for stray tasks (a connection still closing) once the outcome is known.
    runtime.shutdown_background();
    match outcome {
        Ok(status) => ExitCode::from(status.code()),
        Err(e) if error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error::render(&e));
            ExitCode::from(u8::try_from(error::exit_code(&e)).unwrap_or(1))
        }
    }
}
