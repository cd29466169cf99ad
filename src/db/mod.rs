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
pub mod param;
pub mod pgpass;
pub mod replica;
pub mod schema;
pub mod scratch;
mod service;
pub mod settings;
mod tls;
pub mod tx;

use crate::error;
use crate::output::Output;
use anyhow::{Context, Result};
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
pub use lock::{AdvisoryLock, LockArgs};
pub use param::Param;
use settings::{ConnSettings, TargetSessionAttrs};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
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
    /// Whether a connection pooler stands between crm and the server ([`SESSION_MARK`]): then
    /// nothing may outlive a transaction on a connection, and whatever needs a session of its
    /// own goes to `--direct-url` or is refused ([`Database::dedicated`]).
    pooled: bool,
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
    /// or let us in). Of several hosts, the first that answers and is what
    /// `target_session_attrs` asks for is chosen, as libpq chooses, and the pool, every later
    /// connection and every child tool then go to that one server: a run never spreads over two.
    pub async fn with_settings(settings: ConnSettings) -> Result<Database> {
        let tls = tls::LazyTls::for_settings(&settings)?;
        let (settings, first, pooled) = choose_server(&settings, &tls).await?;
        if pooled {
            crate::session::set_pooled();
        }
        let manager = Manager::from_config(
            pg_config(&settings, &settings.dbname, pooled),
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
        // The server answered and let us in: that was the check.
        drop(first);
        Ok(Database {
            settings,
            pool,
            tls,
            pooled,
        })
    }

    /// Whether a connection pooler stands between crm and the server.
    pub fn pooled(&self) -> bool {
        self.pooled
    }

    /// Exit 2 for `what` (a command, `db migrate`), which needs a session of its own, through a
    /// pooler.
    pub fn needs_direct(&self, what: &str) -> anyhow::Error {
        error::usage(format!(
            "cannot run {what} through a connection pooler: {} did not keep crm's session \
             settings (PgBouncer in transaction mode does not), and {what} needs a session of \
             its own; give a URL that reaches PostgreSQL directly with --direct-url or \
             CRM_DIRECT_URL",
            self.settings.describe()
        ))
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
    /// lock, which must be released before anyone else could use the session. Through a pooler
    /// there is no such session: exit 2, naming `--direct-url`.
    pub async fn dedicated(&self, what: &str) -> Result<Client> {
        if self.pooled {
            return Err(self.needs_direct(what));
        }
        self.connect_to(&self.settings.dbname).await
    }

    /// A connection of its own, outside the pool, which may go through a pooler: for work that
    /// keeps its settings within each transaction (`db health`).
    pub async fn own_connection(&self) -> Result<Client> {
        self.connect_to(&self.settings.dbname).await
    }

    /// A connection of its own to another database of the same server, with the same settings
    /// otherwise: for work that cannot run inside the database it concerns (creating, renaming
    /// or dropping it).
    pub async fn connect_to(&self, dbname: &str) -> Result<Client> {
        self.connect_with(pg_config(&self.settings, dbname, self.pooled), dbname)
            .await
    }

    /// A connection of its own to `dbname` as another role, logging in with `password`, with
    /// the same settings otherwise: for work that must not run with crm's own rights.
    pub async fn connect_as(&self, dbname: &str, user: &str, password: &str) -> Result<Client> {
        let mut config = pg_config(&self.settings, dbname, self.pooled);
        config.user(user).password(password);
        self.connect_with(config, dbname).await
    }

    async fn connect_with(&self, config: tokio_postgres::Config, dbname: &str) -> Result<Client> {
        open_client(config, &self.tls, connect_deadline(&self.settings))
            .await
            .map_err(|e| {
                e.context(error::Failure::new(
                    error::Kind::Connect,
                    format!(
                        "cannot connect to {}",
                        self.settings.describe_database(dbname)
                    ),
                ))
            })
    }
}

/// Opens one connection, giving up after `limit`.
async fn open_client(
    config: tokio_postgres::Config,
    tls: &tls::LazyTls,
    limit: Option<std::time::Duration>,
) -> Result<Client> {
    let connecting = config.connect(tls.clone());
    let (client, connection) = match limit {
        Some(limit) => match tokio::time::timeout(limit, connecting).await {
            Ok(result) => result?,
            Err(_elapsed) => return Err(timed_out(Some(limit))),
        },
        None => connecting.await?,
    };
    tokio::spawn(async move {
        // The connection ends when the client is dropped; its error, if any, also surfaces
        // on the client's next query, which is where we report it.
        let _ = connection.await;
    });
    Ok(client)
}

/// crm's mark on the sessions it starts: a setting of its own, passed with the lock timeout in
/// the startup packet's `options`. A session the server started for crm reads it back `on`. A
/// connection pooler does not pass `options` on: PgBouncer 1.18 refuses the connection
/// ("unsupported startup parameter: options"), or drops them when told to ignore them, and then
/// gives crm's statements whichever server session is free. Either way crm knows a pooler is
/// there, which the user need not say.
const SESSION_MARK: &str = "crm.session";

/// What a server says of itself: whether it is in recovery, whether its sessions are read-only
/// (for `target_session_attrs`), and whether this session carries [`SESSION_MARK`]. A simple
/// query, which a pooler in transaction mode passes on as it is.
const SERVER_STATE: &str = "SELECT pg_catalog.pg_is_in_recovery(), \
     pg_catalog.current_setting('transaction_read_only'), \
     pg_catalog.current_setting('crm.session', true)";

/// The answer to [`SERVER_STATE`].
struct ServerState {
    in_recovery: bool,
    read_only: bool,
    /// The session carries crm's startup options: no pooler between.
    marked: bool,
}

async fn server_state(client: &Client) -> Result<ServerState> {
    let started = Instant::now();
    let messages = client.simple_query(SERVER_STATE).await?;
    log_sql(SERVER_STATE, started);
    let row = messages
        .iter()
        .find_map(|message| match message {
            tokio_postgres::SimpleQueryMessage::Row(row) => Some(row),
            _ => None,
        })
        .context("the server did not say whether it is a standby")?;
    Ok(ServerState {
        in_recovery: row.get(0) == Some("t"),
        read_only: row.get(1) == Some("on"),
        marked: row.get(2) == Some("on"),
    })
}

/// Why a server in `state` is not what `wanted` asks for (libpq's words), or `None` if it is.
/// `prefer-standby` wants a standby here; falling back to another server is the caller's.
fn unsuitable(state: &ServerState, wanted: TargetSessionAttrs) -> Option<&'static str> {
    let ServerState {
        in_recovery,
        read_only,
        ..
    } = *state;
    match wanted {
        TargetSessionAttrs::Any => None,
        TargetSessionAttrs::ReadWrite => read_only.then_some("session is read-only"),
        TargetSessionAttrs::ReadOnly => (!read_only).then_some("session is not read-only"),
        TargetSessionAttrs::Primary => in_recovery.then_some("server is in hot standby mode"),
        TargetSessionAttrs::Standby | TargetSessionAttrs::PreferStandby => {
            (!in_recovery).then_some("server is not in hot standby mode")
        }
    }
}

/// Whether the connection was refused for crm's startup `options`, as PgBouncer refuses any
/// startup parameter it does not know: a pooler, to be reached without them.
fn refuses_options(err: &anyhow::Error) -> bool {
    err.downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::as_db_error)
        .is_some_and(|db| db.message().starts_with("unsupported startup parameter"))
}

/// Whether a failed attempt ends the search, as in libpq ("if a connection is established
/// successfully, but authentication fails, the remaining hosts in the list are not tried"): an
/// error the server reports (a wrong password, a missing database) ends it; an unreachable host,
/// or one still starting up (SQLSTATE 57P03, which libpq 14 skips too), lets the next be tried.
fn ends_the_search(err: &anyhow::Error) -> bool {
    err.downcast_ref::<tokio_postgres::Error>()
        .and_then(tokio_postgres::Error::as_db_error)
        .is_some_and(|db| db.code() != &tokio_postgres::error::SqlState::CANNOT_CONNECT_NOW)
}

/// Connects to the first of `settings`' hosts that answers and is what its
/// `target_session_attrs` asks for (for `prefer-standby`, a standby if any host is one, else
/// the first that answered), trying them in order with `connect_timeout` for each, as libpq 14
/// does. Returns the settings narrowed to that one server, the connection, and whether a
/// pooler stands before it ([`SESSION_MARK`]).
async fn choose_server(
    settings: &ConnSettings,
    tls: &tls::LazyTls,
) -> Result<(ConnSettings, Client, bool)> {
    let wanted = settings.target_session_attrs;
    let mut failures: Vec<(String, anyhow::Error)> = Vec::new();
    let mut first_answer: Option<(ConnSettings, Client, bool)> = None;
    for index in 0..settings.hosts.len() {
        let one = settings.one_host(index);
        let place = format!("host \"{}\" port {}", one.hosts[0], one.ports[0]);
        let mut refused_options = false;
        let attempt = match open_client(
            pg_config(&one, &one.dbname, false),
            tls,
            one.connect_timeout,
        )
        .await
        {
            Err(e) if refuses_options(&e) => {
                refused_options = true;
                open_client(pg_config(&one, &one.dbname, true), tls, one.connect_timeout).await
            }
            other => other,
        };
        let client = match attempt {
            Ok(client) => client,
            Err(e) => {
                let last = ends_the_search(&e);
                failures.push((place, e));
                if last {
                    break;
                }
                continue;
            }
        };
        let state = match server_state(&client).await {
            Ok(state) => state,
            Err(e) => {
                failures.push((place, e));
                continue;
            }
        };
        let pooled = refused_options || !state.marked;
        match unsuitable(&state, wanted) {
            None => return Ok((one, client, pooled)),
            Some(why) => {
                failures.push((
                    place,
                    anyhow::anyhow!("{why} (target_session_attrs={wanted})"),
                ));
                if wanted == TargetSessionAttrs::PreferStandby && first_answer.is_none() {
                    first_answer = Some((one, client, pooled));
                }
            }
        }
    }
    if let Some(found) = first_answer {
        return Ok(found);
    }
    let failure = error::Failure::new(
        error::Kind::Connect,
        format!("cannot connect to {}", settings.describe()),
    );
    let cause = if failures.len() == 1 && settings.hosts.len() == 1 {
        failures.pop().map(|(_, e)| e)
    } else {
        None
    };
    Err(match cause {
        Some(e) => e,
        None => {
            let each: Vec<String> = failures
                .iter()
                .map(|(place, e)| format!("{place}: {e:#}"))
                .collect();
            anyhow::anyhow!("{}", each.join("; "))
        }
    }
    .context(failure))
}

impl Database {
    fn connect_failure(&self) -> error::Failure {
        error::Failure::new(
            error::Kind::Connect,
            format!("cannot connect to {}", self.settings.describe()),
        )
    }

    fn timed_out(&self) -> anyhow::Error {
        timed_out(self.settings.connect_timeout)
    }
}

fn timed_out(limit: Option<std::time::Duration>) -> anyhow::Error {
    anyhow::anyhow!(
        "timed out after {} s waiting for the server (connect_timeout, PGCONNECT_TIMEOUT)",
        limit.map_or(0, |t| t.as_secs())
    )
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

/// `settings` for tokio-postgres, with the run's lock timeout and [`SESSION_MARK`] as startup
/// options, unless a pooler stands between (it would refuse them): then transactions set the
/// lock timeout themselves (`tx::bound_locks`).
fn pg_config(settings: &ConnSettings, dbname: &str, pooled: bool) -> tokio_postgres::Config {
    let mut config = settings.to_pg_config();
    config.dbname(dbname);
    if !pooled {
        config.options(format!(
            "-c lock_timeout={} -c {SESSION_MARK}=on",
            crate::session::lock_timeout_ms()
        ));
    }
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

/// In the tests' debug builds: that no column of `row` has a type of the database's own (an
/// ENUM), which tokio-postgres looked up with a named statement that outlives the transaction,
/// which a pooler cannot carry (`param`'s reasons). Such a column is read as `::text`.
fn debug_assert_builtin_types(sql: &str, row: Option<&Row>) {
    if let Some(row) = row {
        for column in row.columns() {
            debug_assert!(
                tokio_postgres::types::Type::from_oid(column.type_().oid()).is_some(),
                "column {} of a query has the type {}, which is not built in: read it as ::text \
                 ({sql})",
                column.name(),
                column.type_().name()
            );
        }
    }
}

/// Runs a query, logging it under `-v`.
pub async fn query<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&dyn Param],
) -> Result<Vec<Row>, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query_typed(sql, &param::typed(params)).await;
    log_sql(sql, started);
    if let Ok(rows) = &result {
        debug_assert_builtin_types(sql, rows.first());
    }
    result
}

/// Runs a query whose rows are streamed as they arrive, logging it under `-v` (the time to the
/// first row).
pub async fn query_raw<C: GenericClient>(
    client: &C,
    sql: &str,
    params: Vec<&dyn Param>,
) -> Result<tokio_postgres::RowStream, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query_typed_raw(sql, param::typed(&params)).await;
    log_sql(sql, started);
    result
}

/// Runs a query that returns one row, logging it under `-v`.
pub async fn query_one<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&dyn Param],
) -> Result<Row, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.query_typed_one(sql, &param::typed(params)).await;
    log_sql(sql, started);
    if let Ok(row) = &result {
        debug_assert_builtin_types(sql, Some(row));
    }
    result
}

/// Runs a statement, logging it under `-v`.
pub async fn execute<C: GenericClient>(
    client: &C,
    sql: &str,
    params: &[&dyn Param],
) -> Result<u64, tokio_postgres::Error> {
    let started = Instant::now();
    let result = client.execute_typed(sql, &param::typed(params)).await;
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
