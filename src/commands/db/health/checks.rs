//! The SQL of `db health`'s checks, each a function from the connection to a [`Finding`].
//!
//! A check whose query fails (permission denied, a timeout) becomes UNKNOWN with the server's
//! reason and a hint, never a failure of the run. A role without `pg_read_all_stats` (a member of
//! `pg_monitor` has it) sees other roles' sessions without their state or query: the session
//! checks then say how many were hidden, and are at least UNKNOWN.

use super::{Chosen, Finding, Outcome, SPECS, Status, format_bytes, format_seconds};
use crate::commands::db::schema;
use crate::context::Context;
use crate::db::{self, CRM_TABLES};
use crate::error;
use anyhow::{Context as _, Result};
use std::path::Path;
use std::time::{Instant, SystemTime};
use tokio_postgres::Client;

/// So that a health check never adds to an incident: no query runs longer than 5 s, and none
/// waits more than 50 ms for a lock.
const TIMEOUTS: &str = "SET statement_timeout = '5s'; SET lock_timeout = '50ms'; \
     SET application_name = 'crm db health'";

/// The same limits for one check's transaction, through a connection pooler: a session setting
/// would stay on the pooled server connection for whoever gets it next.
const LOCAL_TIMEOUTS: &str =
    "BEGIN READ ONLY; SET LOCAL statement_timeout = '5s'; SET LOCAL lock_timeout = '50ms'";

const WHO: &str = "SELECT current_setting('server_version'), current_user::text, \
     current_setting('is_superuser') = 'on' \
       OR pg_has_role(current_user, 'pg_read_all_stats', 'USAGE')";

/// What the checks need to know about the connection.
struct Session {
    role: String,
    /// Whether other roles' sessions show their state and query.
    sees_all: bool,
}

/// Connects and runs every chosen check in order. A database that cannot be reached is one
/// UNKNOWN `connection` row (exit 3); bad settings (a malformed URL) are an error, which main
/// makes exit 3 too.
pub(super) async fn run_all(
    ctx: &Context,
    chosen: &[Chosen],
    backup_dir: Option<&Path>,
) -> Result<Vec<Outcome>> {
    let connection_spec = Chosen {
        spec: &SPECS[0],
        warning: SPECS[0].warning,
        critical: SPECS[0].critical,
        asked: false,
    };
    let (client, connected) = match connect(ctx).await {
        Ok(pair) => pair,
        Err(e) if error::kind_of(&e) == Some(error::Kind::Usage) => return Err(e),
        Err(e) => {
            let chosen = chosen
                .iter()
                .find(|c| c.spec.name == "connection")
                .copied()
                .unwrap_or(connection_spec);
            return Ok(vec![Outcome {
                chosen,
                status: Status::Unknown,
                finding: Finding::new(None, "unreachable", error::render(&e)),
            }]);
        }
    };
    let mut outcomes = Vec::new();
    let pooled = ctx.db().await?.pooled();
    for c in chosen {
        let in_transaction = pooled && !matches!(c.spec.name, "connection" | "backup-age");
        if in_transaction {
            db::batch_execute(&client, LOCAL_TIMEOUTS)
                .await
                .context("cannot set the health check's timeouts")?;
        }
        let found = match c.spec.name {
            "connection" => Ok(connected.finding()),
            "migrations" => migrations(&client).await,
            "schema" => schema(ctx, &client, c.asked).await,
            "connections" => connections(&client).await,
            "cache-hit" => cache_hit(&client).await,
            "long-queries" => long_queries(&client, &connected.session).await,
            "idle-in-transaction" => idle_in_transaction(&client, &connected.session).await,
            "blocked" => blocked(&client, &connected.session).await,
            "dead-tuples" => dead_tuples(&client).await,
            "vacuum-age" => maintenance_age(&client, Maintenance::Vacuum).await,
            "analyze-age" => maintenance_age(&client, Maintenance::Analyze).await,
            "xid-age" => xid_age(&client).await,
            "sequences" => sequences(&client, &connected.session).await,
            "invalid-indexes" => invalid_indexes(&client).await,
            "unused-indexes" => unused_indexes(&client).await,
            "database-size" => database_size(&client).await,
            "table-size" => table_size(&client).await,
            "slow-statements" => slow_statements(&client, c.asked).await,
            "role" => role(&client).await,
            "replication-lag" => replication_lag(&client, &connected.session).await,
            "replay-delay" => replay_delay(&client).await,
            "replication-slots" => replication_slots(&client).await,
            "archiver" => archiver(&client).await,
            "backup-age" => match backup_dir {
                Some(dir) => backup_age(dir),
                None => continue,
            },
            other => Err(anyhow::anyhow!("check {other} has no implementation")),
        };
        if in_transaction {
            // Read only: nothing to keep; a failed check left the transaction aborted anyway.
            db::batch_execute(&client, "ROLLBACK")
                .await
                .context("cannot end a health check's transaction")?;
        }
        let finding = found.unwrap_or_else(|e| cannot_run(&e, &connected.session));
        let graded = finding.figure.map_or(Status::Ok, |f| c.grade(f));
        outcomes.push(Outcome {
            chosen: *c,
            status: graded.worst(finding.floor),
            finding,
        });
    }
    Ok(outcomes)
}

/// What connecting found: the server's version and how long a round trip took.
struct Connected {
    session: Session,
    version: String,
    latency: f64,
}

impl Connected {
    fn finding(&self) -> Finding {
        Finding::new(
            Some(self.latency),
            format_seconds(self.latency),
            format!(
                "PostgreSQL {} as {}, round trip {}",
                self.version,
                self.session.role,
                format_seconds(self.latency)
            ),
        )
    }
}

async fn connect(ctx: &Context) -> Result<(Client, Connected)> {
    let database = ctx.db().await?;
    let client = database.own_connection().await?;
    if !database.pooled() {
        db::batch_execute(&client, TIMEOUTS)
            .await
            .context("cannot set the health check's timeouts")?;
    }
    let started = Instant::now();
    let row = db::query_one(&client, WHO, &[])
        .await
        .context("cannot ask the server its version")?;
    let latency = started.elapsed().as_secs_f64();
    let connected = Connected {
        session: Session {
            role: row.get(1),
            sees_all: row.get(2),
        },
        version: row.get(0),
        latency,
    };
    Ok((client, connected))
}

/// A check that could not run: UNKNOWN, with the server's reason and what to do about it.
fn cannot_run(err: &anyhow::Error, session: &Session) -> Finding {
    let code = err.chain().find_map(|cause| {
        cause
            .downcast_ref::<tokio_postgres::Error>()
            .and_then(|pg| pg.code())
            .map(|c| c.code().to_string())
    });
    let hint = match code.as_deref() {
        Some("42501") => format!("; hint: grant pg_monitor to {}", session.role),
        Some("57014") => "; the query was cancelled after 5 s (statement_timeout)".into(),
        Some("55P03") => "; a lock was not granted within 50 ms (lock_timeout)".into(),
        _ => String::new(),
    };
    Finding::new(
        None,
        "",
        format!("cannot run: {}{hint}", error::render(err)),
    )
    .at_least(Status::Unknown)
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

async fn migrations(client: &Client) -> Result<Finding> {
    let s = crate::db::schema::summary(client).await?;
    let total = s.applied + s.pending + s.divergent + s.missing;
    let value = format!("{} of {total} applied", s.applied);
    let (status, message) = if s.divergent + s.missing > 0 {
        (
            Status::Critical,
            format!(
                "{} divergent, {} missing (applied by a newer crm): see crm db migrate status",
                s.divergent, s.missing
            ),
        )
    } else if s.pending > 0 {
        (
            Status::Warning,
            format!("{} pending: crm db migrate applies them", s.pending),
        )
    } else {
        (Status::Ok, "every migration is applied".into())
    };
    Ok(Finding::new(None, value, message).at_least(status))
}

/// `db schema diff`'s verdict: WARNING on drift, naming the first few objects. On a standby,
/// which can create no scratch database to compare with and whose schema is its primary's,
/// skipped with a note (UNKNOWN when `--check` asked for it: `asked`).
async fn schema(ctx: &Context, client: &Client, asked: bool) -> Result<Finding> {
    let standby: bool = db::query_one(client, "SELECT pg_is_in_recovery()", &[])
        .await?
        .get(0);
    if standby {
        let why = "a standby (read-only) cannot create the scratch database the comparison \
                   needs, and its schema is its primary's: check the primary";
        return Ok(match asked {
            false => Finding::skipped(why),
            true => Finding::new(None, "", why).at_least(Status::Unknown),
        });
    }
    let db = ctx.db().await?;
    let differences = match schema::differences(db, &ctx.out, schema::Fallback::None).await {
        Ok(differences) => differences,
        Err(e) if schema::is_refused(&e) => {
            return Ok(Finding::new(
                None,
                "",
                "cannot run: this role may not CREATE DATABASE, which building crm's schema for \
                 the comparison needs; hint: crm db schema diff builds it in crm's local cluster",
            )
            .at_least(Status::Unknown));
        }
        Err(e) => return Err(e),
    };
    let drift: Vec<&schema::compare::Difference> = differences
        .iter()
        .filter(|d| d.verdict == schema::compare::Verdict::Drift)
        .collect();
    let value = format!(
        "{} drift, {} compatible",
        drift.len(),
        differences.len() - drift.len()
    );
    if drift.is_empty() {
        let message = match differences.len() {
            0 => "the schema is the one crm's migrations make".to_string(),
            n => format!("{n} compatible differences from crm's migrations: crm works on it"),
        };
        return Ok(Finding::new(None, value, message));
    }
    let named: Vec<String> = drift
        .iter()
        .take(3)
        .map(|d| format!("{} ({})", d.object, d.kind))
        .collect();
    let more = match drift.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    let message = format!(
        "drift from crm's migrations: {}{more}; see crm db schema diff",
        named.join(", ")
    );
    Ok(Finding::new(None, value, message).at_least(Status::Warning))
}

/// Client sessions (also in [`ACTIVITY`]): a role without pg_read_all_stats sees other roles'
/// sessions without their backend type, but with their user, which background processes lack.
const CONNECTIONS: &str = "SELECT (SELECT count(*) FROM pg_stat_activity \
       WHERE backend_type = 'client backend' \
          OR (backend_type IS NULL AND usesysid IS NOT NULL))::int8, \
     current_setting('max_connections')::int8";

async fn connections(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, CONNECTIONS, &[]).await?;
    let (used, max): (i64, i64) = (row.get(0), row.get(1));
    let percent = used as f64 * 100.0 / max.max(1) as f64;
    Ok(Finding::new(
        Some(percent),
        format!("{percent:.0}%"),
        format!("{used} of max_connections {max} in use"),
    ))
}

/// check_postgres's hitratio: buffer hits against reads of the whole database.
const CACHE_HIT: &str = "SELECT blks_hit::float8, blks_read::float8 FROM pg_stat_database \
     WHERE datname = current_database()";

async fn cache_hit(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, CACHE_HIT, &[]).await?;
    let (hit, read): (f64, f64) = (row.get(0), row.get(1));
    if hit + read == 0.0 {
        return Ok(Finding::new(None, "", "no blocks read yet"));
    }
    let ratio = hit * 100.0 / (hit + read);
    Ok(Finding::new(
        Some(ratio),
        format!("{ratio:.2}%"),
        format!("{hit:.0} blocks found in shared buffers, {read:.0} read"),
    ))
}

/// Every other client session of this database, for the session checks.
const ACTIVITY: &str = "SELECT pid, coalesce(usename::text, ''), coalesce(state, ''), \
       extract(epoch FROM now() - query_start)::float8, \
       extract(epoch FROM now() - state_change)::float8, \
       left(regexp_replace(coalesce(query, ''), '\\s+', ' ', 'g'), 60), \
       pg_blocking_pids(pid) \
     FROM pg_stat_activity \
     WHERE (backend_type = 'client backend' OR (backend_type IS NULL AND usesysid IS NOT NULL)) \
       AND pid <> pg_backend_pid() \
       AND datname = current_database()";

struct Activity {
    pid: i32,
    user: String,
    state: String,
    query_age: Option<f64>,
    state_age: Option<f64>,
    query: String,
    blocked_by: Vec<i32>,
}

impl Activity {
    fn hidden(&self) -> bool {
        self.query == "<insufficient privilege>"
    }
}

/// The other sessions, and how many of them this role may not see into.
async fn activity(client: &Client) -> Result<(Vec<Activity>, usize)> {
    let rows = db::query(client, ACTIVITY, &[]).await?;
    let all: Vec<Activity> = rows
        .iter()
        .map(|r| Activity {
            pid: r.get(0),
            user: r.get(1),
            state: r.get(2),
            query_age: r.get(3),
            state_age: r.get(4),
            query: r.get(5),
            blocked_by: r.get(6),
        })
        .collect();
    let hidden = all.iter().filter(|a| a.hidden()).count();
    Ok((all, hidden))
}

/// Sessions matching `age` (the age that counts, or `None` to skip), oldest first, as a finding.
fn oldest_sessions(
    sessions: &[Activity],
    hidden: usize,
    session: &Session,
    what: (&str, &str),
    age: impl Fn(&Activity) -> Option<f64>,
) -> Finding {
    let mut found: Vec<(f64, &Activity)> = sessions
        .iter()
        .filter_map(|a| age(a).map(|t| (t, a)))
        .collect();
    found.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut finding = match found.first() {
        None => Finding::new(None, "none", format!("no {}", what.1)),
        Some((oldest, _)) => {
            let listed: Vec<String> = found
                .iter()
                .take(3)
                .map(|(t, a)| {
                    format!(
                        "pid {} ({}) for {}: {}",
                        a.pid,
                        a.user,
                        format_seconds(*t),
                        a.query
                    )
                })
                .collect();
            Finding::new(
                Some(*oldest),
                format_seconds(*oldest),
                format!(
                    "{}: {}",
                    plural(found.len(), what.0, what.1),
                    listed.join("; ")
                ),
            )
        }
    };
    if hidden > 0 && !session.sees_all {
        finding.message.push_str(&format!(
            "; {} of other roles not visible: grant pg_monitor to {}",
            plural(hidden, "session", "sessions"),
            session.role
        ));
        finding = finding.at_least(Status::Unknown);
    }
    finding
}

async fn long_queries(client: &Client, session: &Session) -> Result<Finding> {
    let (all, hidden) = activity(client).await?;
    Ok(oldest_sessions(
        &all,
        hidden,
        session,
        ("query running", "queries running"),
        |a| match a.state.as_str() {
            "active" => a.query_age,
            _ => None,
        },
    ))
}

async fn idle_in_transaction(client: &Client, session: &Session) -> Result<Finding> {
    let (all, hidden) = activity(client).await?;
    Ok(oldest_sessions(
        &all,
        hidden,
        session,
        (
            "session idle in transaction",
            "sessions idle in transaction",
        ),
        |a| match a.state.starts_with("idle in transaction") {
            true => a.state_age,
            false => None,
        },
    ))
}

async fn blocked(client: &Client, session: &Session) -> Result<Finding> {
    let (all, hidden) = activity(client).await?;
    let mut waits: Vec<(f64, String)> = all
        .iter()
        .filter(|a| !a.blocked_by.is_empty())
        .map(|a| {
            let blockers: Vec<String> = a
                .blocked_by
                .iter()
                .map(|pid| match all.iter().find(|b| b.pid == *pid) {
                    Some(b) if !b.hidden() => format!("pid {pid} ({}, {})", b.user, b.state),
                    _ => format!("pid {pid}"),
                })
                .collect();
            let waited = a.query_age.unwrap_or(0.0);
            (
                waited,
                format!(
                    "pid {} ({}) waits {} for {}: {}",
                    a.pid,
                    a.user,
                    format_seconds(waited),
                    blockers.join(", "),
                    a.query
                ),
            )
        })
        .collect();
    waits.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut finding = match waits.first() {
        None => Finding::new(None, "none", "no session waits for another's lock"),
        Some((longest, _)) => Finding::new(
            Some(*longest),
            format_seconds(*longest),
            format!(
                "{} blocked: {}",
                plural(waits.len(), "session", "sessions"),
                waits
                    .iter()
                    .take(3)
                    .map(|w| w.1.as_str())
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    };
    if hidden > 0 && !session.sees_all {
        finding.message.push_str(&format!(
            "; the queries of {} of other roles are hidden: grant pg_monitor to {}",
            plural(hidden, "session", "sessions"),
            session.role
        ));
    }
    Ok(finding)
}

/// Dead tuples of each crm table against the number at which autovacuum would vacuum it
/// (`autovacuum_vacuum_threshold + autovacuum_vacuum_scale_factor * reltuples`: the table's own
/// storage parameters where it has them, as autovacuum reads them, else the server's settings).
const DEAD_TUPLES: &str = "SELECT s.relname::text, s.n_dead_tup, \
       coalesce((SELECT o.option_value::float8 FROM pg_options_to_table(c.reloptions) o \
                 WHERE o.option_name = 'autovacuum_vacuum_threshold'), \
                current_setting('autovacuum_vacuum_threshold')::float8) \
       + coalesce((SELECT o.option_value::float8 FROM pg_options_to_table(c.reloptions) o \
                   WHERE o.option_name = 'autovacuum_vacuum_scale_factor'), \
                  current_setting('autovacuum_vacuum_scale_factor')::float8) \
         * greatest(c.reltuples, 0)::float8 \
     FROM pg_stat_user_tables s JOIN pg_class c ON c.oid = s.relid \
     WHERE s.schemaname = current_schema() AND s.relname::text = ANY($1::text[])";

async fn dead_tuples(client: &Client) -> Result<Finding> {
    let rows = db::query(client, DEAD_TUPLES, &[&&CRM_TABLES[..]]).await?;
    let mut tables: Vec<(f64, String)> = rows
        .iter()
        .map(|r| {
            let (name, dead, limit): (String, i64, f64) = (r.get(0), r.get(1), r.get(2));
            let percent = dead as f64 * 100.0 / limit.max(1.0);
            (
                percent,
                format!("{name} {dead} ({percent:.0}% of {limit:.0})"),
            )
        })
        .collect();
    tables.sort_by(|a, b| b.0.total_cmp(&a.0));
    let Some((worst, _)) = tables.first() else {
        return Ok(Finding::new(None, "", "no crm tables"));
    };
    let listed: Vec<&str> = tables
        .iter()
        .filter(|t| t.0 > 0.0)
        .take(3)
        .map(|t| t.1.as_str())
        .collect();
    let message = match listed.is_empty() {
        true => "no dead tuples".to_string(),
        false => format!(
            "dead tuples against the autovacuum threshold: {}",
            listed.join(", ")
        ),
    };
    Ok(Finding::new(Some(*worst), format!("{worst:.0}%"), message))
}

#[derive(Clone, Copy)]
enum Maintenance {
    Vacuum,
    Analyze,
}

/// Per crm table: whether it has work pending for (auto)vacuum and (auto)analyze, and the
/// seconds since each last ran (NULL: never).
const MAINTENANCE: &str = "SELECT relname::text, n_dead_tup > 0, n_mod_since_analyze > 0, \
       extract(epoch FROM now() - greatest(last_vacuum, last_autovacuum))::float8, \
       extract(epoch FROM now() - greatest(last_analyze, last_autoanalyze))::float8 \
     FROM pg_stat_user_tables \
     WHERE schemaname = current_schema() AND relname::text = ANY($1::text[])";

/// Days since the last (auto)vacuum or analyze of the crm tables that have something for it
/// to do (dead tuples; changes since the last analyze): a table nobody changes needs neither.
/// A table never vacuumed or analyzed is named, and left to `dead-tuples` to grade.
async fn maintenance_age(client: &Client, kind: Maintenance) -> Result<Finding> {
    let rows = db::query(client, MAINTENANCE, &[&&CRM_TABLES[..]]).await?;
    let (pending_col, age_col, verb) = match kind {
        Maintenance::Vacuum => (1, 3, "vacuumed"),
        Maintenance::Analyze => (2, 4, "analyzed"),
    };
    let mut aged: Vec<(f64, String)> = Vec::new();
    let mut never: Vec<String> = Vec::new();
    for r in &rows {
        let name: String = r.get(0);
        if !r.get::<_, bool>(pending_col) {
            continue;
        }
        match r.get::<_, Option<f64>>(age_col) {
            Some(age) => aged.push((age, name)),
            None => never.push(name),
        }
    }
    aged.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut parts: Vec<String> = aged
        .iter()
        .take(3)
        .map(|(age, name)| format!("{name} {verb} {} ago", format_seconds(*age)))
        .collect();
    if !never.is_empty() {
        parts.push(format!("never {verb}: {}", never.join(", ")));
    }
    let message = match parts.is_empty() {
        true => format!("no crm table has changes waiting to be {verb}"),
        false => parts.join("; "),
    };
    Ok(match aged.first() {
        Some((age, _)) => Finding::new(Some(*age), format_seconds(*age), message),
        None => Finding::new(None, "", message),
    })
}

/// Transaction-ID age of the database and of its oldest crm table, against
/// `autovacuum_freeze_max_age` (check_postgres's autovac_freeze).
const XID_AGE: &str = "SELECT age(d.datfrozenxid)::int8, \
       current_setting('autovacuum_freeze_max_age')::int8, \
       (SELECT max(age(c.relfrozenxid))::int8 FROM pg_class c \
          JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = current_schema() AND c.relname::text = ANY($1::text[])) \
     FROM pg_database d WHERE d.datname = current_database()";

async fn xid_age(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, XID_AGE, &[&&CRM_TABLES[..]]).await?;
    let (database, max, tables): (i64, i64, Option<i64>) = (row.get(0), row.get(1), row.get(2));
    let oldest = database.max(tables.unwrap_or(0));
    let percent = oldest as f64 * 100.0 / max.max(1) as f64;
    Ok(Finding::new(
        Some(percent),
        format!("{percent:.1}%"),
        format!(
            "database {database}, oldest crm table {}, of autovacuum_freeze_max_age {max}",
            tables.map_or("-".to_string(), |t| t.to_string())
        ),
    ))
}

/// Every sequence owned by a column (SERIAL, IDENTITY), with the column's type: an int4 column
/// overflows at 2^31 - 1 whatever its sequence's own maximum.
const SEQUENCES: &str = "SELECT tbl.relname::text, a.attname::text, t.typname::text, \
       s.last_value, s.max_value, has_sequence_privilege(sc.oid, 'SELECT,USAGE') \
     FROM pg_class sc \
     JOIN pg_namespace n ON n.oid = sc.relnamespace \
     JOIN pg_sequences s ON s.schemaname = n.nspname AND s.sequencename = sc.relname \
     JOIN pg_depend d ON d.classid = 'pg_class'::regclass AND d.objid = sc.oid \
       AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i') \
     JOIN pg_class tbl ON tbl.oid = d.refobjid \
     JOIN pg_attribute a ON a.attrelid = d.refobjid AND a.attnum = d.refobjsubid \
     JOIN pg_type t ON t.oid = a.atttypid \
     WHERE sc.relkind = 'S' AND n.nspname = current_schema() \
     ORDER BY tbl.relname, a.attname";

async fn sequences(client: &Client, session: &Session) -> Result<Finding> {
    let rows = db::query(client, SEQUENCES, &[]).await?;
    let mut used: Vec<(f64, String)> = Vec::new();
    let mut unreadable: Vec<String> = Vec::new();
    for r in &rows {
        let (table, column, typ): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (last, seq_max, readable): (Option<i64>, i64, bool) = (r.get(3), r.get(4), r.get(5));
        let label = format!("{table}.{column}");
        if !readable {
            unreadable.push(label);
            continue;
        }
        let type_max = match typ.as_str() {
            "int2" => i64::from(i16::MAX),
            "int4" => i64::from(i32::MAX),
            _ => i64::MAX,
        };
        let max = type_max.min(seq_max);
        let last = last.unwrap_or(0);
        let percent = last as f64 * 100.0 / max.max(1) as f64;
        used.push((
            percent,
            format!("{label} ({typ}) at {last} of {max} ({percent:.1}%)"),
        ));
    }
    used.sort_by(|a, b| b.0.total_cmp(&a.0));
    let mut finding = match used.first() {
        Some((worst, _)) => Finding::new(
            Some(*worst),
            format!("{worst:.1}%"),
            used.iter()
                .take(3)
                .map(|u| u.1.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        ),
        None => Finding::new(None, "", "no sequences owned by a column"),
    };
    if !unreadable.is_empty() {
        finding.message.push_str(&format!(
            "; not readable: {} (grant SELECT on their sequences, or pg_read_all_data, to {})",
            unreadable.join(", "),
            session.role
        ));
        finding = finding.at_least(Status::Unknown);
    }
    Ok(finding)
}

const INVALID_INDEXES: &str = "SELECT c.relname::text, t.relname::text \
     FROM pg_index i \
     JOIN pg_class c ON c.oid = i.indexrelid \
     JOIN pg_class t ON t.oid = i.indrelid \
     JOIN pg_namespace n ON n.oid = t.relnamespace \
     WHERE NOT i.indisvalid AND n.nspname = current_schema() ORDER BY 1";

async fn invalid_indexes(client: &Client) -> Result<Finding> {
    let rows = db::query(client, INVALID_INDEXES, &[]).await?;
    let names: Vec<String> = rows
        .iter()
        .map(|r| format!("{} on {}", r.get::<_, String>(0), r.get::<_, String>(1)))
        .collect();
    let message = match names.is_empty() {
        true => "every index is valid".to_string(),
        false => format!(
            "{} (a failed CREATE INDEX or REINDEX CONCURRENTLY; crm db maintain --reindex \
             drops those it left)",
            names.join(", ")
        ),
    };
    Ok(Finding::new(
        Some(names.len() as f64),
        names.len().to_string(),
        message,
    ))
}

/// pghero's unused indexes: never scanned since the statistics were reset, unique ones left
/// out (they enforce a rule whether or not they are read).
const UNUSED_INDEXES: &str = "SELECT s.indexrelname::text, s.relname::text, \
       pg_relation_size(s.indexrelid) \
     FROM pg_stat_user_indexes s JOIN pg_index i ON i.indexrelid = s.indexrelid \
     WHERE s.idx_scan = 0 AND NOT i.indisunique AND s.schemaname = current_schema() \
       AND s.relname::text = ANY($1::text[]) \
     ORDER BY 3 DESC, 1";

async fn unused_indexes(client: &Client) -> Result<Finding> {
    let rows = db::query(client, UNUSED_INDEXES, &[&&CRM_TABLES[..]]).await?;
    let total: i64 = rows.iter().map(|r| r.get::<_, i64>(2)).sum();
    let names: Vec<String> = rows.iter().take(5).map(|r| r.get::<_, String>(0)).collect();
    let message = match rows.len() {
        0 => "every non-unique index of the crm tables has been scanned".to_string(),
        n => format!(
            "{} never scanned since the statistics were reset ({}): {}{}",
            plural(n, "index", "indexes"),
            format_bytes(total as f64),
            names.join(", "),
            if n > names.len() { ", ..." } else { "" }
        ),
    };
    Ok(Finding::new(
        Some(rows.len() as f64),
        rows.len().to_string(),
        message,
    ))
}

const DATABASE_SIZE: &str = "SELECT current_database()::text, pg_database_size(current_database())";

async fn database_size(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, DATABASE_SIZE, &[]).await?;
    let (name, size): (String, i64) = (row.get(0), row.get(1));
    Ok(Finding::new(
        Some(size as f64),
        format_bytes(size as f64),
        format!("database {name}"),
    ))
}

const TABLE_SIZES: &str = "SELECT c.relname::text, pg_total_relation_size(c.oid) \
     FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
     WHERE n.nspname = current_schema() AND c.relkind = 'r' AND c.relname::text = ANY($1::text[]) \
     ORDER BY 2 DESC, 1";

/// The largest crm table, indexes and TOAST included.
async fn table_size(client: &Client) -> Result<Finding> {
    let rows = db::query(client, TABLE_SIZES, &[&&CRM_TABLES[..]]).await?;
    let sizes: Vec<(String, i64)> = rows.iter().map(|r| (r.get(0), r.get(1))).collect();
    let Some((_, largest)) = sizes.first() else {
        return Ok(Finding::new(None, "", "no crm tables"));
    };
    let listed: Vec<String> = sizes
        .iter()
        .take(3)
        .map(|(name, size)| format!("{name} {}", format_bytes(*size as f64)))
        .collect();
    Ok(Finding::new(
        Some(*largest as f64),
        format_bytes(*largest as f64),
        format!("largest with indexes: {}", listed.join(", ")),
    ))
}

/// Whether the extension is created in this database, and whether the server preloads its
/// library (without which the view cannot be read).
const STATEMENTS_INSTALLED: &str = "SELECT EXISTS (SELECT 1 FROM pg_extension WHERE extname = 'pg_stat_statements'), \
       'pg_stat_statements' = ANY (string_to_array( \
         replace(current_setting('shared_preload_libraries'), ' ', ''), ','))";

/// pghero's slow queries: at least 100 calls, by mean time (PostgreSQL 13's column names).
const SLOW_STATEMENTS: &str = "SELECT mean_exec_time / 1000.0, calls, \
       left(regexp_replace(query, '\\s+', ' ', 'g'), 60) \
     FROM pg_stat_statements \
     WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database()) \
       AND calls >= 100 \
     ORDER BY mean_exec_time DESC LIMIT 3";

/// The slowest statements. Without pg_stat_statements (a default server) the check is skipped
/// with a note, or UNKNOWN when `--check` asked for it (`asked`).
async fn slow_statements(client: &Client, asked: bool) -> Result<Finding> {
    let row = db::query_one(client, STATEMENTS_INSTALLED, &[]).await?;
    let (installed, preloaded): (bool, bool) = (row.get(0), row.get(1));
    if !installed {
        let how = match preloaded {
            true => {
                "the server preloads it: CREATE EXTENSION pg_stat_statements enables this check"
            }
            false => {
                "add it to shared_preload_libraries and CREATE EXTENSION pg_stat_statements to \
                 enable this check"
            }
        };
        let why = format!("pg_stat_statements is not installed in this database ({how})");
        return Ok(match asked {
            false => Finding::skipped(why),
            true => Finding::new(None, "", why).at_least(Status::Unknown),
        });
    }
    let rows = db::query(client, SLOW_STATEMENTS, &[]).await?;
    let slowest: Vec<(f64, String)> = rows
        .iter()
        .map(|r| {
            let (mean, calls, query): (f64, i64, String) = (r.get(0), r.get(1), r.get(2));
            (
                mean,
                format!("{} mean over {calls} calls: {query}", format_seconds(mean)),
            )
        })
        .collect();
    Ok(match slowest.first() {
        None => Finding::new(None, "", "no statement has run 100 times yet"),
        Some((mean, _)) => Finding::new(
            Some(*mean),
            format_seconds(*mean),
            slowest
                .iter()
                .map(|s| s.1.as_str())
                .collect::<Vec<_>>()
                .join("; "),
        ),
    })
}

/// Where this server's WAL stands: written on a primary, replayed on a standby (where
/// `pg_current_wal_lsn()` cannot be called).
const WAL_POSITION: &str = "CASE WHEN pg_is_in_recovery() THEN pg_last_wal_replay_lsn() \
     ELSE pg_current_wal_lsn() END";

const ROLE: &str = "SELECT pg_is_in_recovery(), \
       (SELECT count(*) FROM pg_stat_replication)::int8";

/// Primary or standby, as information: always OK.
async fn role(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, ROLE, &[]).await?;
    let (standby, standbys): (bool, i64) = (row.get(0), row.get(1));
    let fed = match standbys {
        0 => String::new(),
        n => format!(", feeding {}", plural(n as usize, "standby", "standbys")),
    };
    Ok(match standby {
        true => Finding::new(
            None,
            "standby",
            format!("a standby, in recovery (read-only){fed}"),
        ),
        false => Finding::new(None, "primary", format!("a primary (read-write){fed}")),
    })
}

/// Each standby streaming from this server: its replay lag (NULL once it has caught up and
/// nothing new is written) and the bytes of WAL it has yet to replay (NULL until it first
/// reports). Without pg_read_all_stats every column but the pid reads NULL, the state too.
fn replication_sql() -> String {
    format!(
        "SELECT coalesce(application_name, ''), coalesce(host(client_addr), 'local'), \
           coalesce(state, ''), extract(epoch FROM replay_lag)::float8, \
           pg_wal_lsn_diff({WAL_POSITION}, replay_lsn)::float8, state IS NULL \
         FROM pg_stat_replication ORDER BY 4 DESC NULLS LAST, 5 DESC NULLS LAST"
    )
}

/// The worst replay lag of the standbys, seen from the primary; OK with "no standbys" without.
/// `replay_lag` is the lag last measured, when the standby last reported progress: a standby
/// whose replay is stuck keeps its last figure while the bytes behind grow (both are shown;
/// `replay-delay`, run on the standby, grades the stuck replay).
async fn replication_lag(client: &Client, session: &Session) -> Result<Finding> {
    let rows = db::query(client, &replication_sql(), &[]).await?;
    if rows.is_empty() {
        return Ok(Finding::new(None, "none", "no standbys"));
    }
    let mut worst: Option<(f64, f64)> = None;
    let mut described = Vec::new();
    let mut hidden = 0;
    for r in &rows {
        let (name, addr, state): (String, String, String) = (r.get(0), r.get(1), r.get(2));
        let (lag, behind, invisible): (Option<f64>, Option<f64>, bool) =
            (r.get(3), r.get(4), r.get(5));
        let who = match name.is_empty() {
            true => addr,
            false => format!("{name} ({addr})"),
        };
        if invisible {
            hidden += 1;
            described.push(format!("{who}: not visible"));
            continue;
        }
        let Some(behind) = behind else {
            described.push(format!("{who} {state}, no replay position reported yet"));
            continue;
        };
        let behind = behind.max(0.0);
        // No lag reported once the standby has replayed everything sent: none then.
        let lag = lag.unwrap_or(0.0);
        if worst.is_none_or(|(l, b)| (lag, behind) > (l, b)) {
            worst = Some((lag, behind));
        }
        described.push(format!(
            "{who} {state}, replay {} behind ({})",
            format_seconds(lag),
            format_bytes(behind)
        ));
    }
    let message = format!(
        "{}: {}",
        plural(rows.len(), "standby", "standbys"),
        described.join("; ")
    );
    let mut finding = match worst {
        Some((lag, behind)) => Finding::new(
            Some(lag),
            format!("{}, {}", format_seconds(lag), format_bytes(behind)),
            message,
        ),
        None => Finding::new(None, "", message),
    };
    if hidden > 0 && !session.sees_all {
        finding.message.push_str(&format!(
            "; the positions of {} are not visible: grant pg_monitor to {}",
            plural(hidden, "standby", "standbys"),
            session.role
        ));
        finding = finding.at_least(Status::Unknown);
    }
    Ok(finding)
}

/// On a standby: whether a WAL receiver streams (its status is hidden without
/// pg_read_all_stats: then it counts), whether replay is paused, whether it has replayed all it received, the time
/// since the last replayed transaction was committed on the primary, and the bytes received
/// but not yet replayed.
const REPLAY: &str = "SELECT pg_is_in_recovery(), \
       (SELECT count(*) FROM pg_stat_wal_receiver \
         WHERE status IS NULL OR status = 'streaming')::int8, \
       CASE WHEN pg_is_in_recovery() THEN pg_is_wal_replay_paused() END, \
       CASE WHEN pg_is_in_recovery() \
         THEN pg_last_wal_receive_lsn() <= pg_last_wal_replay_lsn() END, \
       extract(epoch FROM now() - pg_last_xact_replay_timestamp())::float8, \
       CASE WHEN pg_is_in_recovery() \
         THEN pg_wal_lsn_diff(pg_last_wal_receive_lsn(), pg_last_wal_replay_lsn())::float8 END";

/// The replay delay of a standby: 0 when it has replayed everything it received (an idle
/// primary writes no transactions, and the age of the last one is then no delay), else the
/// age of the last transaction replayed; a paused replay is WARNING at least.
async fn replay_delay(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, REPLAY, &[]).await?;
    let standby: bool = row.get(0);
    if !standby {
        return Ok(Finding::new(None, "", "not a standby"));
    }
    let receivers: i64 = row.get(1);
    let (paused, caught_up, age, pending): (Option<bool>, Option<bool>, Option<f64>, Option<f64>) =
        (row.get(2), row.get(3), row.get(4), row.get(5));
    let pending = pending.unwrap_or(0.0).max(0.0);
    let mut finding = if caught_up == Some(true) {
        let last = age.map_or(String::new(), |a| {
            format!(
                "; the last transaction replayed was committed {} ago",
                format_seconds(a)
            )
        });
        Finding::new(
            Some(0.0),
            format_seconds(0.0),
            format!("replayed all WAL received{last}"),
        )
    } else {
        match age {
            Some(age) => Finding::new(
                Some(age.max(0.0)),
                format_seconds(age.max(0.0)),
                format!(
                    "{} received but not replayed; the last transaction replayed was \
                     committed {} ago",
                    format_bytes(pending),
                    format_seconds(age.max(0.0))
                ),
            ),
            None => Finding::new(
                None,
                "",
                format!(
                    "{} received but not replayed; no transaction replayed yet",
                    format_bytes(pending)
                ),
            ),
        }
    };
    if receivers == 0 {
        // Restoring from an archive, or its primary unreachable: what it received may be all
        // there is, or far behind; the message says so, the figure cannot.
        finding
            .message
            .push_str("; no WAL receiver streaming from a primary");
    }
    if paused == Some(true) {
        finding.message = format!(
            "replay is paused (SELECT pg_wal_replay_resume() resumes it); {}",
            finding.message
        );
        finding = finding.at_least(Status::Warning);
    }
    Ok(finding)
}

fn slots_sql() -> String {
    format!(
        "SELECT slot_name::text, slot_type, active, \
           pg_wal_lsn_diff({WAL_POSITION}, restart_lsn)::float8 \
         FROM pg_replication_slots ORDER BY 4 DESC NULLS LAST, 1"
    )
}

/// The WAL held back by replication slots that nobody uses: an inactive slot keeps every WAL
/// segment from its restart point on, until the disk fills.
async fn replication_slots(client: &Client) -> Result<Finding> {
    let rows = db::query(client, &slots_sql(), &[]).await?;
    if rows.is_empty() {
        return Ok(Finding::new(None, "none", "no replication slots"));
    }
    let mut inactive: Vec<(f64, String)> = Vec::new();
    let mut active = 0;
    for r in &rows {
        let (name, kind, is_active, held): (String, String, bool, Option<f64>) =
            (r.get(0), r.get(1), r.get(2), r.get(3));
        if is_active {
            active += 1;
            continue;
        }
        let held = held.unwrap_or(0.0).max(0.0);
        inactive.push((
            held,
            format!("{name} ({kind}) holds {}", format_bytes(held)),
        ));
    }
    let active_text = match active {
        0 => String::new(),
        n => format!("; {} active", plural(n, "slot", "slots")),
    };
    let Some((worst, _)) = inactive.first() else {
        return Ok(Finding::new(
            Some(0.0),
            format_bytes(0.0),
            format!("no inactive slots{active_text}"),
        ));
    };
    let listed: Vec<&str> = inactive.iter().take(3).map(|s| s.1.as_str()).collect();
    let more = match inactive.len() {
        n if n > 3 => format!(" and {} more", n - 3),
        _ => String::new(),
    };
    Ok(Finding::new(
        Some(*worst),
        format_bytes(*worst),
        format!(
            "{} inactive: {}{more}{active_text} (pg_drop_replication_slot('NAME') frees what \
             a slot nobody will use again holds)",
            plural(inactive.len(), "slot", "slots"),
            listed.join(", ")
        ),
    ))
}

/// pg_stat_archiver: whether the last attempt to archive failed (a failure after the last
/// success, or failures and no success).
const ARCHIVER: &str = "SELECT current_setting('archive_mode'), archived_count, failed_count, \
       coalesce(last_failed_wal, ''), \
       extract(epoch FROM now() - last_failed_time)::float8, \
       extract(epoch FROM now() - last_archived_time)::float8, \
       coalesce(last_failed_time > last_archived_time, last_failed_time IS NOT NULL) \
     FROM pg_stat_archiver";

/// WAL archiving: its figure is the failures counted since the statistics were reset when the
/// last attempt failed, else 0; OK "archiving off" when archive_mode is off.
async fn archiver(client: &Client) -> Result<Finding> {
    let row = db::query_one(client, ARCHIVER, &[]).await?;
    let mode: String = row.get(0);
    if mode == "off" {
        return Ok(Finding::new(
            None,
            "off",
            "archiving off (archive_mode = off)",
        ));
    }
    let (archived, failed, wal): (i64, i64, String) = (row.get(1), row.get(2), row.get(3));
    let (failed_ago, archived_ago, failing): (Option<f64>, Option<f64>, bool) =
        (row.get(4), row.get(5), row.get(6));
    let last_success = match archived_ago {
        Some(a) => format!("the last success {} ago", format_seconds(a.max(0.0))),
        None => "no success yet".to_string(),
    };
    if !failing {
        return Ok(Finding::new(
            Some(0.0),
            "0",
            format!("archive_mode = {mode}: {archived} WAL files archived, {last_success}"),
        ));
    }
    let ago = failed_ago.map_or(String::new(), |f| {
        format!(" {} ago", format_seconds(f.max(0.0)))
    });
    Ok(Finding::new(
        Some(failed as f64),
        failed.to_string(),
        format!(
            "archiving is failing: {wal} failed{ago}, {last_success}; {failed} failures since \
             the statistics were reset (see archive_command and the server log)"
        ),
    ))
}

/// The newest `backup_*.dump` (crm db backup's) or `backup_*.sql.gz` (the original system's).
fn backup_age(dir: &Path) -> Result<Finding> {
    let entries = std::fs::read_dir(dir)
        .with_context(|| format!("cannot read the backup folder {}", dir.display()))?;
    let mut newest: Option<(SystemTime, String)> = None;
    for entry in entries {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("backup_") || !(name.ends_with(".dump") || name.ends_with(".sql.gz")) {
            continue;
        }
        let modified = entry
            .metadata()
            .and_then(|m| m.modified())
            .with_context(|| format!("cannot read the time of {name}"))?;
        if newest.as_ref().is_none_or(|(t, _)| modified > *t) {
            newest = Some((modified, name));
        }
    }
    Ok(match newest {
        None => Finding::new(
            None,
            "none",
            format!("no backup_* file in {}", dir.display()),
        )
        .at_least(Status::Critical),
        Some((modified, name)) => {
            let age = SystemTime::now()
                .duration_since(modified)
                .map_or(0.0, |d| d.as_secs_f64());
            Finding::new(
                Some(age),
                format_seconds(age),
                format!("newest: {name}, written {} ago", format_seconds(age)),
            )
        }
    })
}
