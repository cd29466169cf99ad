//! What every command receives: the output settings, the acting user, and the database,
//! connected on first use (so that `crm completions` or `crm db local url` never need one), or
//! for work that needs a session of its own, the database reached without a pooler; for the
//! commands that only read, a read replica (`--read-url`) chosen on first use, or the database
//! again when there is none.

use crate::db::Database;
use crate::db::replica::{self, ReadUrls};
use crate::output::{Format, Output};
use anyhow::{Context as _, Result};
use tokio::sync::OnceCell;

/// The global options, as plain values.
#[derive(Debug, Default)]
pub struct Settings {
    /// `--database-url`; the environment and the local cluster are consulted when it is absent.
    pub database_url: Option<String>,
    /// `-o`; absent means table on a terminal, CSV otherwise.
    pub format: Option<Format>,
    /// `--columns`: the columns a list shows, in this order.
    pub columns: Option<Vec<String>>,
    pub quiet: bool,
    /// `-v`: log each SQL statement and its timing to stderr.
    pub log_sql: bool,
    /// `--lock-timeout` in milliseconds; 0 waits forever.
    pub lock_timeout_ms: u64,
    pub acting_user: Option<String>,
    /// `--read-url` / `CRM_READ_URL`, each one URL or key=value string, in the order to try
    /// them; empty when every command reads from the primary.
    pub read_urls: Vec<String>,
    /// `--max-lag`: a replica further behind is skipped.
    pub max_lag: std::time::Duration,
    /// `--direct-url` / `CRM_DIRECT_URL`: the server without the pooler, for what needs a session.
    pub direct_url: Option<String>,
}

pub struct Context {
    pub out: Output,
    /// `--as` / `CRM_USER`: the CRM user recorded as the author of what a command creates.
    pub acting_user: Option<String>,
    database_url: Option<String>,
    db: OnceCell<Database>,
    read_urls: ReadUrls,
    /// `-v`: also say where a command reads.
    verbose: bool,
    /// The replica chosen, `None` when there is none to use.
    replica: OnceCell<Option<Database>>,
    direct_url: Option<String>,
    direct: OnceCell<Database>,
}

impl Context {
    pub fn new(settings: Settings) -> Self {
        crate::db::set_log_sql(settings.log_sql);
        crate::session::set_lock_timeout_ms(settings.lock_timeout_ms);
        Context {
            out: Output::new(settings.format, settings.quiet).with_columns(settings.columns),
            acting_user: settings.acting_user,
            database_url: settings.database_url,
            db: OnceCell::new(),
            read_urls: ReadUrls {
                urls: settings.read_urls,
                max_lag: settings.max_lag,
            },
            verbose: settings.log_sql,
            replica: OnceCell::new(),
            direct_url: settings.direct_url,
            direct: OnceCell::new(),
        }
    }

    /// The database, connected on first use.
    pub async fn db(&self) -> Result<&Database> {
        self.db
            .get_or_try_init(|| Database::open(self.database_url.as_deref(), &self.out))
            .await
    }

    /// The database for `what`, which needs a session of its own (an advisory lock held across
    /// transactions, pg_dump, pg_restore): `--direct-url` when given, else the database; exit 2
    /// naming `--direct-url` when that goes through a connection pooler.
    pub async fn session_db(&self, what: &str) -> Result<&Database> {
        let db = match &self.direct_url {
            Some(url) => self
                .direct
                .get_or_try_init(|| Database::open(Some(url), &self.out))
                .await
                .context("--direct-url / CRM_DIRECT_URL")?,
            None => self.db().await?,
        };
        if db.pooled() {
            return Err(db.needs_direct(what));
        }
        Ok(db)
    }

    /// Whether read replicas were named (`--read-url`, `CRM_READ_URL`), usable or not.
    pub fn has_read_urls(&self) -> bool {
        !self.read_urls.urls.is_empty()
    }

    /// Where a command that only reads reads: the first usable read replica, chosen and
    /// connected on first use, else the database itself. A command that writes anything, or
    /// reads what it has just written, uses [`Self::db`] instead: a replica cannot take the write
    /// and may not have the row yet.
    pub async fn read_db(&self) -> Result<&Database> {
        match self.replica().await? {
            Some(db) => Ok(db),
            None => self.db().await,
        }
    }

    /// The first usable read replica, chosen and connected on first use; `None` when none was
    /// named or none is usable.
    pub async fn replica(&self) -> Result<Option<&Database>> {
        let replica = self
            .replica
            .get_or_try_init(|| replica::choose(&self.read_urls, self.verbose, &self.out))
            .await?;
        Ok(replica.as_ref())
    }
}
