//! The clap tree: global options, one enum per command group, shared `Args` structs.
//!
//! Doc comments are the help text. Only commands that work appear here; the others arrive with
//! their issues.

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Administers the PostgreSQL database of the Gemini CRM.
///
/// With no database configured (no --database-url, DATABASE_URL or PG* variables), crm uses a
/// private local PostgreSQL cluster under $CRM_HOME, creating and starting it on first use.
#[derive(Debug, Parser)]
#[command(name = "crm", version, propagate_version = true, max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
#[command(next_help_heading = "Global options")]
pub struct GlobalArgs {
    /// PostgreSQL URL or key=value connection string [default: DATABASE_URL, then PG* variables]
    #[arg(long, global = true, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,

    /// Output format [default: table on a terminal, csv otherwise]
    #[arg(short = 'o', long, global = true, value_enum)]
    pub format: Option<Format>,

    /// Silence notices (errors are still printed)
    #[arg(short, long, global = true)]
    pub quiet: bool,

    /// Log each SQL statement and its timing to stderr
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,

    /// How long a statement waits for a lock another session holds before giving up (exit 5);
    /// 0 waits forever. Applies to row and table locks, not to waiting for another crm run
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "CRM_LOCK_TIMEOUT",
        default_value = "30s",
        value_parser = crate::validate::flag::lock_timeout
    )]
    pub lock_timeout: u64,

    /// The CRM user (id or e-mail) recorded as the author of what the command creates
    #[arg(long = "as", global = true, value_name = "USER", env = "CRM_USER")]
    pub acting_user: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Table,
    Csv,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The CRM's staff accounts: list, show, create, update, set-password, delete
    #[command(subcommand)]
    Users(crate::commands::users::UsersCommand),

    /// Customers: list, show, create, update, delete, import, export
    #[command(subcommand)]
    Customers(crate::commands::customers::CustomersCommand),

    /// Products: list, show, create, update, delete, stock, low-stock, import, export
    #[command(subcommand)]
    Products(crate::commands::products::ProductsCommand),

    /// Orders: list, show, create, set-status, cancel, export, report
    #[command(subcommand)]
    Orders(crate::commands::orders::OrdersCommand),

    /// Notifications: send, list, show, read, prefs; the cron jobs prune, low-stock, stale-orders
    #[command(subcommand)]
    Notify(crate::commands::notify::NotifyCommand),

    /// Administer the database itself: migrations, seeds, backups, restores, health, maintenance
    #[command(subcommand)]
    Db(DbCommand),

    /// Print a shell completion script (e.g. crm completions bash > /etc/bash_completion.d/crm)
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Apply pending migrations (see also: status, undo)
    Migrate(MigrateCommand),

    /// Audit the data's invariants (order totals, totalPurchases, stock, orphans); --fix repairs
    Check(crate::commands::check::CheckArgs),

    /// Manage the private local cluster crm uses when no database is configured
    #[command(subcommand)]
    Local(LocalCommand),

    /// Check the database's health for monitoring: exit 0 OK, 1 WARNING, 2 CRITICAL, 3 UNKNOWN
    Health(crate::commands::health::HealthArgs),

    /// VACUUM (ANALYZE) each crm table, one at a time; --reindex rebuilds their indexes
    Maintain(crate::commands::maintain::MaintainArgs),

    /// Create or update the least-privilege application role (DML on the crm tables only)
    CreateAppRole(crate::commands::app_role::AppRoleArgs),

    /// Write a verified backup with pg_dump, then apply retention (see also: list, verify)
    Backup(crate::commands::backup::BackupCommand),

    /// Restore a backup into a new database, check it, and swap it in by renaming
    Restore(crate::commands::backup::RestoreArgs),

    /// Compare the live schema with the one crm's migrations make (see: diff)
    #[command(subcommand)]
    Schema(crate::commands::schema::SchemaCommand),

    /// Load the sample data of seeds/ once (see also: undo); --scale N adds a synthetic data set
    Seed(crate::commands::seed::SeedCommand),

    /// Migrate, then seed: a database to try crm on, in one command
    Setup(crate::commands::seed::SeedArgs),
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct MigrateCommand {
    #[command(subcommand)]
    pub action: Option<MigrateAction>,

    #[command(flatten)]
    pub apply: MigrateApplyArgs,
}

#[derive(Debug, Args)]
pub struct MigrateApplyArgs {
    /// Stop after this version instead of applying every pending migration
    #[arg(long, value_name = "VERSION")]
    pub to: Option<u32>,

    /// List what would run, change nothing
    #[arg(long)]
    pub dry_run: bool,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Subcommand)]
pub enum MigrateAction {
    /// List every migration as applied (with when), pending, divergent or missing
    Status {
        /// Exit 1 when any migration is not applied (pending, divergent or missing)
        #[arg(long)]
        exit_code: bool,
    },

    /// Run down scripts of applied migrations, newest first, removing their history rows
    Undo(UndoArgs),
}

#[derive(Debug, Args)]
#[group(id = "undo_target", multiple = false)]
pub struct UndoArgs {
    /// Undo this many of the newest applied migrations [default: 1]
    #[arg(long, value_name = "N", group = "undo_target")]
    pub steps: Option<u32>,

    /// Undo every migration newer than VERSION (VERSION itself stays applied; 0 undoes all)
    #[arg(long, value_name = "VERSION", group = "undo_target")]
    pub to: Option<u32>,

    /// Undo every applied migration
    #[arg(long, group = "undo_target")]
    pub all: bool,

    #[command(flatten)]
    pub confirm: ConfirmArgs,

    #[command(flatten)]
    pub lock: LockArgs,
}

/// For commands that take crm's advisory lock (migrate, undo, seed, backup, maintain).
#[derive(Debug, Args, Clone, Copy)]
pub struct LockArgs {
    /// Exit 5 at once if another crm run holds the lock, instead of waiting for it
    #[arg(long)]
    pub no_wait: bool,
}

/// For destructive commands: a prompt on a terminal, `--yes` otherwise.
#[derive(Debug, Args, Clone, Copy)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(short = 'y', long)]
    pub yes: bool,
}

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Say whether the local cluster exists and runs, where, and its URL
    Status,
    /// Create the local cluster if needed and start it
    Start,
    /// Stop the local cluster (fast shutdown: sessions are ended, transactions rolled back)
    Stop,
    /// Print the local cluster's connection URL (for psql, pg_dump or DATABASE_URL)
    Url,
}
