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
        tokio::select! {
            result = crm::run(cli) => result,
            // Dropping the command's future closes its connections: the server rolls back any
            // open transaction.
            _ = tokio::signal::ctrl_c() => Err(error::Failure::new(
                error::Kind::Interrupted,
                "interrupted: any open transaction was rolled back",
            ).into()),
        }
    });
    // Do not wait for stray tasks (a connection still closing) once the outcome is known.
    runtime.shutdown_background();
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(e) if error::is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {}", error::render(&e));
            ExitCode::from(u8::try_from(error::exit_code(&e)).unwrap_or(1))
        }
    }
}
