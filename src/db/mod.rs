//! Connecting to PostgreSQL and the mechanisms every command uses on a connection: the pool and
//! the logged query helpers here; connection strings parsed (`conninfo`) and resolved against
//! the environment and `.pgpass` (`settings`, `pgpass`) as libpq does; the TLS connector; crm's
//! advisory locks (`lock`); the migration library that migrate, seed, health and backups use
//! (`schema`); transactions that read one snapshot or retry on a serialization failure (`tx`);
//! label columns (`label`); scratch databases; and the private local cluster used when nothing
//! is configured.

mod conninfo;
pub mod label;
pub mod local;
pub mod lock;
pub mod pgpass;
pub mod schema;
pub mod scratch;
pub mod settings;
mod tls;
pub mod tx;

use crate::error;
use crate::output::Output;
use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
pub use lock::{AdvisoryLock, LockArgs};
use settings::ConnSettings;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, GenericClient, Row};

/// The CRM's own tables, as the migrations create them (refinery's history table is not one):
/// what `db health` watches, `db maintain` vacuums and `db create-app-role` grants.
pub const CRM_TABLES: [&str; 8] = [
    "Users",
    "Customers",
    "Products",
    "Orders",
    "OrderItems",
    "Notifications",
    "UserNotifications",
    "NotificationPreferences",
];

/// `name` as a quoted SQL identifier (`"Users"`, `"a""b"`), as PostgreSQL's `quote_ident`
/// always quotes: for names from the catalog or validated input in utility statements, which
/// take no parameters.
pub fn quote_identifier(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

/// `text` as an SQL string literal (`'it''s'`), for utility statements, which take no bind
/// parameters (standard_conforming_strings is on: backslashes are plain characters).
pub fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// How many connections one crm run opens at most.
const POOL_SIZE: usize = 8;

/// An open database: its settings and a pool of connections to it.
pub struct Database {
    /// Where and how it was reached; `settings.source` says whether it is the local cluster.
    pub settings: ConnSettings,
    pool: Pool,
    tls: tls::LazyTls,
}

impl Database {
    /// Resolves where to connect (flag, environment, or the local cluster) and opens a pool,
    /// checking with one connection that the server answers and lets us in (exit 4 if not).
    pub async fn open(flag_url: Option<&str>, out: &Output) -> Result<Database> {
        let env = |name: &str| std::env::var(name).ok();
        let home = std::env::var_os("HOME").map(PathBuf::from);
        let os_user = whoami::username()
            .ok()
            .or_else(|| std::env::var("USER").ok())
            .unwrap_or_else(|| "postgres".to_string());
        let resolved = settings::resolve(flag_url, &env, &os_user, home.as_deref())?;
        let settings = match resolved {
            Some((settings, warnings)) => {
                for w in warnings {
                    out.warn(w);
                }
                settings
            }
            None => local::Cluster::from_env()?.ensure_running(out).await?,
        };
        Database::with_settings(settings).await
    }

    /// A pool for `settings`, checked with one connection (exit 4 if the server does not answer
    /// or let us in).
    pub async fn with_settings(settings: ConnSettings) -> Result<Database> {
        let tls = tls::LazyTls::for_settings(&settings)?;
        let manager = Manager::from_config(
            pg_config(&settings, &settings.dbname),
            tls.clone(),
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(deadpool_postgres::Runtime::Tokio1)
            .create_timeout(connect_deadline(&settings))
            .build()
            .context("cannot build the connection pool")?;
        let db = Database {
            settings,
            pool,
            tls,
        };
        // Connect once now, so that an unreachable server fails here with exit 4.
        drop(db.get().await?);
        Ok(db)
    }

    /// A pooled connection.
    pub async fn get(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|e| {
            let cause = match e {
                deadpool_postgres::PoolError::Backend(pg) => anyhow::Error::from(pg),
                deadpool_postgres::PoolError::Timeout(_) => self.timed_out(),
                other => anyhow::anyhow!("{other}"),
            };
            cause.context(self.connect_failure())
        })
    }

    /// A connection of its own, outside the pool: for work that holds a session-level advisory
    /// lock, which must be released before anyone else could use the session.
    pub async fn dedicated(&self) -> Result<Client> {
        self.connect_to(&self.settings.dbname).await
    }

    /// A connection of its own to another database of the same server, with the same settings
    /// otherwise: for work that cannot run inside the database it concerns (creating, renaming
    /// or dropping it).
    pub async fn connect_to(&self, dbname: &str) -> Result<Client> {
        self.connect_with(pg_config(&self.settings, dbname), dbname)
            .await
    }

    /// A connection of its own to `dbname` as another role, logging in with `password`, with
    /// the same settings otherwise: for work that must not run with crm's own rights.
    pub async fn connect_as(&self, dbname: &str, user: &str, password: &str) -> Result<Client> {
        let mut config = pg_config(&self.settings, dbname);
        config.user(user).password(password);
        self.connect_with(config, dbname).await
    }

    async fn connect_with(&self, config: tokio_postgres::Config, dbname: &str) -> Result<Client> {
        let connecting = config.connect(self.tls.clone());
        let connected: Result<_> = match connect_deadline(&self.settings) {
            Some(limit) => match tokio::time::timeout(limit, connecting).await {
                Ok(result) => result.map_err(Into::into),
                Err(_elapsed) => Err(self.timed_out()),
            },
            None => connecting.await.map_err(Into::into),
        };
        let (client, connection) = connected.map_err(|e| {
            e.context(error::Failure::new(
                error::Kind::Connect,
                format!(
                    "cannot connect to {}",
                    self.settings.describe_database(dbname)
                ),
            ))
        })?;
        tokio::spawn(async move {
            // The connection ends when the client is dropped; its error, if any, also surfaces
            // on the client's next query, which is where we report it.
            let _ = connection.await;
        });
        Ok(client)
    }
}

impl Database {
    fn connect_failure(&self) -> error::Failure {
        error::Failure::new(
            error::Kind::Connect,
            format!("cannot connect to {}", self.settings.describe()),
        )
    }

    fn timed_out(&self) -> anyhow::Error {
        anyhow::anyhow!(
            "timed out after {} s waiting for the server (connect_timeout, PGCONNECT_TIMEOUT)",
            self.settings.connect_timeout.map_or(0, |t| t.as_secs())
        )
    }
}

/// How long connecting may take in all, as libpq's connect_timeout: tokio-postgres applies its
/// own only to opening the socket, so a server that accepts and then says nothing would hang us.
/// libpq waits that long for each host in turn.
fn connect_deadline(settings: &ConnSettings) -> Option<std::time::Duration> {
    let hosts = u32::try_from(settings.hosts.len().max(1)).unwrap_or(u32::MAX);
    settings.connect_timeout.map(|t| t.saturating_mul(hosts))
}

/// For a transaction whose queries join, group or sort every order (reports, `db check`):
/// memory enough that PostgreSQL hashes and sorts in memory rather than spilling to disk in
/// batches, as the default 4MB would for a million orders. `SET LOCAL`: this transaction only.
pub const LARGE_WORK_MEM: &str = "SET LOCAL work_mem = '256MB'";

static LOG_SQL: AtomicBool = AtomicBool::new(false);

/// `settings` for tokio-postgres, with the run's lock timeout as a startup option.
fn pg_config(settings: &ConnSettings, dbname: &str) -> tokio_postgres::Config {
    let mut config = settings.to_pg_config();
    config.dbname(dbname);
    config.options(format!(
        "-c lock_timeout={}",
        crate::session::lock_timeout_ms()
    ));
    config
}

/// `-v`: log every statement crm runs, with its timing, to stderr.
pub fn set_log_sql(on: bool) {
    LOG_SQL.store(on, Ordering::Relaxed);
}

/// Logs a statement that ran by other means (COPY) and its timing, under `-v`.
pub fn log_sql(sql: &str, started: Instant) {
    if LOG_SQL.load(Ordering::Relaxed) {
        let one_line = sql.split_whitespace().collect::<Vec<_>>().join(" ");
        eprintln!(
            "sql: {:.1} ms: {one_line}",
            started.elapsed().as_secs_f64() * 1000.0
        );
    }
}

/// Runs a query, logging it under `-v`.
pub async fn query<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query(sql, params).await;
    log_sql(sql, started);
    result
}

/// Runs a query whose rows are streamed as they arrive, logging it under `-v` (the time to the
/// first row).
pub async fn query_raw<C: GenericClient>(
    client: &C,
    sql: &str,
    params: Vec<&(dyn ToSql + Sync)>,
) -> Result<tokio_postgres::RowStream, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query_raw(sql, params).await;
    log_sql(sql, started);
    result
}

/// Runs a query that returns one row, logging it under `-v`.
pub async fn query_one<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<Row, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query_one(sql, params).await;
    log_sql(sql, started);
    result
}

/// Runs a statement, logging it under `-v`.
pub async fn execute<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&(dyn ToSql + Sync)],
) -> Result<u64, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.execute(sql, params).await;
    log_sql(sql, started);
    result
}

/// Runs statements without parameters (a script), logging it under `-v`.
pub async fn batch_execute<C: GenericClient>(
    client: &C,
    sql: &str,
) -> Result<(), tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.batch_execute(sql).await;
    log_sql(sql, started);
    result
}
