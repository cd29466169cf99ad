//! Backups and restores with PostgreSQL's own tools, made so that no failure loses data.
//!
//! The original system's scripts piped `pg_dump` into gzip (a failed dump still left a file that
//! looked like a backup), deleted old backups whether or not the new one was good, and dropped
//! the live database before knowing the backup could be read. Here:
//! - [`create`]: `pg_dump --format=custom` into a temporary name, read back in full with
//!   `pg_restore`, fsynced, described by a manifest ([`manifest`]) and renamed into place; only
//!   then does retention ([`retention`]) remove old backups, and only crm's own.
//! - [`restore`]: the file is checked first ([`verify`]), restored into a new database, checked
//!   again, and only then swapped in by renaming, keeping the old database.

mod create;
mod manifest;
mod restore;
mod retention;
mod tools;
mod verify;

use crate::commands::confirm::ConfirmArgs;
use crate::context::Context;
use crate::db::LockArgs;
use crate::error;
/// Sizes as every command shows them to a person (`34.2 MiB`); restore's verify uses it by
/// this name.
use crate::output::prometheus::Family;
use crate::output::{Format, Rows, Value};
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use manifest::Beside;
use std::path::{Path, PathBuf};
use time::OffsetDateTime;

pub use restore::run as restore;

/// `crm db backup`: write a backup (see also: list, verify).
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true, subcommand_negates_reqs = true)]
pub struct BackupCommand {
    #[command(subcommand)]
    pub action: Option<BackupAction>,

    #[command(flatten)]
    pub create: CreateArgs,
}

#[derive(Debug, Subcommand)]
pub enum BackupAction {
    /// List the backups of a folder with size, age and whether each matches its manifest
    /// (-o prometheus: the newest backup's time, size and state per database)
    List(ListArgs),

    /// Check a backup: its checksum, and that the archive reads back in full
    Verify(VerifyArgs),
}

#[derive(Debug, Args, Clone)]
pub struct DirArgs {
    /// The backups' folder [default: CRM_BACKUP_DIR, else backups/ in crm's data folder]
    #[arg(long, value_name = "DIR", env = "CRM_BACKUP_DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub dir: DirArgs,

    /// With -o prometheus: write the metrics to FILE, replaced atomically (for node_exporter's
    /// textfile collector), instead of stdout
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub dir: DirArgs,

    /// Remove crm's backups of this database older than this many days (after a good backup)
    #[arg(long, value_name = "DAYS", default_value_t = 30)]
    pub keep_days: u32,

    /// Never remove the newest N good backups, however old
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub keep_min: u32,

    /// Dump the read replica (--read-url) instead of the primary, or the primary when no
    /// replica is usable. A standby cancels a dump that holds back its replay for longer than
    /// its max_standby_streaming_delay (set hot_standby_feedback = on there for long dumps)
    #[arg(long)]
    pub from_replica: bool,

    #[command(flatten)]
    pub lock: LockArgs,
}

#[derive(Debug, Args)]
pub struct VerifyArgs {
    /// The backup file
    pub file: PathBuf,

    /// Also restore it into a scratch database (dropped afterwards) and check the crm tables
    #[arg(long)]
    pub restore_test: bool,
}

/// `crm db restore FILE`.
#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// A backup made by crm db backup (or pg_dump --format=custom), or a plain .sql/.sql.gz dump
    pub file: PathBuf,

    /// Restore into this new database instead of replacing the connected one
    #[arg(long, value_name = "NAME")]
    pub into: Option<String>,

    /// Kept for the scripts that pass it: the owners a file names are never restored (what it
    /// makes belongs to the role crm connects as, or the live database's owner)
    #[arg(long)]
    pub no_owner: bool,

    /// pg_restore's parallel jobs for a custom archive [default: the number of cores]; a plain
    /// dump is always restored by one psql in one transaction
    #[arg(short = 'j', long, value_name = "N", value_parser = jobs, allow_negative_numbers = true)]
    pub jobs: Option<u16>,

    #[command(flatten)]
    pub confirm: ConfirmArgs,
}

/// The most parallel jobs `--jobs` takes: each is a connection to the server.
const MAX_JOBS: u16 = 64;

/// `--jobs N`: a whole number of parallel jobs, 1 to [`MAX_JOBS`].
fn jobs(text: &str) -> std::result::Result<u16, String> {
    match text.trim().parse::<u16>() {
        Ok(n) if (1..=MAX_JOBS).contains(&n) => Ok(n),
        _ => Err(format!(
            "expected a whole number of parallel jobs from 1 to {MAX_JOBS}"
        )),
    }
}

/// The default of `--jobs`: one pg_restore job per core.
fn default_jobs() -> u16 {
    std::thread::available_parallelism()
        .map_or(1, |n| u16::try_from(n.get()).unwrap_or(MAX_JOBS))
        .min(MAX_JOBS)
}

pub async fn run(ctx: &Context, cmd: BackupCommand) -> Result<()> {
    match cmd.action {
        None => create::run(ctx, cmd.create).await,
        Some(BackupAction::List(args)) => list(ctx, args).await,
        Some(BackupAction::Verify(args)) => restore::verify(ctx, args).await,
    }
}

/// The backups' folder: `--dir`, `CRM_BACKUP_DIR`, else `backups` in crm's data folder.
fn backup_dir(args: &DirArgs) -> Result<PathBuf> {
    match &args.dir {
        Some(dir) if dir.as_os_str().is_empty() => Err(error::usage(
            "--dir (or CRM_BACKUP_DIR) is empty: expected a folder",
        )),
        Some(dir) => Ok(dir.clone()),
        None => Ok(crate::db::local::Cluster::from_env()?
            .home()
            .join("backups")),
    }
}

const LIST_COLUMNS: &[&str] = &[
    "file",
    "size",
    "createdAt",
    "age",
    "database",
    "latestMigration",
    "status",
];

/// `db backup list`: every `backup_*` file of the folder, newest first; `status` is `ok` when
/// the file matches its manifest's size and SHA-256.
async fn list(ctx: &Context, args: ListArgs) -> Result<()> {
    let metrics = ctx.out.format == Format::Prometheus;
    if args.output.is_some() && !metrics {
        return Err(error::usage(
            "--output FILE writes the metrics of -o prometheus: add -o prometheus, or leave \
             --output out to print to standard output",
        ));
    }
    let dir = backup_dir(&args.dir)?;
    if !dir.is_dir() {
        return Err(error::not_found(format!(
            "backup folder {} does not exist",
            dir.display()
        )));
    }
    let entries = manifest::inventory(&dir)?;
    if metrics {
        let families = newest_metrics(&entries).await;
        return ctx.out.metrics(&families, args.output.as_deref());
    }
    let now = OffsetDateTime::now_utc();
    let mut rows = Rows::new(LIST_COLUMNS);
    for entry in &entries {
        let status = status(entry).await;
        let manifest = entry.manifest();
        rows.push(vec![
            Value::Text(file_name(&entry.path)),
            Value::Bytes(entry.size),
            entry.made_at().map_or(Value::Null, Value::Time),
            entry
                .made_at()
                .map_or(Value::Null, |t| Value::Text(age(now - t))),
            manifest.map_or(Value::Null, |m| Value::Text(m.database.clone())),
            manifest
                .and_then(|m| m.latest_migration.as_ref())
                .map_or(Value::Null, |m| {
                    Value::Text(format!("{} {}", m.version, m.name))
                }),
            Value::Text(status),
        ]);
    }
    ctx.out.rows(&rows)?;
    Ok(())
}

/// Whether a backup is good: `ok` when it matches its manifest's size and SHA-256, else why not.
async fn status(entry: &manifest::Entry) -> String {
    match &entry.manifest {
        Err(e) => format!("bad manifest: {e}"),
        Ok(Beside::Nothing) => "not crm's (no manifest)".to_string(),
        Ok(Beside::Foreign(what)) => format!("not crm's (its manifest {what})"),
        Ok(Beside::Manifest(m)) if entry.size != m.size => {
            format!("size {} differs from the manifest's {}", entry.size, m.size)
        }
        Ok(Beside::Manifest(m)) => match verify::check_checksum(&entry.path, m).await {
            Ok(()) => "ok".to_string(),
            Err(_) => "checksum differs from the manifest's".to_string(),
        },
    }
}

/// `db backup list -o prometheus`: per database, its newest backup of crm's (one with a
/// manifest, which names the database) — when it was made, its size, whether it verifies — and
/// how many there are. Only the newest are read for their checksum. A file without a readable
/// manifest names no database and is left out.
async fn newest_metrics(entries: &[manifest::Entry]) -> Vec<Family> {
    let mut newest: Vec<(&str, &manifest::Entry, usize)> = Vec::new();
    for entry in entries {
        let Some(m) = entry.manifest() else { continue };
        match newest.iter_mut().find(|(db, _, _)| *db == m.database) {
            Some((_, kept, count)) => {
                *count += 1;
                if entry.made_at() > kept.made_at() {
                    *kept = entry;
                }
            }
            None => newest.push((&m.database, entry, 1)),
        }
    }
    newest.sort_by(|a, b| a.0.cmp(b.0));
    let mut time = Family::new(
        "crm_backup_newest_timestamp_seconds",
        "When the newest crm backup of the database was made (unix time, from its manifest).",
    );
    let mut size = Family::new(
        "crm_backup_newest_size_bytes",
        "The size of the newest crm backup of the database.",
    );
    let mut verified = Family::new(
        "crm_backup_newest_verified",
        "1 when the newest crm backup of the database matches its manifest's size and SHA-256, \
         0 when it does not.",
    );
    let mut count = Family::new(
        "crm_backup_files",
        "How many crm backups of the database the folder holds.",
    );
    for (database, entry, n) in newest {
        let labels = [("database", database)];
        if let Some(made) = entry.made_at() {
            time.push(&labels, made.unix_timestamp() as f64);
        }
        size.push(&labels, entry.size as f64);
        let ok = status(entry).await == "ok";
        verified.push(&labels, if ok { 1.0 } else { 0.0 });
        count.push(&labels, n as f64);
    }
    vec![time, size, verified, count]
}

fn file_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `3d 4h`, `5h 12m`, `40s`.
fn age(d: time::Duration) -> String {
    let s = d.whole_seconds().max(0);
    let (days, hours, minutes) = (s / 86_400, (s % 86_400) / 3600, (s % 3600) / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else if minutes > 0 {
        format!("{minutes}m")
    } else {
        format!("{s}s")
    }
}

/// fsyncs a folder, so that a rename in it survives a crash.
fn sync_dir(dir: &Path) -> Result<()> {
    std::fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .with_context(|| format!("cannot fsync folder {}", dir.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(age(time::Duration::seconds(40)), "40s");
        assert_eq!(age(time::Duration::minutes(61)), "1h 1m");
        assert_eq!(age(time::Duration::hours(75)), "3d 3h");
    }
}
