//! `crm notify list`, `show` and `read`: a user's inbox (newest first, with read state), every
//! notification with its recipient and read counts, one notification with each recipient, and
//! marking read. Marking is idempotent: a read entry keeps its first `readAt`.

use crate::commands::listing::{self, Filter, Listing, order_by};
use crate::commands::users::{self, User};
use crate::context::Context;
use crate::db;
use crate::db::label;
use crate::db::tx::snapshot;
use crate::error;
use crate::output::counted;
use crate::output::{Rows, Value};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;
use time::OffsetDateTime;
use tokio_postgres::{GenericClient, Row};

#[derive(Debug, Args)]
pub struct InboxArgs {
    #[command(flatten)]
    pub list: listing::ListArgs,

    /// This user's inbox (an id or e-mail); without it, every notification
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,

    /// Only notifications the user has not read
    #[arg(long, requires = "user")]
    pub unread: bool,

    /// Only notifications of this type
    #[arg(long = "type", value_name = "TYPE", value_parser = flag::notification_type)]
    pub kind: Option<String>,

    /// Only notifications created at or after this time: a date (2025-07-01, its midnight UTC),
    /// an RFC 3339 time, today or yesterday (midnight UTC), or an age before now (7d, 24h)
    #[arg(long, value_name = "WHEN", value_parser = flag::timestamp)]
    pub since: Option<OffsetDateTime>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The notification's id
    #[arg(value_parser = flag::notification_id, allow_negative_numbers = true)]
    pub id: i32,
}

#[derive(Debug, Args)]
#[group(id = "which", required = true, multiple = false)]
pub struct Which {
    /// The notification's id
    #[arg(value_parser = flag::notification_id, allow_negative_numbers = true)]
    pub id: Option<i32>,

    /// Every unread notification of the user
    #[arg(long)]
    pub all: bool,
}

#[derive(Debug, Args)]
pub struct ReadArgs {
    #[command(flatten)]
    pub which: Which,

    /// The user who read it (an id or e-mail)
    #[arg(long, value_name = "USER", required = true)]
    pub user: String,
}

/// The columns of an inbox.
const INBOX_COLUMNS: &[&str] = &[
    "id",
    "type",
    "title",
    "message",
    "priority",
    "data",
    "createdBy",
    "isRead",
    "readAt",
    "createdAt",
];

/// Each inbox entry with its notification; `userId` is for the filter. A NULL `isRead` is the
/// column's default, unread.
const INBOX_FROM: &str = r#"(SELECT n."id", n."type", n."title", n."message", n."priority",
        n."data", n."createdBy", COALESCE(un."isRead", false) AS "isRead", un."readAt",
        n."createdAt", un."userId"
    FROM "UserNotifications" un JOIN "Notifications" n ON n."id" = un."notificationId")
    AS "inbox""#;

/// The columns of the list of every notification.
const ALL_COLUMNS: &[&str] = &[
    "id",
    "type",
    "title",
    "priority",
    "createdBy",
    "recipients",
    "readCount",
    "createdAt",
];

const ALL_FROM: &str = r#"(SELECT n."id", n."type", n."title", n."message", n."priority",
        n."createdBy", count(un."id") AS "recipients",
        count(un."id") FILTER (WHERE un."isRead") AS "readCount", n."createdAt"
    FROM "Notifications" n
    LEFT JOIN "UserNotifications" un ON un."notificationId" = n."id"
    GROUP BY n."id") AS "notifications""#;

/// What `--search` matches.
const SEARCH: &[&str] = &[r#""title""#, r#""message""#];

/// Newest first.
const NEWEST_FIRST: &str = r#""createdAt" DESC, "id" DESC"#;

pub async fn list(ctx: &Context, args: InboxArgs) -> Result<()> {
    let mut filter = Filter::new();
    let client = ctx.read_db().await?.get().await?;
    let user = match &args.user {
        Some(who) => Some(users::resolve(&**client, who).await?),
        None => None,
    };
    if let Some(user) = &user {
        filter.and(r#""userId" = $?"#, user.id);
    }
    if args.unread {
        filter.and_sql(r#"NOT "isRead""#);
    }
    if let Some(kind) = &args.kind {
        filter.and(r#""type" = $?"#, kind.clone());
    }
    if let Some(since) = args.since {
        filter.and(r#""createdAt" >= $?"#, since);
    }
    if let Some(text) = &args.list.search {
        filter.search(SEARCH, text);
    }
    let columns = if user.is_some() {
        INBOX_COLUMNS
    } else {
        ALL_COLUMNS
    };
    let order = match &args.list.sort {
        Some(_) => order_by(args.list.sort.as_deref(), columns, "id")?,
        None => NEWEST_FIRST.to_string(),
    };
    if user.is_some() {
        let listing = Listing {
            columns: INBOX_COLUMNS,
            select: &select_list(INBOX_COLUMNS),
            from: INBOX_FROM,
            noun: "notifications",
        };
        listing
            .print(ctx, &**client, &filter, &order, &args.list, inbox_values)
            .await
    } else {
        let listing = Listing {
            columns: ALL_COLUMNS,
            select: &select_list(ALL_COLUMNS),
            from: ALL_FROM,
            noun: "notifications",
        };
        listing
            .print(ctx, &**client, &filter, &order, &args.list, all_values)
            .await
    }
}

/// `"id", "type", ...` of columns the code controls; the priority, an ENUM on the
/// application's schema, as text (see `Table::select_list`).
fn select_list(columns: &[&str]) -> String {
    columns
        .iter()
        .map(|c| match *c {
            "priority" => r#""priority"::text AS "priority""#.to_string(),
            c => format!("\"{c}\""),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn json(row: &Row, column: &str) -> Result<Value> {
    let data: Option<serde_json::Value> = row.try_get(column)?;
    Ok(data.map_or(Value::Null, Value::Json))
}

fn inbox_values(row: &Row) -> Result<Vec<Value>> {
    Ok(vec![
        row.try_get::<_, i32>("id")?.into(),
        row.try_get::<_, String>("type")?.into(),
        row.try_get::<_, String>("title")?.into(),
        row.try_get::<_, String>("message")?.into(),
        label::text(row, "priority")?.into(),
        json(row, "data")?,
        int_or_null(row.try_get("createdBy")?),
        Value::Bool(row.try_get("isRead")?),
        row.try_get::<_, Option<OffsetDateTime>>("readAt")?.into(),
        Value::Time(row.try_get("createdAt")?),
    ])
}

fn all_values(row: &Row) -> Result<Vec<Value>> {
    Ok(vec![
        row.try_get::<_, i32>("id")?.into(),
        row.try_get::<_, String>("type")?.into(),
        row.try_get::<_, String>("title")?.into(),
        label::text(row, "priority")?.into(),
        int_or_null(row.try_get("createdBy")?),
        row.try_get::<_, i64>("recipients")?.into(),
        row.try_get::<_, i64>("readCount")?.into(),
        Value::Time(row.try_get("createdAt")?),
    ])
}

fn int_or_null(v: Option<i32>) -> Value {
    v.map_or(Value::Null, Value::from)
}

/// The columns of `show`.
const SHOW_COLUMNS: &[&str] = &[
    "id",
    "type",
    "title",
    "message",
    "priority",
    "data",
    "createdBy",
    "createdAt",
    "updatedAt",
];

const SELECT_NOTIFICATION: &str = r#"SELECT "id", "type", "title", "message", "priority"::text AS "priority", "data",
        "createdBy", "createdAt", "updatedAt"
    FROM "Notifications" WHERE "id" = $1"#;

/// The columns of each recipient in `show`.
const RECIPIENT_COLUMNS: &[&str] = &["userId", "email", "isRead", "readAt"];

const SELECT_RECIPIENTS: &str = r#"SELECT un."userId", u."email",
        COALESCE(un."isRead", false) AS "isRead", un."readAt"
    FROM "UserNotifications" un LEFT JOIN "Users" u ON u."id" = un."userId"
    WHERE un."notificationId" = $1
    ORDER BY un."userId""#;

/// `show`: the notification's fields, then its recipients with their read state (a `recipients`
/// array in CSV and JSON).
pub async fn show(ctx: &Context, args: ShowArgs) -> Result<()> {
    let mut client = ctx.read_db().await?.get().await?;
    let tx = snapshot(&mut client).await?;
    let row = db::query(&*tx, SELECT_NOTIFICATION, &[&args.id])
        .await
        .context("cannot read the notification")?
        .into_iter()
        .next()
        .ok_or_else(|| not_found(args.id))?;
    let values = vec![
        row.try_get::<_, i32>("id")?.into(),
        row.try_get::<_, String>("type")?.into(),
        row.try_get::<_, String>("title")?.into(),
        row.try_get::<_, String>("message")?.into(),
        label::text(&row, "priority")?.into(),
        json(&row, "data")?,
        int_or_null(row.try_get("createdBy")?),
        Value::Time(row.try_get("createdAt")?),
        Value::Time(row.try_get("updatedAt")?),
    ];
    let recipients = db::query(&*tx, SELECT_RECIPIENTS, &[&args.id])
        .await
        .context("cannot read the notification's recipients")?;
    tx.commit().await?;
    let recipients = recipients
        .iter()
        .map(Recipient::try_from)
        .collect::<Result<Vec<_>>>()?;
    let mut rows = Rows::new(RECIPIENT_COLUMNS);
    for r in &recipients {
        rows.push(r.values());
    }
    ctx.out
        .record_with(SHOW_COLUMNS, &values, &[("recipients", &rows)])
}

/// One recipient of a notification and its read state.
struct Recipient {
    user_id: Option<i32>,
    email: Option<String>,
    is_read: bool,
    read_at: Option<OffsetDateTime>,
}

impl TryFrom<&Row> for Recipient {
    type Error = anyhow::Error;

    fn try_from(row: &Row) -> Result<Self> {
        Ok(Recipient {
            user_id: row.try_get("userId")?,
            email: row.try_get("email")?,
            is_read: row.try_get("isRead")?,
            read_at: row.try_get("readAt")?,
        })
    }
}

impl Recipient {
    /// The values of [`RECIPIENT_COLUMNS`].
    fn values(&self) -> Vec<Value> {
        vec![
            int_or_null(self.user_id),
            self.email.clone().into(),
            Value::Bool(self.is_read),
            self.read_at.into(),
        ]
    }
}

/// `notification 12 does not exist` (exit 3).
fn not_found(id: i32) -> anyhow::Error {
    error::not_found(format!("notification {id} does not exist"))
}

/// Marks one entry read, unless it is already.
const MARK_ONE: &str = r#"UPDATE "UserNotifications"
    SET "isRead" = true, "readAt" = now(), "updatedAt" = now()
    WHERE "userId" = $1 AND "notificationId" = $2 AND "isRead" IS NOT TRUE"#;

/// Marks every unread entry of the user read.
const MARK_ALL: &str = r#"UPDATE "UserNotifications"
    SET "isRead" = true, "readAt" = now(), "updatedAt" = now()
    WHERE "userId" = $1 AND "isRead" IS NOT TRUE"#;

/// Whether the notification exists, and the user's entry for it if there is one.
const ENTRY: &str = r#"SELECT un."id" AS "entry", un."readAt"
    FROM "Notifications" n
    LEFT JOIN "UserNotifications" un ON un."notificationId" = n."id" AND un."userId" = $1
    WHERE n."id" = $2"#;

const READ_COLUMNS: &[&str] = &["userId", "marked"];

pub async fn read(ctx: &Context, args: ReadArgs) -> Result<()> {
    let client = ctx.db().await?.get().await?;
    let user = users::resolve(&**client, &args.user).await?;
    let marked = match args.which.id {
        Some(id) => read_one(ctx, &**client, &user, id).await?,
        None => {
            let n = db::execute(&**client, MARK_ALL, &[&user.id])
                .await
                .context("cannot mark the notifications read")?;
            ctx.out.notice(format!(
                "marked {} read for user {}",
                counted(
                    i64::try_from(n).unwrap_or(i64::MAX),
                    "notification",
                    "notifications"
                ),
                user.describe()
            ));
            n
        }
    };
    ctx.out.record(
        READ_COLUMNS,
        &[
            user.id.into(),
            i64::try_from(marked).unwrap_or(i64::MAX).into(),
        ],
    )
}

/// Marks notification `id` read for `user`; exit 3 when it does not exist or was not sent to
/// the user. Returns how many entries changed (0 or 1).
async fn read_one(ctx: &Context, client: &impl GenericClient, user: &User, id: i32) -> Result<u64> {
    let n = db::execute(client, MARK_ONE, &[&user.id, &id])
        .await
        .context("cannot mark the notification read")?;
    if n > 0 {
        ctx.out.notice(format!(
            "marked notification {id} read for user {}",
            user.describe()
        ));
        return Ok(n);
    }
    let rows = db::query(client, ENTRY, &[&user.id, &id])
        .await
        .context("cannot read the notification")?;
    let row = rows.first().ok_or_else(|| not_found(id))?;
    if row.try_get::<_, Option<i32>>("entry")?.is_none() {
        return Err(error::not_found(format!(
            "notification {id} was not sent to user {}",
            user.describe()
        )));
    }
    let read_at: Option<OffsetDateTime> = row.try_get("readAt")?;
    ctx.out.notice(format!(
        "notification {id} was already read by user {}{}: nothing changed",
        user.describe(),
        read_at.map_or(String::new(), |t| format!(
            " at {}",
            crate::output::rfc3339_utc(t)
        ))
    ));
    Ok(0)
}
