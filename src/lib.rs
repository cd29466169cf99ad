//! crm administers the PostgreSQL database of the Gemini CRM: its data, and the database itself.
//!
//! `run` builds the context once and dispatches over the command groups; commands return data
//! (and, for the few whose result is a verdict, an exit status), `output` renders, `main` maps
//! errors to SPEC.md's exit codes.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod context;
pub mod db;
pub mod error;
pub mod interrupt;
pub mod output;
pub mod password;
pub mod session;
pub mod validate;

use cli::{Cli, Command};
use context::Context;
use error::ExitStatus;

/// Runs one command line; returns the exit status of a run that did not fail.
pub async fn run(cli: Cli) -> anyhow::Result<ExitStatus> {
    refuse_metrics_format(&cli)?;
    let global = cli.global;
    let ctx = Context::new(context::Settings {
        database_url: global.database_url,
        format: global.format,
        columns: global.columns,
        quiet: global.quiet,
        log_sql: global.verbose > 0,
        lock_timeout_ms: global.lock_timeout,
        acting_user: global.acting_user,
        read_urls: validate::read_urls(&global.read_urls),
        max_lag: global.max_lag,
        direct_url: global.direct_url,
    });
    Ok(match cli.command {
        Command::Users(cmd) => cmd.run(&ctx).await?.into(),
        Command::Customers(cmd) => cmd.run(&ctx).await?.into(),
        Command::Products(cmd) => cmd.run(&ctx).await?.into(),
        Command::Orders(cmd) => cmd.run(&ctx).await?.into(),
        Command::Notify(cmd) => cmd.run(&ctx).await?.into(),
        Command::Db(cmd) => cmd.run(&ctx).await?,
        Command::Completions { shell } => Cli::completions(shell)?.into(),
    })
}

/// `-o prometheus` is the format of the two commands whose results are metrics; any other
/// command refuses it (exit 2) before it runs, so that nothing is changed for a result that
/// could not be printed.
fn refuse_metrics_format(cli: &Cli) -> anyhow::Result<()> {
    use commands::db::DbCommand;
    use commands::db::backup::{BackupAction, BackupCommand};
    if cli.global.format != Some(output::Format::Prometheus) {
        return Ok(());
    }
    match &cli.command {
        Command::Db(DbCommand::Health(_))
        | Command::Db(DbCommand::Backup(BackupCommand {
            action: Some(BackupAction::List(_)),
            ..
        })) => Ok(()),
        _ => Err(error::usage(output::PROMETHEUS_ONLY)),
    }
}
