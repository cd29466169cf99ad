//! The clap tree's top: the global options and the command groups, each group's enum owned by
//! its module under `commands`. Nothing below `lib.rs` imports this module: what commands need
//! of the global options reaches them as plain values in the `Context`.
//!
//! Doc comments are the help text.

use clap::{Args, Parser, Subcommand};

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

    /// A URL that reaches PostgreSQL without the connection pooler of --database-url, for what
    /// needs a session of its own: migrate, seed, maintain, backup and restore use it when given
    #[arg(
        long,
        global = true,
        value_name = "URL",
        env = "CRM_DIRECT_URL",
        hide_env_values = true
    )]
    pub direct_url: Option<String>,

    /// Output format [default: table on a terminal, csv otherwise]; a table leaves out
    /// description, image, address and updatedAt, which wide shows
    #[arg(short = 'o', long, global = true, value_enum)]
    pub format: Option<crate::output::Format>,

    /// The columns to show, in this order (e.g. id,email,totalPurchases), in any format
    #[arg(long, global = true, value_name = "A,B,C", value_delimiter = ',')]
    pub columns: Option<Vec<String>>,

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

    /// A read replica (URL or key=value string) for the commands that only read: list, show,
    /// export, orders report, db check without --fix, db backup --from-replica. May be repeated;
    /// tried in order; CRM_READ_URL takes several URLs separated by spaces
    #[arg(
        long = "read-url",
        global = true,
        value_name = "URL",
        env = "CRM_READ_URL",
        hide_env_values = true
    )]
    pub read_urls: Vec<String>,

    /// How far behind a read replica may be; one further behind is skipped with a notice, and
    /// with none left the primary is read. 0 takes only a replica that is fully caught up
    #[arg(
        long,
        global = true,
        value_name = "DURATION",
        env = "CRM_MAX_LAG",
        default_value = "30s",
        value_parser = crate::validate::flag::max_lag
    )]
    pub max_lag: std::time::Duration,

    /// The CRM user (id or e-mail) recorded as the author of what the command creates
    #[arg(long = "as", global = true, value_name = "USER", env = "CRM_USER")]
    pub acting_user: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// The CRM's staff accounts: list, show, create, update, set-password, delete
    #[command(subcommand)]
    Users(crate::commands::users::UsersCommand),

    /// Customers: list, show, create, update, delete, import, export, duplicates, merge
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
    Db(crate::commands::db::DbCommand),

    /// Print a shell completion script (e.g. crm completions bash > /etc/bash_completion.d/crm)
    Completions {
        /// The shell to complete for
        shell: clap_complete::Shell,
    },
}

impl Cli {
    /// Prints a completion script for `shell` on stdout.
    pub fn completions(shell: clap_complete::Shell) -> anyhow::Result<()> {
        use clap::CommandFactory;
        use std::io::Write;
        let mut cmd = Cli::command();
        // Generated into memory first: clap_complete panics on a write error such as a closed
        // pipe.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "crm", &mut script);
        let mut out = std::io::stdout().lock();
        out.write_all(&script)
            .and_then(|()| out.flush())
            .map_err(anyhow::Error::from)
    }
}
