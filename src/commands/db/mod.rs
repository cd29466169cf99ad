//! `crm db`: the database itself (migrations, schema, seeds, data checks, health, maintenance,
//! the application role, backups and restores, the local cluster). Each command is a module of
//! its own; this one owns the group's clap enum and dispatches it.

pub mod app_role;
pub mod backup;
pub mod check;
pub mod health;
pub mod local;
pub mod maintain;
pub mod migrate;
pub mod schema;
pub mod seed;

use crate::context::Context;
use crate::error::ExitStatus;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (see also: status, undo)
    Migrate(migrate::MigrateCommand),

    /// Audit the data's invariants (order totals, totalPurchases, stock, orphans); --fix repairs
    Check(check::CheckArgs),

    /// Manage the private local cluster crm uses when no database is configured
    #[command(subcommand)]
    Local(local::LocalCommand),

    /// Check the database's health for monitoring: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    Health(health::HealthArgs),

    /// VACUUM (ANALYZE) each crm table, one at a time; --reindex rebuilds their indexes
    Maintain(maintain::MaintainArgs),

    /// Create or update the least-privilege application role (DML on the crm tables only)
    CreateAppRole(app_role::AppRoleArgs),

    /// Write a verified backup with pg_dump, then apply retention (see also: list, verify)
    Backup(backup::BackupCommand),

    /// Restore a backup into a new database, check it, and swap it in by renaming
    Restore(backup::RestoreArgs),

    /// Compare the live schema with the one crm's migrations make (see: diff)
    #[command(subcommand)]
    Schema(schema::SchemaCommand),

    /// Load the sample data of seeds/ once (see also: undo); --scale N adds a synthetic data set
    Seed(seed::SeedCommand),

    /// Migrate, then seed: a database to try crm on, in one command
    Setup(seed::SeedArgs),
}

impl DbCommand {
    pub async fn run(self, ctx: &Context) -> Result<ExitStatus> {
        Ok(match self {
            DbCommand::Migrate(cmd) => migrate::run(ctx, cmd).await?,
            DbCommand::Check(args) => check::run(ctx, args).await?,
            DbCommand::Local(cmd) => local::run(ctx, cmd).await?.into(),
            DbCommand::Health(args) => health::run(ctx, args).await?,
            DbCommand::Maintain(args) => maintain::run(ctx, args).await?.into(),
            DbCommand::CreateAppRole(args) => app_role::run(ctx, args).await?.into(),
            DbCommand::Backup(cmd) => backup::run(ctx, cmd).await?.into(),
            DbCommand::Restore(args) => backup::restore(ctx, args).await?.into(),
            DbCommand::Schema(cmd) => cmd.run(ctx).await?,
            DbCommand::Seed(cmd) => seed::run(ctx, cmd).await?.into(),
            DbCommand::Setup(args) => seed::setup(ctx, args).await?.into(),
        })
    }
}
