//! crm administers the PostgreSQL database of the Gemini CRM: its data, and the database itself.
//!
//! `run` builds the context once and dispatches over the command tree; commands return data and
//! an exit status, `output` renders, `main` maps errors to SPEC.md's exit codes.
#![forbid(unsafe_code)]

pub mod cli;
pub mod commands;
pub mod context;
pub mod db;
pub mod error;
pub mod interrupt;
pub mod output;
pub mod password;
pub mod validate;

use cli::{Cli, Command, DbCommand};
use context::Context;

/// Runs one command line; returns the exit status for a run that did not fail.
pub async fn run(cli: Cli) -> anyhow::Result<i32> {
    let ctx = Context::new(&cli.global);
    match cli.command {
        Command::Users(cmd) => cmd.run(&ctx).await,
        Command::Customers(cmd) => cmd.run(&ctx).await,
        Command::Products(cmd) => cmd.run(&ctx).await,
        Command::Orders(cmd) => cmd.run(&ctx).await,
        Command::Notify(cmd) => cmd.run(&ctx).await,
        Command::Db(DbCommand::Migrate(cmd)) => commands::migrate::run(&ctx, cmd).await,
        Command::Db(DbCommand::Check(args)) => commands::check::run(&ctx, args).await,
        Command::Db(DbCommand::Local(cmd)) => commands::local::run(&ctx, cmd).await,
        Command::Db(DbCommand::Health(args)) => commands::health::run(&ctx, args).await,
        Command::Db(DbCommand::Maintain(args)) => commands::maintain::run(&ctx, args).await,
        Command::Db(DbCommand::CreateAppRole(args)) => commands::app_role::run(&ctx, args).await,
        Command::Db(DbCommand::Backup(cmd)) => commands::backup::run(&ctx, cmd).await,
        Command::Db(DbCommand::Restore(args)) => commands::backup::restore(&ctx, args).await,
        Command::Db(DbCommand::Schema(cmd)) => cmd.run(&ctx).await,
        Command::Db(DbCommand::Seed(cmd)) => commands::seed::run(&ctx, cmd).await,
        Command::Db(DbCommand::Setup(args)) => commands::seed::setup(&ctx, args).await,
        Command::Completions { shell } => commands::completions(shell),
    }
}
