//! `crm db backup`: one backup that is good or is not there at all, then retention.
//!
//! Order matters: check pg_dump's version, lock the folder, sweep what killed runs left, dump to
//! a temporary name, read it back in full while hashing it, fsync, write the manifest, rename
//! both into place, fsync the folder; only then remove expired backups. Any failure before the
//! rename removes the temporary files (a guard does it even on Ctrl-C), so a failed run leaves
//! no `backup_*` file and retention never runs after one. `--from-replica` dumps the read replica
//! that `--read-url` names.

use super::manifest::{self, Manifest, Migration, PARTIAL_PREFIX, PARTIAL_SUFFIX};
use super::tools::{self, Tool, Version};
use super::{CreateArgs, backup_dir, retention, sync_dir, verify};
use crate::context::Context;
use crate::output::byte_size;
use crate::{db, error};
use anyhow::{Context as _, Result};
use std::fs::File;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};
use time::OffsetDateTime;

const SERVER_FACTS: &str = "SELECT current_setting('server_version_num')::int4, \
     current_setting('server_version'), current_database()";

pub async fn run(ctx: &Context, args: CreateArgs) -> Result<()> {
    let dir = backup_dir(&args.dir)?;
    // Nothing of a backup writes to or locks the database but pg_dump's own share locks, which
    // a standby takes too: with --from-replica the facts of the manifest come from the server
    // dumped, so they describe the dump.
    let database = match args.from_replica {
        true => from_replica(ctx).await?,
        false => ctx.session_db("db backup").await?,
    };
    let facts = server_facts(database).await?;
    let pg_dump = Tool::find("pg_dump").await?;
    if pg_dump.version.major < facts.version.major {
        anyhow::bail!(
            "cannot back up database \"{}\": {} is version {}, older than the server's {} \
             (pg_dump must be at least the server's major version): install the PostgreSQL {} \
             client tools, or put a newer pg_dump first on PATH",
            facts.database,
            pg_dump.path.display(),
            pg_dump.version,
            facts.version_text,
            facts.version.major
        );
    }
    let pg_restore = Tool::find("pg_restore").await?;

    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&dir)
        .with_context(|| format!("cannot create backup folder {}", dir.display()))?;
    let _lock = FolderLock::acquire(ctx, &dir, args.lock.no_wait).await?;
    sweep(ctx, &dir);

    let started = Instant::now();
    let created_at = OffsetDateTime::now_utc();
    let final_path = final_name(&dir, created_at);
    let temp = partial(&dir)?;
    dump(ctx, database, &pg_dump, &facts.database, temp.path()).await?;

    // Read back and hash at once: two passes over the file, in parallel.
    let (tables, sha) = {
        let hashed = temp.path().to_path_buf();
        let hashing = tokio::task::spawn_blocking(move || manifest::sha256_file(&hashed));
        let reading = verify::read_back_custom(&pg_restore, temp.path());
        let (tables, sha) = tokio::join!(reading, hashing);
        let tables = tables.context(
            "the backup that pg_dump wrote does not read back: nothing was kept, and no old \
             backup was removed",
        )?;
        (tables, sha.context("the checksum task failed")??)
    };
    temp.as_file()
        .sync_all()
        .with_context(|| format!("cannot fsync {}", temp.path().display()))?;
    let size = std::fs::metadata(temp.path())
        .with_context(|| format!("cannot read {}", temp.path().display()))?
        .len();

    let manifest = Manifest {
        format: manifest::FORMAT.to_string(),
        file: super::file_name(&final_path),
        size,
        sha256: sha,
        created_at,
        database: facts.database.clone(),
        server_version: facts.version_text.clone(),
        pg_dump_version: pg_dump.version.to_string(),
        latest_migration: facts.latest_migration.clone(),
        tables,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    };
    let mut manifest_temp = partial(&dir)?;
    write_manifest(&mut manifest_temp, &manifest)?;

    persist(temp, &final_path)?;
    persist(manifest_temp, &Manifest::path_for(&final_path))?;
    sync_dir(&dir)?;

    let removed = expire(ctx, &dir, &facts.database, &args, &final_path);
    let mut summary = format!(
        "backup {}: {} in {:.1} s, read back by pg_restore, sha256 {}",
        final_path.display(),
        byte_size(size),
        started.elapsed().as_secs_f64(),
        manifest.sha256.get(..12).unwrap_or_default()
    );
    if removed > 0 {
        summary.push_str(&format!(
            "; removed {removed} backup{} older than {} days (the newest {} are always kept)",
            if removed == 1 { "" } else { "s" },
            args.keep_days,
            args.keep_min
        ));
    }
    ctx.out.notice(summary);
    Ok(())
}

/// The replica to dump, or the primary (as a backup without the flag reaches it) when none is
/// usable. `--from-replica` without a read URL is bad usage rather than a quiet dump of the
/// primary; so is a replica behind a connection pooler, since pg_dump needs a session of its own.
async fn from_replica(ctx: &Context) -> Result<&db::Database> {
    if !ctx.has_read_urls() {
        return Err(error::usage(
            "--from-replica needs a read replica: give --read-url or set CRM_READ_URL",
        ));
    }
    match ctx.replica().await? {
        Some(replica) if replica.pooled() => Err(error::usage(format!(
            "cannot run db backup --from-replica through a connection pooler: {} did not keep \
             crm's session settings, and pg_dump needs a session of its own; give a --read-url \
             that reaches the replica directly",
            replica.settings.describe()
        ))),
        Some(replica) => Ok(replica),
        None => ctx.session_db("db backup").await,
    }
}

struct ServerFacts {
    version: Version,
    version_text: String,
    database: String,
    latest_migration: Option<Migration>,
}

async fn server_facts(database: &db::Database) -> Result<ServerFacts> {
    let client = database.get().await?;
    let row = db::query_one(&**client, SERVER_FACTS, &[])
        .await
        .context("cannot read the server's version")?;
    let latest_migration = crate::db::schema::latest_applied(&**client)
        .await?
        .map(|(version, name)| Migration { version, name });
    let version_text: String = row.get(1);
    Ok(ServerFacts {
        version: Version::from_server_num(row.get(0)),
        version_text: version_text
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_string(),
        database: row.get(2),
        latest_migration,
    })
}

/// `backup_<stamp>.dump`, or `_2`, `_3`... should one of that second exist.
fn final_name(dir: &Path, at: OffsetDateTime) -> PathBuf {
    let stamp = manifest::stamp(at);
    let mut n = 1;
    loop {
        let name = if n == 1 {
            format!("backup_{stamp}.dump")
        } else {
            format!("backup_{stamp}_{n}.dump")
        };
        let path = dir.join(name);
        if !path.exists() {
            return path;
        }
        n += 1;
    }
}

/// A temporary file in `dir` (readable by its owner only: backups hold password hashes),
/// removed when dropped, even on Ctrl-C, unless [`persist`]ed. Its name never starts with
/// `backup_`, and a run killed outright leaves it for the next run's sweep.
fn partial(dir: &Path) -> Result<tempfile::NamedTempFile> {
    tempfile::Builder::new()
        .prefix(PARTIAL_PREFIX)
        .suffix(PARTIAL_SUFFIX)
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))
}

/// Renames a temporary file into place (removing it if that fails).
fn persist(temp: tempfile::NamedTempFile, to: &Path) -> Result<()> {
    let from = temp.path().to_path_buf();
    temp.persist(to).map(drop).map_err(|e| {
        anyhow::Error::from(e.error).context(format!(
            "cannot rename {} to {}",
            from.display(),
            to.display()
        ))
    })
}

/// Runs pg_dump into `file`, showing the bytes written on a terminal.
async fn dump(
    ctx: &Context,
    database: &db::Database,
    pg_dump: &Tool,
    dbname: &str,
    file: &Path,
) -> Result<()> {
    let mut cmd = pg_dump.command(&database.settings);
    cmd.arg("--format=custom").arg("--no-password");
    if crate::session::lock_timeout_ms() > 0 {
        // pg_dump's wait for its table locks, in milliseconds.
        cmd.arg(format!(
            "--lock-wait-timeout={}",
            crate::session::lock_timeout_ms()
        ));
    }
    cmd.arg("--file")
        .arg(file)
        .arg("--dbname")
        .arg(tools::dbname_conninfo(dbname));
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", pg_dump.path.display()))?;
    let bar = ctx.out.progress(None);
    bar.set_prefix("pg_dump");
    let finishing = tools::finish(child);
    tokio::pin!(finishing);
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let finished = loop {
        tokio::select! {
            done = &mut finishing => break done?,
            _ = tick.tick() => {
                let written = std::fs::metadata(file).map(|m| m.len()).unwrap_or(0);
                bar.set_message(format!("{} written", byte_size(written)));
            }
        }
    };
    bar.finish_and_clear();
    if !finished.status.success() {
        return Err(finished
            .failure(pg_dump, &format!("dumping database \"{dbname}\""))
            .context(format!(
                "cannot back up database \"{dbname}\": nothing was written, and no old backup \
                 was removed"
            )));
    }
    Ok(())
}

fn write_manifest(file: &mut tempfile::NamedTempFile, manifest: &Manifest) -> Result<()> {
    use std::io::Write;
    let mut text = serde_json::to_vec_pretty(manifest).context("cannot encode the manifest")?;
    text.push(b'\n');
    file.write_all(&text)
        .and_then(|()| file.as_file().sync_all())
        .with_context(|| format!("cannot write {}", file.path().display()))
}

/// Retention, after a good backup, never removing `made` (that backup, which `--keep-days 0
/// --keep-min 0` would otherwise expire at once). A file that cannot be removed is a warning:
/// the backup itself succeeded.
fn expire(ctx: &Context, dir: &Path, database: &str, args: &CreateArgs, made: &Path) -> usize {
    let entries = match manifest::inventory(dir) {
        Ok(entries) => entries,
        Err(e) => {
            ctx.out.warn(format!("retention skipped: {e:#}"));
            return 0;
        }
    };
    let now = OffsetDateTime::now_utc();
    let mut removed = 0;
    // The backup just made was verified a moment ago; the others are hashed again.
    let verifies = |e: &manifest::Entry| {
        e.path == made
            || e.manifest()
                .is_some_and(|m| manifest::sha256_file(&e.path).is_ok_and(|sha| sha == m.sha256))
    };
    let expired = retention::expired(
        &entries,
        database,
        now,
        args.keep_days,
        args.keep_min,
        verifies,
    );
    for entry in expired.into_iter().filter(|e| e.path != made) {
        let manifest = Manifest::path_for(&entry.path);
        match std::fs::remove_file(&entry.path) {
            Ok(()) => {
                removed += 1;
                let _ = std::fs::remove_file(&manifest);
            }
            Err(e) => ctx.out.warn(format!(
                "cannot remove expired backup {}: {e}",
                entry.path.display()
            )),
        }
    }
    if removed > 0 {
        let _ = sync_dir(dir);
    }
    removed
}

/// Temporary files of earlier runs: safe to remove, since this run holds the folder's lock.
fn sweep(ctx: &Context, dir: &Path) {
    let stale = manifest::partial_files(dir);
    let mut swept = 0;
    for path in &stale {
        if std::fs::remove_file(path).is_ok() {
            swept += 1;
        }
    }
    if swept > 0 {
        ctx.out.notice(format!(
            "removed {swept} temporary file{} that an interrupted backup left in {}",
            if swept == 1 { "" } else { "s" },
            dir.display()
        ));
    }
}

/// An exclusive lock on the folder's `.crm-backup.lock`: one backup at a time per folder, so that
/// overlapping cron runs neither sweep each other's files nor race on retention.
struct FolderLock {
    _file: File,
}

impl FolderLock {
    async fn acquire(ctx: &Context, dir: &Path, no_wait: bool) -> Result<FolderLock> {
        let path = dir.join(".crm-backup.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&path)
            .with_context(|| format!("cannot open lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => return Ok(FolderLock { _file: file }),
            Err(std::fs::TryLockError::WouldBlock) => {}
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(e).with_context(|| format!("cannot lock {}", path.display()));
            }
        }
        if no_wait {
            return Err(error::conflict(format!(
                "another crm backup into {} is running (it holds {}); try again later, or leave \
                 out --no-wait to wait for it",
                dir.display(),
                path.display()
            )));
        }
        ctx.out.notice(format!(
            "waiting for another crm backup into {} to finish",
            dir.display()
        ));
        let file = tokio::task::spawn_blocking(move || file.lock().map(|()| file))
            .await
            .context("the lock task failed")?
            .with_context(|| format!("cannot lock {}", path.display()))?;
        Ok(FolderLock { _file: file })
    }
}
