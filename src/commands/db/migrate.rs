//! `crm db migrate [status | undo]`: the schema's migrations.
//!
//! Up scripts are refinery's (`migrations/V<n>__<name>.sql`, embedded), applied by refinery one
//! at a time, each together with its history row in one transaction. Refinery has no down
//! migrations: `undo` runs our `V<n>__<name>.down.sql` (embedded by build.rs) and deletes the
//! history rows, all in one transaction. Migrate and undo hold crm's schema advisory lock on a
//! dedicated connection for the whole run. A database made by the original Sequelize
//! application is adopted: the tables its `SequelizeMeta` lists are recorded as applied.
//!
//! This is the command; the migrations, their history and the schema lock are the schema
//! library's ([`crate::db::schema`]), which other commands use too.

use crate::commands::confirm::ConfirmArgs;
use crate::context::Context;
use crate::db::schema::{
    self, Known, Line, State, check_consistent, known, label, lines, read_history,
};
use crate::db::{self, LockArgs};
use crate::error;
use crate::error::ExitStatus;
use crate::output::{Rows, Value};
use anyhow::{Context as _, Result};
use clap::{Args, Subcommand};
use std::collections::HashSet;
use std::time::Instant;
use tokio_postgres::Client;

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

const SEQUELIZE_META_EXISTS: &str = "SELECT to_regclass('\"SequelizeMeta\"') IS NOT NULL";
const SELECT_SEQUELIZE_META: &str = "SELECT name FROM \"SequelizeMeta\"";
const TABLE_EXISTS: &str = "SELECT to_regclass(quote_ident($1)) IS NOT NULL";

pub async fn run(ctx: &Context, cmd: MigrateCommand) -> Result<ExitStatus> {
    match cmd.action {
        None => apply(ctx, cmd.apply).await.map(ExitStatus::from),
        Some(MigrateAction::Status { exit_code }) => status(ctx, exit_code).await,
        Some(MigrateAction::Undo(args)) => undo(ctx, args).await.map(ExitStatus::from),
    }
}

async fn status(ctx: &Context, exit_code: bool) -> Result<ExitStatus> {
    let database = ctx.db().await?;
    let client = database.get().await?;
    let applied = read_history(&**client).await?;
    let known = known();
    let lines = lines(&known, &applied);
    if applied.is_empty() && sequelize_meta_exists(&**client).await? {
        ctx.out.notice(
            "notice: this database was made by the original Sequelize application; \
             crm db migrate will adopt its tables",
        );
    }
    let mut rows = Rows::new(&["version", "name", "state", "appliedAt"]);
    for l in &lines {
        rows.push(vec![
            Value::Int(l.version.into()),
            l.name.clone().into(),
            l.state.as_str().into(),
            l.applied_on.into(),
        ]);
    }
    let done = lines.iter().filter(|l| l.state == State::Applied).count();
    rows.footer = Some(format!("{done} of {} migrations applied", lines.len()));
    ctx.out.rows(&rows)?;
    let clean = lines.iter().all(|l| l.state == State::Applied);
    Ok(if exit_code && !clean {
        ExitStatus::FOUND
    } else {
        ExitStatus::SUCCESS
    })
}

pub async fn apply(ctx: &Context, args: MigrateApplyArgs) -> Result<()> {
    let known = known();
    if let Some(to) = args.to
        && !known.iter().any(|k| i64::from(k.version) == i64::from(to))
    {
        return Err(error::usage(format!(
            "--to {to}: no such migration (this crm knows versions {})",
            version_range(&known)
        )));
    }
    let target = args.to.map(|t| t as i32);
    let database = ctx.session_db("db migrate").await?;
    schema::with_schema_lock(database, args.lock.no_wait, &ctx.out, async |client| {
        if !args.dry_run {
            adopt_sequelize(ctx, client, &known).await?;
        }
        let applied = read_history(&*client).await?;
        let lines = lines(&known, &applied);
        check_consistent(&lines)?;
        let current = applied.iter().map(|a| a.version).max().unwrap_or(0);
        let pending: Vec<&Known> = known
            .iter()
            .filter(|k| !applied.iter().any(|a| a.version == k.version))
            .filter(|k| target.is_none_or(|t| k.version <= t))
            .collect();
        if args.dry_run {
            let mut rows = Rows::new(&["version", "name"]);
            for k in &pending {
                rows.push(vec![Value::Int(k.version.into()), k.name.clone().into()]);
            }
            rows.footer = Some(format!("{} migrations would be applied", pending.len()));
            ctx.out.rows(&rows)?;
            return Ok(());
        }
        if pending.is_empty() {
            let note = match target {
                Some(t) if t < current => format!(
                    " (newer than --to {t}; crm db migrate undo --to {t} goes back)"
                ),
                _ => String::new(),
            };
            ctx.out
                .notice(format!("nothing to apply: the database is at version {current}{note}"));
            return Ok(());
        }
        for k in &pending {
            let started = Instant::now();
            schema::apply_up_to(client, k.version)
                .await
                .with_context(|| {
                    format!(
                        "migration {} failed and was rolled back; the migrations before it stay applied",
                        label(k.version, &k.name)
                    )
                })?;
            ctx.out.notice(format!(
                "applied {} ({} ms)",
                label(k.version, &k.name),
                started.elapsed().as_millis()
            ));
        }
        let last = pending.last().map_or(current, |k| k.version);
        ctx.out.notice(format!(
            "applied {} migration{}: the database is at version {last}",
            pending.len(),
            if pending.len() == 1 { "" } else { "s" }
        ));
        Ok(())
    })
    .await
}

fn version_range(known: &[Known]) -> String {
    match (known.first(), known.last()) {
        (Some(first), Some(last)) => format!("{} to {}", first.version, last.version),
        _ => "none".into(),
    }
}

async fn sequelize_meta_exists(client: &impl tokio_postgres::GenericClient) -> Result<bool> {
    Ok(db::query_one(client, SEQUELIZE_META_EXISTS, &[])
        .await?
        .get(0))
}

/// The table an up script creates (`CREATE TABLE "X"`), for adoption.
fn created_table(up: &str) -> Option<&str> {
    let rest = &up[up.find("CREATE TABLE \"")? + "CREATE TABLE \"".len()..];
    rest.split('"').next()
}

/// `20250101000001-create-users.js` -> `create_users`, the name of our matching migration.
fn sequelize_name(meta: &str) -> String {
    let stem = meta.strip_suffix(".js").unwrap_or(meta);
    let name = stem.split_once('-').map_or(stem, |(_, name)| name);
    name.replace('-', "_")
}

/// Records as applied the leading migrations whose tables the Sequelize application already
/// made (listed in `SequelizeMeta`, table present), so that migrating does not fail on
/// "already exists". Only on a database crm has never migrated.
async fn adopt_sequelize(ctx: &Context, client: &mut Client, known: &[Known]) -> Result<()> {
    if !sequelize_meta_exists(&*client).await? || !read_history(&*client).await?.is_empty() {
        return Ok(());
    }
    let listed: HashSet<String> = db::query(&*client, SELECT_SEQUELIZE_META, &[])
        .await
        .context("cannot read SequelizeMeta")?
        .iter()
        .map(|r| sequelize_name(r.get::<_, &str>(0)))
        .collect();
    let mut adopt = Vec::new();
    for k in known {
        if !listed.contains(&k.name) {
            break;
        }
        // A migration that creates a table is adopted only if the table is there; one that
        // creates none (V9, the performance indexes) on the application's word.
        if let Some(table) = created_table(&k.up) {
            let exists: bool = db::query_one(&*client, TABLE_EXISTS, &[&table])
                .await?
                .get(0);
            if !exists {
                break;
            }
        }
        adopt.push(k);
    }
    if adopt.is_empty() {
        return Ok(());
    }
    let tx = client.transaction().await?;
    schema::record_applied(&tx, &adopt).await?;
    tx.commit()
        .await
        .context("cannot record the adopted migrations")?;
    ctx.out.notice(format!(
        "adopted the original Sequelize application's schema: recorded V{} to V{} as applied \
         (its SequelizeMeta lists them, and their tables are there)",
        adopt[0].version,
        adopt[adopt.len() - 1].version
    ));
    Ok(())
}

async fn undo(ctx: &Context, args: UndoArgs) -> Result<()> {
    let known = known();
    let database = ctx.session_db("db migrate undo").await?;
    schema::with_schema_lock(database, args.lock.no_wait, &ctx.out, async |client| {
        let applied = read_history(&*client).await?;
        let lines = lines(&known, &applied);
        let mut newest_first: Vec<&Line> =
            lines.iter().filter(|l| l.state != State::Pending).collect();
        newest_first.reverse();
        let chosen: Vec<&Line> = if args.all {
            newest_first
        } else if let Some(to) = args.to {
            newest_first
                .into_iter()
                .filter(|l| i64::from(l.version) > i64::from(to))
                .collect()
        } else {
            let steps = args.steps.unwrap_or(1) as usize;
            if steps == 0 {
                return Err(error::usage("--steps must be at least 1"));
            }
            if steps > newest_first.len() {
                return Err(error::usage(format!(
                    "--steps {steps}: only {} migrations are applied",
                    newest_first.len()
                )));
            }
            newest_first.into_iter().take(steps).collect()
        };
        if chosen.is_empty() {
            ctx.out.notice("nothing to undo");
            return Ok(());
        }
        let mut scripts = Vec::new();
        for l in &chosen {
            let k = known.iter().find(|k| k.version == l.version);
            let down = match (l.state, k.and_then(|k| k.down)) {
                (State::Applied, Some(down)) => down,
                (State::Applied, None) => anyhow::bail!(
                    "migration {} has no down script: it cannot be undone",
                    label(l.version, &l.name)
                ),
                _ => anyhow::bail!(
                    "migration {} is {} (see crm db migrate status): its down script may not fit \
                     what was applied, so nothing was undone",
                    label(l.version, &l.name),
                    l.state.as_str()
                ),
            };
            scripts.push((*l, down));
        }
        let names: Vec<String> = chosen.iter().map(|l| label(l.version, &l.name)).collect();
        crate::commands::confirm::confirm(
            args.confirm,
            &format!(
                "undo {} migration{} of {} ({}), dropping what they created and the data in it?",
                chosen.len(),
                if chosen.len() == 1 { "" } else { "s" },
                database.settings.describe(),
                names.join(", ")
            ),
        )?;
        let tx = client.transaction().await?;
        for (l, down) in &scripts {
            db::batch_execute(&tx, down).await.with_context(|| {
                format!(
                    "the down script of {} failed; nothing was undone",
                    label(l.version, &l.name)
                )
            })?;
            schema::forget_applied(&tx, l.version).await?;
        }
        tx.commit().await.context("cannot commit the undo")?;
        for name in &names {
            ctx.out.notice(format!("undid {name}"));
        }
        let now_at = lines
            .iter()
            .filter(|l| l.state != State::Pending && !chosen.iter().any(|c| c.version == l.version))
            .map(|l| l.version)
            .max()
            .unwrap_or(0);
        ctx.out
            .notice(format!("the database is at version {now_at}"));
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sequelize_names_map_to_ours() {
        assert_eq!(
            sequelize_name("20250101000001-create-users.js"),
            "create_users"
        );
        assert_eq!(
            sequelize_name("20250101000008-create-notification-preferences.js"),
            "create_notification_preferences"
        );
        let known = known();
        for (i, k) in known.iter().take(8).enumerate() {
            assert!(created_table(&k.up).is_some(), "V{} creates a table", i + 1);
        }
        assert_eq!(created_table(&known[0].up), Some("Users"));
        assert_eq!(created_table(&known[8].up), None);
    }
}
