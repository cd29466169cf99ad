//! `crm db restore` and `crm db backup verify --restore-test`: restoring into a new database,
//! checking it, and only then swapping it in for the live one by renaming.
//!
//! The live database is touched only by the swap, which is two renames after the restored copy
//! has been checked; the old one is kept as `<name>_before_restore_<time>`. Plain dumps go
//! through `psql --single-transaction -v ON_ERROR_STOP=1` under `\restrict` with a key the file
//! cannot know, so a dump can hold SQL but never run psql's meta-commands (`\!` runs a shell);
//! and the SQL of any file runs as a role without superuser rights ([`Restorer`]).

use super::manifest::{self, Manifest};
use super::tools::{self, Tool};
use super::verify::{self, ArchiveKind};
use super::{RestoreArgs, VerifyArgs};
use crate::commands::confirm::{Typed, confirm_by_typing};
use crate::context::Context;
use crate::db::settings::ConnSettings;
use crate::output::Value;
use crate::{db, error, interrupt};
use anyhow::{Context as _, Result};
use indicatif::ProgressBar;
use std::io::BufRead;
use std::path::Path;
use time::OffsetDateTime;
use tokio::io::AsyncWriteExt;
use tokio_postgres::Client;

/// PostgreSQL's limit on identifiers, in bytes.
const MAX_NAME: usize = 63;

const DATABASE_LOCALE: &str = "SELECT pg_encoding_to_char(encoding), datcollate, datctype \
     FROM pg_database WHERE datname = current_database()";
/// The other sessions on a database. Processes without a role (autovacuum workers) are left
/// out: only a superuser may end them, and a rename ends them itself.
const TERMINATE: &str = "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
     WHERE datname = $1 AND pid <> pg_backend_pid() AND usesysid IS NOT NULL";

/// Drops the restored copy `target` after a later step failed: `dropped` when that worked, else
/// the statement to drop it by hand.
async fn drop_restored_copy(admin: &Client, target: &str, dropped: &str) -> String {
    if drop_database(admin, target).await {
        dropped.to_string()
    } else {
        format!(
            "the restored copy \"{target}\" could not be dropped (DROP DATABASE {};)",
            db::quote_identifier(target)
        )
    }
}

pub async fn run(ctx: &Context, args: RestoreArgs) -> Result<()> {
    if let Some(name) = &args.into {
        check_name(name)?;
    }
    let kind = checked(&args.file).await?;
    let database = ctx.session_db("db restore").await?;
    let live = database.settings.dbname.clone();
    let stamp = manifest::stamp(OffsetDateTime::now_utc());
    if args.into.is_none() {
        // Replacing the live database needs `--yes`, or its name typed on a terminal.
        confirm_by_typing(
            args.confirm,
            &Typed {
                name: &live,
                what: "the database name",
                needs: &format!(
                    "restoring {} replaces database \"{live}\" and needs confirmation",
                    args.file.display()
                ),
                otherwise: " (or --into NAME to restore into a new database)",
                warning: &format!(
                    "This replaces database \"{live}\" with the contents of {} (the current one \
                     is kept under another name).",
                    args.file.display()
                ),
            },
        )?;
    }
    let target = match &args.into {
        Some(name) => name.clone(),
        None => derived_name(&live, &format!("_restoring_{stamp}")),
    };

    let admin = admin_connection(database).await?;
    if args.into.is_none() {
        check_swap_rights(&admin, &live).await.map_err(|e| {
            e.context(format!(
                "cannot restore {} into database \"{live}\" (nothing was changed)",
                args.file.display()
            ))
        })?;
    }
    warn_of_leftovers(ctx, &admin, &live).await;
    // From here a signal does not end the run at once: the partial copy is dropped first.
    let _cleanup = interrupt::Cleanup::hold();
    let jobs = args.jobs.unwrap_or_else(super::default_jobs);
    let summary = restore_new(ctx, database, &admin, kind, &args.file, &target, jobs)
        .await
        .map_err(|failed| {
            failed.error.context(format!(
                "cannot restore {}: {}, and database \"{live}\" was not touched",
                args.file.display(),
                failed.kept
            ))
        })?;
    if let Some(signal) = interrupt::pending() {
        let kept = drop_restored_copy(&admin, &target, "nothing was kept").await;
        return Err(signal.error().context(format!(
            "cannot restore {}: {kept}, and database \"{live}\" was not touched",
            args.file.display()
        )));
    }
    if let Some(name) = &args.into {
        ctx.out.notice(format!(
            "restored {} into new database \"{name}\" ({summary}); database \"{live}\" was not \
             touched",
            args.file.display()
        ));
        return Ok(());
    }

    match copy_properties(&admin, &live, &target).await {
        Ok(copied) => ctx.out.notice(format!(
            "copied the owner, privileges and settings of \"{live}\" to the restored database \
             ({copied})"
        )),
        Err(e) => {
            let kept = drop_restored_copy(&admin, &target, "the restored copy was dropped").await;
            return Err(e.context(format!(
                "cannot restore {}: {kept}, and database \"{live}\" was not touched",
                args.file.display()
            )));
        }
    }
    let old = derived_name(&live, &format!("_before_restore_{stamp}"));
    if let Err(failed) = swap(ctx, &admin, &live, &target, &old).await {
        let live_state = match &failed.repair {
            None => format!("database \"{live}\" is as it was"),
            Some(repair) => format!(
                "database \"{live}\" could not be put back as it was; to do so by hand, from \
                 another database (e.g. psql -d postgres): {repair}"
            ),
        };
        let copy = drop_restored_copy(&admin, &target, "the restored copy was dropped").await;
        return Err(failed.error.context(format!(
            "cannot restore {}: cannot swap the restored database in for \"{live}\": \
             {live_state}; {copy}",
            args.file.display()
        )));
    }
    // SQL to paste as it is: the names quoted as identifiers.
    let (q_live, q_target, q_old) = (
        db::quote_identifier(&live),
        db::quote_identifier(&target),
        db::quote_identifier(&old),
    );
    ctx.out.notice(format!(
        "restored {} into database \"{live}\" ({summary}); the previous database is kept as \
         \"{old}\". To go back: ALTER DATABASE {q_live} RENAME TO {q_target}; ALTER DATABASE \
         {q_old} RENAME TO {q_live}; (run from another database, e.g. psql -d postgres). To \
         reclaim its space once satisfied: DROP DATABASE {q_old};",
        args.file.display()
    ));
    Ok(())
}

/// `db backup verify FILE [--restore-test]`.
pub async fn verify(ctx: &Context, args: VerifyArgs) -> Result<()> {
    let kind = verify::kind_of(&args.file)?;
    let manifest = read_manifest(&args.file)?;
    if let Some(m) = &manifest {
        verify::check_checksum(&args.file, m).await?;
    }
    let tables = verify::read_back(&args.file, kind).await?;
    let size = std::fs::metadata(&args.file)
        .with_context(|| format!("cannot read {}", args.file.display()))?
        .len();
    let restore_test = if args.restore_test {
        let database = ctx.session_db("db backup verify --restore-test").await?;
        let admin = admin_connection(database).await?;
        let scratch = derived_name(
            "crm_verify",
            &format!(
                "_{}_{}",
                manifest::stamp(OffsetDateTime::now_utc()),
                std::process::id()
            ),
        );
        let _cleanup = interrupt::Cleanup::hold();
        let jobs = super::default_jobs();
        let restored = restore_new(ctx, database, &admin, kind, &args.file, &scratch, jobs)
            .await
            .map_err(|failed| {
                failed
                    .error
                    .context(format!("the restore test failed: {}", failed.kept))
            })?;
        let dropped = drop_database(&admin, &scratch).await;
        if !dropped {
            ctx.out.warn(format!(
                "the scratch database \"{scratch}\" could not be dropped: DROP DATABASE {};",
                db::quote_identifier(&scratch)
            ));
        }
        Value::Text(format!("restored: {restored}"))
    } else {
        Value::Text("not run (--restore-test)".into())
    };
    ctx.out.record(
        &["file", "kind", "size", "checksum", "archive", "restoreTest"],
        &[
            Value::Text(args.file.display().to_string()),
            Value::Text(kind.label().into()),
            Value::Bytes(size),
            Value::Text(match &manifest {
                Some(m) => format!("matches the manifest (sha256 {})", &m.sha256),
                None => "no manifest beside the file: not checked".into(),
            }),
            Value::Text(match kind {
                ArchiveKind::Custom => {
                    format!("reads back in full ({} tables with data)", tables.len())
                }
                ArchiveKind::PlainGzip => "decompresses in full".into(),
                ArchiveKind::Plain => "plain text (checked only by a restore)".into(),
            }),
            restore_test,
        ],
    )?;
    Ok(())
}

/// The file's kind, checked against its manifest, or read back in full when it has none.
async fn checked(file: &Path) -> Result<ArchiveKind> {
    let kind = verify::kind_of(file)?;
    match read_manifest(file)? {
        Some(m) => verify::check_checksum(file, &m).await?,
        None => {
            verify::read_back(file, kind).await?;
        }
    }
    Ok(kind)
}

fn read_manifest(file: &Path) -> Result<Option<Manifest>> {
    Manifest::read_beside(file).map_err(|e| error::usage(format!("{e:#}")))
}

/// `--into NAME`: a plain identifier, so that it needs no quoting anywhere.
fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !name.starts_with(|c: char| c.is_ascii_digit());
    if ok {
        Ok(())
    } else {
        Err(error::usage(format!(
            "invalid --into \"{name}\": expected a database name of letters, digits and \
             underscores, not starting with a digit, at most {MAX_NAME} characters"
        )))
    }
}

/// `base` + `suffix`, cutting `base` (at a character boundary) to fit PostgreSQL's 63 bytes.
fn derived_name(base: &str, suffix: &str) -> String {
    let room = MAX_NAME.saturating_sub(suffix.len());
    let mut end = base.len().min(room);
    while !base.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{suffix}", &base[..end])
}

/// A connection to another database of the server (`postgres`, else `template1`), from which
/// databases can be created, renamed and dropped.
async fn admin_connection(database: &db::Database) -> Result<Client> {
    match database.connect_to("postgres").await {
        Ok(client) => Ok(client),
        Err(first) => database
            .connect_to("template1")
            .await
            .map_err(|_| first)
            .context("restoring needs a connection to the postgres or template1 database"),
    }
}

/// Creates an empty database with the live one's encoding and locale.
async fn create_database(
    database: &db::Database,
    admin: &Client,
    name: &str,
    owner: Option<&str>,
) -> Result<()> {
    let live = database.get().await?;
    let row = db::query_one(&**live, DATABASE_LOCALE, &[])
        .await
        .context("cannot read the database's encoding")?;
    let (encoding, collate, ctype): (String, String, String) = (row.get(0), row.get(1), row.get(2));
    drop(live);
    let sql = format!(
        "CREATE DATABASE {}{} TEMPLATE template0 ENCODING {} LC_COLLATE {} LC_CTYPE {}",
        db::quote_identifier(name),
        owner.map_or(String::new(), |o| format!(
            " OWNER {}",
            db::quote_identifier(o)
        )),
        db::quote_literal(&encoding),
        db::quote_literal(&collate),
        db::quote_literal(&ctype)
    );
    db::batch_execute(admin, &sql).await.map_err(|e| {
        if e.code() == Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE) {
            error::conflict(format!(
                "database \"{name}\" already exists: choose another --into name"
            ))
        } else {
            anyhow::Error::from(e).context(format!("cannot create database \"{name}\""))
        }
    })
}

/// Partial copies that restores cut short by a crash left (they could not drop them): named,
/// for a person to drop, never dropped here (another restore may be running).
const LEFTOVERS: &str = "SELECT datname::text FROM pg_database \
     WHERE starts_with(datname, $1::text || '_restoring_') ORDER BY 1";

/// Temporary roles of restores cut short by a crash: made over an hour ago (they are valid for
/// a day), so that another restore's is not named.
const LEFTOVER_ROLES: &str = "SELECT rolname::text FROM pg_roles \
     WHERE starts_with(rolname, 'crm_restore_') AND rolvaliduntil < now() + interval '23 hours' \
     ORDER BY 1";

async fn warn_of_leftovers(ctx: &Context, admin: &Client, live: &str) {
    if let Ok(rows) = db::query(admin, LEFTOVER_ROLES, &[]).await {
        for row in rows {
            let name: String = row.get(0);
            ctx.out.warn(format!(
                "role \"{name}\" is the temporary role of an earlier restore that was \
                 cut short; drop it: DROP ROLE \"{name}\"; (after the partial copy it owns, if any)"
            ));
        }
    }
    let Ok(rows) = db::query(admin, LEFTOVERS, &[&live]).await else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        ctx.out.warn(format!(
            "database \"{name}\" is the partial copy of an earlier restore that was cut \
             short; once no restore is running, drop it: DROP DATABASE {};",
            db::quote_identifier(&name)
        ));
    }
}

/// Drops a database crm made; whether it is gone.
async fn drop_database(admin: &Client, name: &str) -> bool {
    let sql = format!(
        "DROP DATABASE IF EXISTS {} WITH (FORCE)",
        db::quote_identifier(name)
    );
    db::batch_execute(admin, &sql).await.is_ok()
}

/// A restore that failed, and what it left behind (`nothing was kept`, or what could not be
/// dropped and how to drop it).
struct Failed {
    error: anyhow::Error,
    kept: String,
}

/// Restores `file` into the new database `target` and checks it: a summary. The file's SQL
/// runs as a [`Restorer`]; on every path the temporary role is dropped, and on failure so is
/// `target`.
async fn restore_new(
    ctx: &Context,
    database: &db::Database,
    admin: &Client,
    kind: ArchiveKind,
    file: &Path,
    target: &str,
    jobs: u16,
) -> std::result::Result<String, Failed> {
    let restorer = Restorer::prepare(admin).await.map_err(|error| Failed {
        error,
        kept: "nothing was changed".into(),
    })?;
    if let Some(temp) = &restorer.temp {
        ctx.out.notice(format!(
            "the file's SQL runs as the temporary role \"{}\", which is no superuser and owns \
             only the new database; it is dropped at the end",
            temp.name
        ));
    }
    let (created, restored) = match create_database(database, admin, target, restorer.owner()).await
    {
        // A signal ends the restore (killing its tool), and the partial copy is dropped below.
        Ok(()) => (
            true,
            tokio::select! {
                restored = restore_checked(ctx, database, &restorer, kind, file, target, jobs) => restored,
                signal = interrupt::requested() => Err(signal.error()),
            },
        ),
        Err(e) => (false, Err(e)),
    };
    let mut left = Vec::new();
    let failed = restored.is_err();
    if failed && created && !drop_database(admin, target).await {
        left.push(format!(
            "the partial copy \"{target}\" could not be dropped (DROP DATABASE {} once the \
             server is back)",
            db::quote_identifier(target)
        ));
    }
    if let Some(temp) = &restorer.temp
        && !drop_role(admin, &temp.name).await
    {
        left.push(format!(
            "the temporary role \"{0}\" could not be dropped (DROP ROLE \"{0}\" once the \
             server is back{1})",
            temp.name,
            if failed && left.is_empty() {
                ""
            } else {
                ", after the database"
            }
        ));
    }
    match restored {
        Ok(summary) if left.is_empty() => Ok(summary),
        Ok(_) => Err(Failed {
            error: anyhow::anyhow!("cannot clean up after the restore"),
            kept: format!("{}, and the restored copy is there", left.join("; ")),
        }),
        Err(error) => Err(Failed {
            error,
            kept: if left.is_empty() {
                "nothing was kept".into()
            } else {
                left.join("; ")
            },
        }),
    }
}

/// Drops a role crm made; whether it is gone.
async fn drop_role(admin: &Client, name: &str) -> bool {
    let sql = format!("DROP ROLE IF EXISTS {}", db::quote_identifier(name));
    db::batch_execute(admin, &sql).await.is_ok()
}

/// Whether the role crm connects as has rights beyond what restoring a crm database needs,
/// which a file's SQL could use: a superuser's, CREATEROLE's (in PostgreSQL 15 and before, a
/// way to any non-superuser role), or those of running programs and reading or writing files
/// on the server. Also its name and whether it is a superuser.
const PRIVILEGED: &str = "SELECT current_user::text, rolsuper, \
            rolsuper OR rolcreaterole \
            OR pg_has_role(current_user, 'pg_execute_server_program', 'MEMBER') \
            OR pg_has_role(current_user, 'pg_read_server_files', 'MEMBER') \
            OR pg_has_role(current_user, 'pg_write_server_files', 'MEMBER') \
     FROM pg_roles WHERE rolname = current_user";

/// Who runs a file's SQL. A dump is untrusted input, and SQL can do anything its session's role
/// may (`COPY ... TO PROGRAM`, `CREATE ROLE ... SUPERUSER`); `\restrict` stops only psql's
/// meta-commands. So the tools never run it as a role with more rights than a restore needs:
/// when crm's own role has such rights, a temporary role is made that has none of them, owns
/// the new database (so it may create its objects and trusted extensions such as pg_trgm), and
/// logs in itself with a random password (the tools get it through their environment). Its
/// session never had a superuser's rights, so nothing in the file (`RESET ROLE`, `SET SESSION
/// AUTHORIZATION`) can get them back. At the end what it made is given to crm's own role and it
/// is dropped. The owners named in a file are never restored: the objects belong to crm's own
/// role, as the database does.
struct Restorer {
    /// crm's own role, which ends up owning what was restored.
    me: String,
    /// The temporary role, when `me` has rights a restore must not have.
    temp: Option<TempRole>,
}

struct TempRole {
    name: String,
    password: String,
}

impl Restorer {
    async fn prepare(admin: &Client) -> Result<Restorer> {
        let row = db::query_one(admin, PRIVILEGED, &[])
            .await
            .context("cannot read the rights of the role crm connects as")?;
        let (me, superuser, privileged): (String, bool, bool) =
            (row.get(0), row.get(1), row.get(2));
        if !privileged {
            return Ok(Restorer { me, temp: None });
        }
        let name = format!("crm_restore_{}", &random_key()?[..16]);
        let password = random_key()?;
        // Only a verifier reaches the server (and its log), never the password.
        let verifier = postgres_protocol::password::scram_sha_256(password.as_bytes());
        let until = (OffsetDateTime::now_utc() + time::Duration::days(1))
            .format(&time::format_description::well_known::Rfc3339)
            .context("cannot format a time")?;
        let mut sql = format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS PASSWORD {verifier} VALID UNTIL {until}",
            role = db::quote_identifier(&name),
            verifier = db::quote_literal(&verifier),
            until = db::quote_literal(&until),
        );
        if !superuser {
            // To create a database it owns and take back what it made.
            sql.push_str(&format!(
                "; GRANT {} TO {}",
                db::quote_identifier(&name),
                db::quote_identifier(&me)
            ));
        }
        db::batch_execute(admin, &sql).await.with_context(|| {
            format!(
                "cannot create the temporary role that runs the file's SQL without role \"{me}\"'s \
                 rights"
            )
        })?;
        Ok(Restorer {
            me,
            temp: Some(TempRole { name, password }),
        })
    }

    /// The new database's owner while the file is restored: the temporary role, if any.
    fn owner(&self) -> Option<&str> {
        self.temp.as_ref().map(|t| t.name.as_str())
    }

    /// The settings the tools connect with.
    fn settings(&self, settings: &ConnSettings) -> ConnSettings {
        let mut settings = settings.clone();
        if let Some(temp) = &self.temp {
            settings.user = temp.name.clone();
            settings.password = Some(temp.password.clone());
        }
        settings
    }

    /// A session on `target` as the role the file runs as.
    async fn connect(&self, database: &db::Database, target: &str) -> Result<Client> {
        let Some(temp) = &self.temp else {
            return database.connect_to(target).await;
        };
        database
            .connect_as(target, &temp.name, &temp.password)
            .await
            .map_err(|e| {
                let refused = e.chain().any(|c| {
                    c.downcast_ref::<tokio_postgres::Error>()
                        .and_then(tokio_postgres::Error::code)
                        .is_some_and(|code| code.code().starts_with("28"))
                });
                if !refused {
                    return e;
                }
                e.context(error::Failure::new(
                    error::Kind::Connect,
                    format!(
                        "the server does not let the temporary role \"{}\" log in with its \
                         password, and crm never runs a file's SQL with role \"{}\"'s rights \
                         (a superuser's, CREATEROLE, or the server's programs and files): let \
                         password logins through where crm connects from (pg_hba.conf, e.g. \
                         \"host all all 127.0.0.1/32 scram-sha-256\" and connect over TCP), or \
                         restore as a role without those rights that may create databases",
                        temp.name, self.me
                    ),
                ))
            })
    }

    /// Gives crm's own role what the temporary role made, in `target`, in one transaction.
    async fn hand_over(&self, database: &db::Database, target: &str) -> Result<()> {
        let Some(temp) = &self.temp else {
            return Ok(());
        };
        let client = database.connect_to(target).await?;
        let sql = format!(
            "REASSIGN OWNED BY {temp} TO {me}; DROP OWNED BY {temp}",
            temp = db::quote_identifier(&temp.name),
            me = db::quote_identifier(&self.me)
        );
        db::batch_execute(&client, &sql)
            .await
            .with_context(|| format!("cannot give role \"{}\" what the restore made", self.me))
    }
}

/// Restores into `target` (already created, empty) as `restorer`, checks what arrived, and
/// hands it over: a summary. A custom archive is restored by `jobs` parallel pg_restore jobs.
async fn restore_checked(
    ctx: &Context,
    database: &db::Database,
    restorer: &Restorer,
    kind: ArchiveKind,
    file: &Path,
    target: &str,
    jobs: u16,
) -> Result<String> {
    // A login that the server refuses is said plainly, before any tool runs.
    let client = restorer.connect(database, target).await?;
    drop(client);
    let settings = restorer.settings(&database.settings);
    // A custom archive's items drive a bar (pg_restore says each as it goes); a plain dump,
    // one transaction through psql, has only a spinner.
    let items = match kind {
        ArchiveKind::Custom if ctx.out.shows_progress() => archive_items(&settings, file).await,
        _ => None,
    };
    let bar = ctx.out.progress(items);
    bar.set_prefix("restore");
    bar.set_message(format!("into \"{target}\""));
    let result = match kind {
        ArchiveKind::Custom => pg_restore(&settings, file, target, jobs, &bar).await,
        ArchiveKind::PlainGzip | ArchiveKind::Plain => psql(&settings, file, kind, target).await,
    };
    bar.finish_and_clear();
    result?;
    let summary = inspect(&restorer.connect(database, target).await?).await?;
    restorer.hand_over(database, target).await?;
    Ok(summary)
}

/// A tool that failed on something that needs more rights than a restore has: the file, not
/// the server, is at fault.
fn needs_more_rights(stderr: &str) -> bool {
    [
        "permission denied",
        "must be superuser",
        "must have privileges of",
        "must be owner of",
    ]
    .iter()
    .any(|said| stderr.contains(said))
}

fn more_rights(e: anyhow::Error) -> anyhow::Error {
    error::usage(format!("{e:#}")).context(
        "the file does what restoring a crm database never needs, with rights a restore does \
         not have (its SQL runs as a role that is no superuser and owns only the new database)",
    )
}

/// `pg_restore` into the new, empty `target`. Not in one transaction (which parallel jobs
/// cannot share): a failed restore drops `target`, which nobody else uses until it is checked
/// and swapped in, so a half-restored database is never seen.
/// When `bar` has a length (the archive's items), pg_restore runs `--verbose` and each item it
/// says it restored moves the bar; its chatter is kept out of the stderr an error quotes.
async fn pg_restore(
    settings: &ConnSettings,
    file: &Path,
    target: &str,
    jobs: u16,
    bar: &ProgressBar,
) -> Result<()> {
    let tool = Tool::find("pg_restore").await?;
    let mut cmd = tool.command(settings);
    let verbose = bar.length().is_some();
    if verbose {
        cmd.arg("--verbose");
    }
    cmd.arg("--exit-on-error")
        .arg(format!("--jobs={jobs}"))
        .arg("--no-password")
        .arg("--no-owner")
        .arg("--dbname")
        .arg(tools::dbname_conninfo(target))
        .arg(file);
    let child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", tool.path.display()))?;
    let finished = match verbose {
        false => tools::finish(child).await?,
        true => {
            let parallel = jobs > 1;
            let items = bar.length().unwrap_or(0);
            let mut done = 0;
            tools::finish_reading(child, |line| match restore_said(line, parallel) {
                Said::ItemDone => {
                    done += 1;
                    // Kept short of the end until pg_restore has finished, should it say more
                    // items than the list had.
                    bar.set_position(done.min(items.saturating_sub(1)));
                    false
                }
                Said::Chatter => false,
                Said::Other => true,
            })
            .await?
        }
    };
    if !finished.status.success() {
        let e = finished.failure(&tool, &format!("restoring into \"{target}\""));
        if needs_more_rights(&finished.stderr) {
            return Err(more_rights(e));
        }
        return Err(e);
    }
    Ok(())
}

/// The number of items in a custom archive's table of contents (`pg_restore --list`), the
/// length of the restore's bar; none if the list cannot be read (the restore then says why).
async fn archive_items(settings: &ConnSettings, file: &Path) -> Option<u64> {
    let tool = Tool::find("pg_restore").await.ok()?;
    let output = tool
        .command(settings)
        .arg("--list")
        .arg(file)
        .stdout(std::process::Stdio::piped())
        .output()
        .await
        .ok()?;
    if !output.status.success() {
        return None;
    }
    let items = toc_items(&String::from_utf8_lossy(&output.stdout));
    (items > 0).then_some(items)
}

/// The entries of a `pg_restore --list`: its lines that are not comments (`;`) or empty.
fn toc_items(list: &str) -> u64 {
    list.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(';'))
        .count() as u64
}

/// What one line of `pg_restore --verbose` says.
#[derive(Debug, PartialEq, Eq)]
enum Said {
    /// An item of the archive restored (or, serially, being restored).
    ItemDone,
    /// Another progress line (`launching item`, `connecting to database`, ...).
    Chatter,
    /// Anything else: a warning, an error and its context, which an error quotes.
    Other,
}

/// Serially, pg_restore names each item as it begins it (`creating TABLE`, `processing data
/// for table`, `executing SEQUENCE SET`); with `--jobs` above 1, the items before the parallel
/// part as `processing item N` (followed by their `creating` line), and the parallel ones as
/// `launching item N` and `finished item N`.
fn restore_said(line: &str, parallel: bool) -> Said {
    let Some(said) = line.strip_prefix("pg_restore: ") else {
        return Said::Other;
    };
    let starts = |prefixes: &[&str]| prefixes.iter().any(|p| said.starts_with(p));
    let done = match parallel {
        true => starts(&[
            "processing item ",
            "processing missed item ",
            "finished item ",
        ]),
        false => starts(&["creating ", "processing data for table ", "executing "]),
    };
    if done {
        Said::ItemDone
    } else if starts(&[
        "connecting to database",
        "creating ",
        "processing ",
        "executing ",
        "launching item ",
        "finished item ",
        "entering main parallel loop",
        "finished main parallel loop",
    ]) {
        Said::Chatter
    } else {
        Said::Other
    }
}

/// A plain dump through psql, fed by crm (decompressing a `.gz` itself) without a shell.
async fn psql(settings: &ConnSettings, file: &Path, kind: ArchiveKind, target: &str) -> Result<()> {
    let tool = Tool::find("psql").await?;
    if !tool.version.psql_has_restrict() {
        anyhow::bail!(
            "{} is version {}, which lacks \\restrict, and crm restores plain dumps only with \
             psql's meta-commands restricted: install a PostgreSQL client of August 2025 or later \
             (13.22, 14.19, 15.14, 16.10, 17.6)",
            tool.path.display(),
            tool.version
        );
    }
    let key = random_key()?;
    let mut cmd = tool.command(settings);
    cmd.args([
        "-X",
        "-q",
        "-v",
        "ON_ERROR_STOP=1",
        "--single-transaction",
        "--no-password",
    ])
    .arg("--dbname")
    .arg(tools::dbname_conninfo(target))
    .arg("-c")
    .arg(format!("\\restrict {key}"))
    .args(["-f", "-"])
    .stdin(std::process::Stdio::piped());
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", tool.path.display()))?;
    let mut stdin = child
        .stdin
        .take()
        .context("psql's standard input is not a pipe")?;

    let (tx, mut rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, String>>(8);
    let path = file.to_path_buf();
    // The owners a file names are never restored (see Restorer).
    let reader = tokio::task::spawn_blocking(move || feed(&path, kind, true, &tx));
    let mut failed: Option<anyhow::Error> = None;
    while let Some(chunk) = rx.recv().await {
        match chunk {
            Ok(bytes) => {
                if stdin.write_all(&bytes).await.is_err() {
                    // psql stopped reading: its own error says why.
                    break;
                }
            }
            Err(e) => {
                failed = Some(error::usage(e));
                break;
            }
        }
    }
    drop(rx);
    let _ = reader.await;
    if let Some(e) = failed {
        // Killed, not ended: at the end of its input psql would commit what it had.
        let _ = child.kill().await;
        return Err(e);
    }
    drop(stdin);
    let finished = tools::finish(child).await?;
    if !finished.status.success() {
        let mut e = finished.failure(&tool, &format!("restoring into \"{target}\""));
        if finished
            .stderr
            .contains("backslash commands are restricted")
        {
            e = error::usage(format!("{e:#}"))
                .context("the dump holds a psql meta-command, which crm does not run from a file");
        } else if needs_more_rights(&finished.stderr) {
            e = more_rights(e);
        }
        return Err(e);
    }
    Ok(())
}

/// Reads the dump (decompressing a gzip), line by line, into `tx`. The dump's own
/// `\restrict KEY` header line and its matching `\unrestrict KEY` are left out: crm's
/// restriction, with its own key, stays on for the whole file. With `no_owner`, the
/// `ALTER ... OWNER TO ...;` statements pg_dump writes (one line each) are left out too, outside
/// COPY data, as `pg_restore --no-owner` leaves them out of an archive.
fn feed(
    path: &Path,
    kind: ArchiveKind,
    no_owner: bool,
    tx: &tokio::sync::mpsc::Sender<Result<Vec<u8>, String>>,
) {
    let shown = path.display().to_string();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => {
            let _ = tx.blocking_send(Err(format!("cannot open {shown}: {e}")));
            return;
        }
    };
    let raw: Box<dyn std::io::Read> = match kind {
        ArchiveKind::PlainGzip => Box::new(flate2::read::MultiGzDecoder::new(
            std::io::BufReader::with_capacity(1 << 16, file),
        )),
        _ => Box::new(file),
    };
    let mut lines = std::io::BufReader::with_capacity(1 << 16, raw);
    let mut header = true;
    let mut dump_key: Option<Vec<u8>> = None;
    let mut in_copy = false;
    let mut chunk = Vec::with_capacity(1 << 16);
    let mut line = Vec::new();
    loop {
        line.clear();
        match lines.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = tx.blocking_send(Err(format!(
                    "{shown} cannot be read in full ({e}): it is truncated or damaged"
                )));
                return;
            }
        }
        let text = trim_newline(&line);
        if header {
            if let Some(key) = text.strip_prefix(b"\\restrict ") {
                dump_key = Some(key.to_vec());
                header = false;
                continue;
            }
            if !(text.is_empty() || text.starts_with(b"--")) {
                header = false;
            }
        } else if let Some(key) = &dump_key
            && text.strip_prefix(b"\\unrestrict ") == Some(key.as_slice())
        {
            continue;
        }
        if in_copy {
            in_copy = text != b"\\.";
        } else if text.starts_with(b"COPY ") && text.ends_with(b" FROM stdin;") {
            in_copy = true;
        } else if no_owner && is_owner_statement(text) {
            continue;
        }
        chunk.extend_from_slice(&line);
        if chunk.len() >= 1 << 16 {
            if tx.blocking_send(Ok(std::mem::take(&mut chunk))).is_err() {
                return;
            }
            chunk.reserve(1 << 16);
        }
    }
    if !chunk.is_empty() {
        let _ = tx.blocking_send(Ok(chunk));
    }
}

/// `ALTER TABLE public."Users" OWNER TO postgres;` and the like, as pg_dump writes them.
fn is_owner_statement(line: &[u8]) -> bool {
    line.starts_with(b"ALTER ")
        && line.ends_with(b";")
        && line.windows(10).any(|w| w == b" OWNER TO ")
}

fn trim_newline(line: &[u8]) -> &[u8] {
    let line = line.strip_suffix(b"\n").unwrap_or(line);
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// 32 hex characters from the system's random source.
fn random_key() -> Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 16];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("cannot read /dev/urandom")?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Checks the restored database: every crm table there, a migration history no newer than this
/// crm knows. Returns `8 tables, 1234 rows`.
async fn inspect(client: &Client) -> Result<String> {
    let present: Vec<String> = db::query(
        client,
        "SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace \
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') AND c.relname = ANY($1)",
        &[&db::CRM_TABLES.as_slice()],
    )
    .await
    .context("cannot read the restored database's tables")?
    .iter()
    .map(|r| r.get(0))
    .collect();
    let missing: Vec<&str> = db::CRM_TABLES
        .iter()
        .copied()
        .filter(|t| !present.iter().any(|p| p == t))
        .collect();
    if !missing.is_empty() {
        return Err(error::usage(format!(
            "the backup is not a CRM database: it has no table {}",
            missing
                .iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let newest = crate::db::schema::latest_applied(client)
        .await
        .context("cannot read the restored migration history")?;
    let known = crate::db::schema::latest_known_version();
    if let Some((newest, _)) = newest.filter(|&(n, _)| n > known) {
        return Err(error::usage(format!(
            "the backup was migrated by a newer crm (migration {newest}; this crm knows up to \
             {known}): restore it with that crm"
        )));
    }
    let mut rows = 0;
    for table in db::CRM_TABLES {
        let n: i64 = db::query_one(client, &format!("SELECT count(*) FROM \"{table}\""), &[])
            .await
            .with_context(|| format!("cannot count the restored \"{table}\""))?
            .get(0);
        rows += n;
    }
    Ok(format!(
        "{} tables, {}",
        db::CRM_TABLES.len(),
        crate::output::counted(rows, "row", "rows")
    ))
}

/// The live database's state and the session's rights, as the swap needs them.
const SWAP_RIGHTS: &str = "SELECT r.rolsuper, r.rolcreatedb, \
            pg_has_role(current_user, d.datdba, 'USAGE'), \
            pg_get_userbyid(d.datdba)::text, current_user::text \
     FROM pg_roles r, pg_database d WHERE r.rolname = current_user AND d.datname = $1";

/// The roles with sessions on a database that the current role cannot end: a superuser's
/// only a superuser can; another role's needs its privileges or pg_signal_backend's.
const UNENDABLE_SESSIONS: &str = "SELECT DISTINCT r.rolname::text, r.rolsuper \
     FROM pg_stat_activity a JOIN pg_roles r ON r.oid = a.usesysid \
     WHERE a.datname = $1 AND a.pid <> pg_backend_pid() \
       AND NOT (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) \
       AND (r.rolsuper OR NOT (pg_has_role(current_user, r.oid, 'USAGE') \
                              OR pg_has_role(current_user, 'pg_signal_backend', 'USAGE'))) \
     ORDER BY 1";

/// Before anything changes: whether this session may rename the live database (its owner with
/// CREATEDB, or a superuser) and end the sessions on it that exist now. A session that arrives
/// later and cannot be ended makes the swap fail, which then puts everything back.
async fn check_swap_rights(admin: &Client, live: &str) -> Result<()> {
    let row = db::query(admin, SWAP_RIGHTS, &[&live])
        .await
        .context("cannot read the rights a restore needs")?
        .into_iter()
        .next()
        .ok_or_else(|| error::not_found(format!("database \"{live}\" does not exist")))?;
    let (superuser, createdb, owns): (bool, bool, bool) = (row.get(0), row.get(1), row.get(2));
    let (owner, me): (String, String) = (row.get(3), row.get(4));
    if superuser {
        return Ok(());
    }
    if !owns {
        anyhow::bail!(
            "replacing it means renaming it, which only its owner (\"{owner}\") or a superuser \
             may do, and role \"{me}\" is neither: restore with --into NAME instead, or connect \
             as its owner"
        );
    }
    if !createdb {
        anyhow::bail!(
            "replacing it means renaming it, which needs CREATEDB, and role \"{me}\" lacks it \
             (ALTER ROLE \"{me}\" CREATEDB)"
        );
    }
    let rows = db::query(admin, UNENDABLE_SESSIONS, &[&live])
        .await
        .context("cannot read the sessions on the database")?;
    let named = |superusers: bool| -> Vec<String> {
        rows.iter()
            .filter(|r| r.get::<_, bool>(1) == superusers)
            .map(|r| format!("\"{}\"", r.get::<_, String>(0)))
            .collect()
    };
    let (supers, others) = (named(true), named(false));
    if !supers.is_empty() {
        anyhow::bail!(
            "superuser {} has a session on it, which only a superuser may end, and role \
             \"{me}\" is not one: end it first, or restore as a superuser",
            supers.join(", ")
        );
    }
    if !others.is_empty() {
        let who = if others.len() == 1 { "role" } else { "roles" };
        anyhow::bail!(
            "{who} {} {} a session on it, which role \"{me}\" may not end: that needs \
             membership in pg_signal_backend (GRANT pg_signal_backend TO \"{me}\") or a \
             superuser",
            others.join(", "),
            if others.len() == 1 { "has" } else { "have" },
        );
    }
    Ok(())
}

/// A swap that failed: why, and, when the live database could not be put back as it was, the
/// statements that would do it.
struct SwapFailure {
    error: anyhow::Error,
    repair: Option<String>,
}

fn allow_connections(name: &str, on: bool) -> String {
    format!(
        "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {on}",
        db::quote_identifier(name)
    )
}

fn rename(from: &str, to: &str) -> String {
    format!(
        "ALTER DATABASE {} RENAME TO {}",
        db::quote_identifier(from),
        db::quote_identifier(to)
    )
}

const ALLOWS_CONNECTIONS: &str = "SELECT datallowconn FROM pg_database WHERE datname = $1";

/// Puts `target` in `live`'s place, keeping `live` as `old`. New connections to `live` are
/// refused while its sessions are ended and it is renamed. Renaming a database cannot be done
/// in a transaction: when a step fails, the steps before it are undone one by one, in reverse
/// order, and the failure says whether that succeeded.
async fn swap(
    ctx: &Context,
    admin: &Client,
    live: &str,
    target: &str,
    old: &str,
) -> std::result::Result<(), SwapFailure> {
    let plain = |error: anyhow::Error| SwapFailure {
        error,
        repair: None,
    };
    let allowed: bool = db::query_one(admin, ALLOWS_CONNECTIONS, &[&live])
        .await
        .map_err(|e| {
            plain(anyhow::Error::from(e).context(format!("cannot read database \"{live}\"")))
        })?
        .get(0);
    db::batch_execute(admin, &allow_connections(live, false))
        .await
        .map_err(|e| {
            plain(
                anyhow::Error::from(e)
                    .context(format!("cannot stop new connections to \"{live}\"")),
            )
        })?;
    // From here on, every failure undoes what was done: these statements, last first.
    let mut undo = vec![allow_connections(live, allowed)];
    if let Err(e) = rename_ending_sessions(admin, live, old).await {
        return Err(undone(admin, undo, e).await);
    }
    undo.push(rename(old, live));
    if let Err(e) = db::batch_execute(admin, &rename(target, live)).await {
        let e = anyhow::Error::from(e).context(format!("cannot rename \"{target}\" to \"{live}\""));
        return Err(undone(admin, undo, e).await);
    }
    // The kept database accepts connections again, as it did.
    if let Err(e) = db::batch_execute(admin, &allow_connections(old, allowed)).await {
        ctx.out.warn(format!(
            "the previous database \"{old}\" still refuses connections ({}): {};",
            error::render(&anyhow::Error::from(e)),
            allow_connections(old, allowed)
        ));
    }
    Ok(())
}

/// Renames `live` to `old`, ending its other sessions first (and again, while one remains).
async fn rename_ending_sessions(admin: &Client, live: &str, old: &str) -> Result<()> {
    let mut renamed = Err(anyhow::anyhow!("not tried"));
    for _ in 0..10 {
        db::query(admin, TERMINATE, &[&live])
            .await
            .with_context(|| format!("cannot end the other sessions on \"{live}\""))?;
        match db::batch_execute(admin, &rename(live, old)).await {
            Ok(()) => return Ok(()),
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                renamed = Err(anyhow::Error::from(e));
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            }
            Err(e) => {
                renamed = Err(anyhow::Error::from(e));
                break;
            }
        }
    }
    renamed.with_context(|| format!("cannot rename \"{live}\" to \"{old}\""))
}

/// Runs `undo` last first after `error`; what could not be run is the failure's repair.
async fn undone(admin: &Client, undo: Vec<String>, error: anyhow::Error) -> SwapFailure {
    let mut left = Vec::new();
    for statement in undo.into_iter().rev() {
        if !left.is_empty() || db::batch_execute(admin, &statement).await.is_err() {
            left.push(format!("{statement};"));
        }
    }
    SwapFailure {
        error,
        repair: (!left.is_empty()).then(|| left.join(" ")),
    }
}

/// A database's owner and connection limit.
const OWNER: &str = "SELECT pg_get_userbyid(datdba)::text, datconnlimit FROM pg_database \
     WHERE datname = $1";

/// A database's privileges, the default ones spelt out: grantor, grantee (NULL for PUBLIC),
/// privilege, with grant option.
const PRIVILEGES: &str = "SELECT pg_get_userbyid(a.grantor)::text, \
            CASE WHEN a.grantee = 0 THEN NULL ELSE pg_get_userbyid(a.grantee)::text END, \
            a.privilege_type, a.is_grantable \
     FROM pg_database d, aclexplode(coalesce(d.datacl, acldefault('d', d.datdba))) a \
     WHERE d.datname = $1 ORDER BY 1, 2, 3";

/// A database's settings (`ALTER DATABASE ... SET`, role NULL) and its roles' settings in it
/// (`ALTER ROLE ... IN DATABASE ... SET`), each as `name=value`.
const SETTINGS: &str = "SELECT CASE WHEN s.setrole = 0 THEN NULL \
                 ELSE pg_get_userbyid(s.setrole)::text END, c \
     FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase, \
          unnest(s.setconfig) WITH ORDINALITY AS u(c, n) \
     WHERE d.datname = $1 ORDER BY s.setrole, u.n";

/// Settings whose value is a list of quoted names, which `pg_db_role_setting` keeps in its
/// quoted form: they are given back element by element, as pg_dumpall does.
const LIST_SETTINGS: [&str; 6] = [
    "local_preload_libraries",
    "search_path",
    "session_preload_libraries",
    "shared_preload_libraries",
    "temp_tablespaces",
    "unix_socket_directories",
];

/// Gives `target` the owner, connection limit, privileges and settings (its own and its roles'
/// in it) of `live`, replacing whatever it had, in one transaction. Returns a summary.
async fn copy_properties(admin: &Client, live: &str, target: &str) -> Result<String> {
    let read = |what: &'static str| move |e| anyhow::Error::from(e).context(what);
    let row = db::query_one(admin, OWNER, &[&live])
        .await
        .map_err(read("cannot read the live database's owner"))?;
    let (owner, limit): (String, i32) = (row.get(0), row.get(1));
    let privileges = db::query(admin, PRIVILEGES, &[&live])
        .await
        .map_err(read("cannot read the live database's privileges"))?;
    let settings = db::query(admin, SETTINGS, &[&live])
        .await
        .map_err(read("cannot read the live database's settings"))?;
    let theirs = db::query(admin, PRIVILEGES, &[&target])
        .await
        .map_err(read("cannot read the restored database's privileges"))?;
    let their_settings = db::query(admin, SETTINGS, &[&target])
        .await
        .map_err(read("cannot read the restored database's settings"))?;

    let database = db::quote_identifier(target);
    let grantee =
        |name: Option<String>| name.map_or("PUBLIC".to_string(), |n| db::quote_identifier(&n));
    let mut sql = vec![
        format!(
            "ALTER DATABASE {database} OWNER TO {}",
            db::quote_identifier(&owner)
        ),
        format!("ALTER DATABASE {database} CONNECTION LIMIT {limit}"),
        format!("ALTER DATABASE {database} RESET ALL"),
        format!("REVOKE ALL ON DATABASE {database} FROM PUBLIC CASCADE"),
        format!(
            "REVOKE ALL ON DATABASE {database} FROM {} CASCADE",
            db::quote_identifier(&owner)
        ),
    ];
    for row in &theirs {
        if let Some(name) = row.get::<_, Option<String>>(1) {
            sql.push(format!(
                "REVOKE ALL ON DATABASE {database} FROM {} CASCADE",
                db::quote_identifier(&name)
            ));
        }
    }
    for row in &their_settings {
        if let Some(role) = row.get::<_, Option<String>>(0) {
            sql.push(format!(
                "ALTER ROLE {} IN DATABASE {database} RESET ALL",
                db::quote_identifier(&role)
            ));
        }
    }
    for row in &privileges {
        let grantor: String = row.get(0);
        let privilege: String = row.get(2);
        let option = if row.get::<_, bool>(3) {
            " WITH GRANT OPTION"
        } else {
            ""
        };
        let grant = format!(
            "GRANT {privilege} ON DATABASE {database} TO {}{option}",
            grantee(row.get(1))
        );
        // A privilege granted by another than the owner is granted again by that role.
        if grantor == owner {
            sql.push(grant);
        } else {
            sql.push(format!("SET ROLE {}", db::quote_identifier(&grantor)));
            sql.push(grant);
            sql.push("RESET ROLE".to_string());
        }
    }
    for row in &settings {
        let config: String = row.get(1);
        let Some((name, value)) = config.split_once('=') else {
            continue;
        };
        let value = if LIST_SETTINGS.contains(&name) {
            list_setting(value)
        } else {
            db::quote_literal(value)
        };
        sql.push(match row.get::<_, Option<String>>(0) {
            None => format!("ALTER DATABASE {database} SET {name} TO {value}"),
            Some(role) => format!(
                "ALTER ROLE {} IN DATABASE {database} SET {name} TO {value}",
                db::quote_identifier(&role)
            ),
        });
    }
    // One simple query: one transaction, all of it or nothing.
    db::batch_execute(admin, &sql.join(";\n")).await.context(
        "cannot give the restored database the live one's owner, privileges and settings",
    )?;
    Ok(format!(
        "owner \"{owner}\", {}, {}",
        crate::output::counted(
            i64::try_from(privileges.len()).unwrap_or(i64::MAX),
            "privilege",
            "privileges"
        ),
        crate::output::counted(
            i64::try_from(settings.len()).unwrap_or(i64::MAX),
            "setting",
            "settings"
        )
    ))
}

/// A list setting as `pg_db_role_setting` keeps it (`"$user", public`) as the literals
/// `ALTER ... SET` takes (`'$user', 'public'`): elements split at commas outside double quotes,
/// a quoted one unquoted (`""` is a quote), a bare one trimmed.
fn list_setting(value: &str) -> String {
    if value.trim().is_empty() {
        return "''".to_string();
    }
    let mut elements = Vec::new();
    let mut chars = value.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        let mut element = String::new();
        if chars.next_if_eq(&'"').is_some() {
            while let Some(c) = chars.next() {
                if c == '"' {
                    if chars.next_if_eq(&'"').is_some() {
                        element.push('"');
                    } else {
                        break;
                    }
                } else {
                    element.push(c);
                }
            }
            while chars.next_if(|&c| c != ',').is_some() {}
        } else {
            while let Some(c) = chars.next_if(|&c| c != ',') {
                element.push(c);
            }
            element = element.trim().to_string();
        }
        elements.push(db::quote_literal(&element));
        if chars.next().is_none() {
            break;
        }
    }
    elements.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines as pg_restore 15 prints them with --verbose, serially and with --jobs=2.
    #[test]
    fn each_item_pg_restore_says_it_restored_moves_the_bar_once() {
        let serial = "pg_restore: connecting to database for restore
pg_restore: creating EXTENSION \"pg_trgm\"
pg_restore: creating TABLE \"public.Customers\"
pg_restore: creating SEQUENCE OWNED BY \"public.Customers_id_seq\"
pg_restore: processing data for table \"public.Customers\"
pg_restore: executing SEQUENCE SET Customers_id_seq
pg_restore: creating INDEX \"public.customers_email_idx\"
pg_restore: creating FK CONSTRAINT \"public.Orders Orders_customerId_fkey\"";
        let done = |text: &str, parallel| {
            text.lines()
                .filter(|l| restore_said(l, parallel) == Said::ItemDone)
                .count()
        };
        assert_eq!(done(serial, false), 7);
        let parallel = "pg_restore: connecting to database for restore
pg_restore: processing item 3540 ENCODING ENCODING
pg_restore: processing item 223 TABLE Customers
pg_restore: creating TABLE \"public.Customers\"
pg_restore: entering main parallel loop
pg_restore: launching item 3529 TABLE DATA Customers
pg_restore: launching item 3340 INDEX customers_email_idx
pg_restore: processing data for table \"public.Customers\"
pg_restore: creating INDEX \"public.customers_email_idx\"
pg_restore: finished item 3529 TABLE DATA Customers
pg_restore: finished item 3340 INDEX customers_email_idx
pg_restore: finished main parallel loop";
        assert_eq!(done(parallel, true), 4);
        for line in parallel.lines() {
            assert_ne!(restore_said(line, true), Said::Other, "{line}");
        }
        // What an error quotes stays.
        for line in [
            "pg_restore: error: could not execute query: ERROR:  permission denied",
            "pg_restore: from TOC entry 223; 1259 16408 TABLE Customers postgres",
            "Command was: CREATE TABLE public.x ();",
            "pg_restore: warning: errors ignored on restore: 1",
        ] {
            assert_eq!(restore_said(line, true), Said::Other, "{line}");
            assert_eq!(restore_said(line, false), Said::Other, "{line}");
        }
    }

    #[test]
    fn the_archive_items_are_the_lists_lines_that_are_not_comments() {
        let list = ";
; Archive created at 2026-12-06 05:03:55 UTC
;     TOC Entries: 111
;
2; 3079 16532 EXTENSION - pg_trgm
3544; 0 0 COMMENT - EXTENSION pg_trgm

223; 1259 16408 TABLE public Customers postgres
";
        assert_eq!(toc_items(list), 3);
    }

    #[test]
    fn list_settings_are_given_back_element_by_element() {
        assert_eq!(list_setting("\"$user\", public"), "'$user', 'public'");
        assert_eq!(list_setting("\"a, \"\"b\"\"\", c "), "'a, \"b\"', 'c'");
        assert_eq!(list_setting("it's"), "'it''s'");
        assert_eq!(list_setting(""), "''");
    }

    #[test]
    fn derived_names_fit_postgresql_limit() {
        let long = "d".repeat(70);
        let name = derived_name(&long, "_before_restore_20261202_013000");
        assert_eq!(name.len(), MAX_NAME);
        assert!(name.ends_with("_before_restore_20261202_013000"));
        assert_eq!(derived_name("crm", "_x"), "crm_x");
        assert_eq!(derived_name(&"é".repeat(40), "_x").len(), 63 - 1);
    }

    #[test]
    fn into_names_are_plain_identifiers() {
        assert!(check_name("crm_copy2").is_ok());
        for bad in ["", "2crm", "a-b", "a\"b", &"x".repeat(64)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
    }

    fn fed(text: &str, no_owner: bool) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sql");
        std::fs::write(&path, text).unwrap();
        let (tx, mut rx) = tokio::sync::mpsc::channel(8);
        feed(&path, ArchiveKind::Plain, no_owner, &tx);
        drop(tx);
        let mut out = Vec::new();
        while let Some(chunk) = rx.blocking_recv() {
            out.extend(chunk.unwrap());
        }
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn the_dumps_own_restrict_lines_are_left_out() {
        assert_eq!(
            fed(
                "--\n-- dump\n\\restrict abc\nSET x = 1;\nCOPY t FROM stdin;\n\\N\tz\n\\.\n\\unrestrict abc\n",
                false
            ),
            "--\n-- dump\nSET x = 1;\nCOPY t FROM stdin;\n\\N\tz\n\\.\n"
        );
    }

    #[test]
    fn no_owner_leaves_out_owner_statements_but_never_copy_data() {
        let dump = "ALTER TABLE public.t OWNER TO bob;\nCOPY t (a) FROM stdin;\n\
                    ALTER x OWNER TO y;\n\\.\nALTER SEQUENCE public.s OWNER TO bob;\nSELECT 1;\n";
        assert_eq!(
            fed(dump, true),
            "COPY t (a) FROM stdin;\nALTER x OWNER TO y;\n\\.\nSELECT 1;\n"
        );
        assert_eq!(fed(dump, false), dump);
    }
}
