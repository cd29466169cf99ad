//! Choosing a read replica (`--read-url`, `CRM_READ_URL`) for the commands that only read: the
//! first of the URLs, in the order given, that answers and is no further behind than
//! `--max-lag`. One that cannot be reached or is too far behind is skipped with a notice naming
//! it (never its password) and why; when none is usable the caller reads from the primary. Each
//! URL is resolved as the primary's is (service file, `.pgpass`, TLS), and the choice is made
//! once per run.

use super::{Database, log_sql, settings};
use crate::output::Output;
use anyhow::{Context, Result};
use std::path::PathBuf;
use std::time::{Duration, Instant};
use tokio_postgres::SimpleQueryMessage;

/// How far behind the server is, in seconds, as it sees itself. A primary (not in recovery) is
/// never behind. A standby that has replayed all the WAL it received is not behind either,
/// however long ago the last transaction was (an idle primary sends nothing); otherwise it is as
/// far behind as the age of the last transaction it replayed. That is NULL when it has replayed
/// none since it started: unknown, so it is skipped. A simple query, which a pooler in front of
/// the replica passes on as it is.
const LAG: &str = "SELECT CASE \
     WHEN NOT pg_catalog.pg_is_in_recovery() THEN 0 \
     WHEN pg_catalog.pg_last_wal_receive_lsn() = pg_catalog.pg_last_wal_replay_lsn() THEN 0 \
     ELSE extract(epoch FROM pg_catalog.now() - pg_catalog.pg_last_xact_replay_timestamp()) \
     END";

/// The read replicas to try, as the global options give them.
#[derive(Debug, Clone, Default)]
pub struct ReadUrls {
    /// The URLs (or key=value strings), in the order to try them.
    pub urls: Vec<String>,
    /// `--max-lag`: a replica further behind is skipped.
    pub max_lag: Duration,
}

/// The first usable replica of `read`, opened, or `None` when none is given or none is usable
/// (the caller then reads from the primary). A URL that is not valid is bad usage (exit 2), as
/// `--database-url` would be; one that is valid but unreachable only skips that replica.
/// `verbose` (`-v`) says on stderr where the command reads.
pub async fn choose(read: &ReadUrls, verbose: bool, out: &Output) -> Result<Option<Database>> {
    if read.urls.is_empty() {
        return Ok(None);
    }
    for url in &read.urls {
        let settings = resolve(url, out)?;
        let place = settings.place();
        match open_and_measure(settings).await {
            Ok((db, lag)) if lag <= read.max_lag.as_secs_f64() => {
                if verbose {
                    // Beside the statements `-v` logs (see `db::log_sql`), on stderr.
                    eprintln!(
                        "read: from replica {} ({lag:.1} s behind)",
                        db.settings.place()
                    );
                }
                return Ok(Some(db));
            }
            Ok((db, lag)) => out.notice(format!(
                "notice: skipping read replica {}: it is {lag:.1} s behind, more than \
                 --max-lag {}",
                db.settings.place(),
                duration_text(read.max_lag)
            )),
            Err(e) => out.notice(format!("notice: skipping read replica {place}: {e:#}")),
        }
    }
    out.notice("notice: no read replica is usable: reading from the primary");
    if verbose {
        eprintln!("read: from the primary");
    }
    Ok(None)
}

/// `url` resolved as the primary's URL is, from the same environment.
fn resolve(url: &str, out: &Output) -> Result<settings::ConnSettings> {
    let env = |name: &str| std::env::var(name).ok();
    let home = std::env::var_os("HOME").map(PathBuf::from);
    let os_user = whoami::username()
        .ok()
        .or_else(|| std::env::var("USER").ok())
        .unwrap_or_else(|| "postgres".to_string());
    let (settings, warnings) = settings::resolve_read_url(url, &env, &os_user, home.as_deref())?;
    for w in warnings {
        out.warn(w);
    }
    Ok(settings)
}

/// Opens the replica and asks how far behind it is, in seconds.
async fn open_and_measure(settings: settings::ConnSettings) -> Result<(Database, f64)> {
    let db = Database::with_settings(settings).await?;
    let client = db.get().await?;
    let started = Instant::now();
    let messages = client
        .simple_query(LAG)
        .await
        .context("cannot ask how far behind it is")?;
    log_sql(LAG, started);
    let lag = messages
        .iter()
        .find_map(|message| match message {
            SimpleQueryMessage::Row(row) => Some(row.get(0)),
            _ => None,
        })
        .context("the server did not say how far behind it is")?
        .context(
            "it cannot tell how far behind it is (it has replayed nothing since it started)",
        )?;
    let lag: f64 = lag
        .parse()
        .with_context(|| format!("it says it is \"{lag}\" s behind, which is not a number"))?;
    drop(client);
    // A clock a little ahead of the primary's makes a tiny lag negative.
    Ok((db, lag.max(0.0)))
}

/// A duration as `--max-lag` takes it: `0`, `500ms`, `30s`, `5m`, `1h`.
fn duration_text(d: Duration) -> String {
    let ms = d.as_millis();
    match ms {
        0 => "0".to_string(),
        _ if ms.is_multiple_of(3_600_000) => format!("{}h", ms / 3_600_000),
        _ if ms.is_multiple_of(60_000) => format!("{}m", ms / 60_000),
        _ if ms.is_multiple_of(1_000) => format!("{}s", ms / 1_000),
        _ => format!("{ms}ms"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_max_lag_takes_them() {
        for text in ["0", "500ms", "30s", "5m", "1h", "90s", "1500ms", "24h"] {
            let parsed = crate::validate::max_lag(text).expect(text);
            assert_eq!(duration_text(parsed), text);
        }
    }
}
