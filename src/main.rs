//! The `crm` binary: parse, run, and turn the outcome into an exit code (the only place errors
//! are printed).
//!
//! `crm db health` alone follows the monitoring plugin convention: whatever stops it from giving
//! a verdict, bad arguments included (clap's own errors too), exits 3, UNKNOWN, since Nagios
//! reads SPEC's usual 2 as CRITICAL and would page someone for a typo.
#![forbid(unsafe_code)]

use clap::{CommandFactory, Parser};
use crm::cli::{Cli, Command};
use crm::commands::db::{DbCommand, health};
use crm::error;
use std::ffi::OsString;
use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<OsString> = std::env::args_os().collect();
    let cli = match Cli::try_parse_from(&args) {
        Ok(cli) => cli,
        Err(e) => return refuse_arguments(&e, &args),
    };
    let monitoring = matches!(cli.command, Command::Db(DbCommand::Health(_)));
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
            let code = u8::try_from(error::exit_code(&e)).unwrap_or(1);
            ExitCode::from(match monitoring {
                true => health::unknown_unless_signalled(code),
                false => code,
            })
        }
    }
}

/// Prints clap's error (or the help or version asked for) and exits as clap would: 2, or 0 for
/// `--help` and `--version`; 3 for a `crm db health` command line.
fn refuse_arguments(e: &clap::Error, args: &[OsString]) -> ExitCode {
    // clap prints help and version on stdout, errors on stderr; a closed pipe is not an error.
    let _ = e.print();
    if !e.use_stderr() {
        return ExitCode::SUCCESS;
    }
    let code = u8::try_from(e.exit_code()).unwrap_or(2);
    ExitCode::from(match names_db_health(args) {
        true => health::unknown_unless_signalled(code),
        false => code,
    })
}

/// Whether a command line clap refused is `crm db health ...`: clap, told to ignore errors,
/// still finds the subcommands named.
fn names_db_health(args: &[OsString]) -> bool {
    let Ok(matches) = Cli::command()
        .ignore_errors(true)
        .try_get_matches_from(args)
    else {
        return false;
    };
    matches
        .subcommand_matches("db")
        .and_then(|db| db.subcommand_name())
        == Some("health")
}
