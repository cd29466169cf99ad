//! The cron jobs: `notify prune` (old notifications go, their inbox entries with them by the
//! schema's cascade), and the alerts `notify low-stock` and `notify stale-orders`.
//!
//! An alert is idempotent. Its content (what it lists, and the threshold or age) has a SHA-256
//! fingerprint stored in its `data`; a run whose content has the fingerprint of an alert of the
//! same type that some recipient has not read yet creates nothing. Each run holds
//! [`AdvisoryLock::Alerts`] for its transaction, and looks for that alert only once it holds
//! it, so that two runs at once (overlapping cron jobs) take turns and the second sees the
//! first's alert.

use super::Priority;
use super::deliver::{Audience, Delivery, NewNotification, deliver};
use crate::commands::users::Role;
use crate::context::Context;
use crate::db::{self, AdvisoryLock};
use crate::output::counted;
use crate::output::{Value, rfc3339_utc};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;
use rust_decimal::Decimal;
use serde_json::json;
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use tokio_postgres::GenericClient;

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Delete notifications created longer ago than this: a number and s, m, h, d or w (90d)
    #[arg(long, value_name = "AGE", value_parser = flag::age, allow_hyphen_values = true)]
    pub older_than: i64,

    /// Only notifications that every recipient has read
    #[arg(long)]
    pub read_only: bool,

    /// Count what would be deleted, delete nothing
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Debug, Args)]
pub struct LowStockArgs {
    /// Products with fewer than this many in stock (or an unknown stock) are low
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = flag::stock, allow_negative_numbers = true)]
    pub threshold: i32,
}

#[derive(Debug, Args)]
pub struct StaleOrdersArgs {
    /// Pending orders created longer ago than this are stale: a number and s, m, h, d or w
    #[arg(long, value_name = "AGE", default_value = "3d", value_parser = flag::age, allow_hyphen_values = true)]
    pub older_than: i64,
}

/// The notifications that prune would delete: `$1` seconds old, and with `$2` only those
/// without an unread entry; with the number of their inbox entries.
const PRUNABLE: &str = r#"SELECT n."id" FROM "Notifications" n
    WHERE n."createdAt" < now() - $1::int8 * interval '1 second'
      AND (NOT $2::bool OR NOT EXISTS (
            SELECT 1 FROM "UserNotifications" un
            WHERE un."notificationId" = n."id" AND un."isRead" IS NOT TRUE))"#;

/// The same notifications deleted (their entries go by the cascade), and how many entries
/// they had (as the statement's snapshot saw them, before the cascade).
fn prune_sql(dry_run: bool) -> String {
    let doomed = if dry_run {
        PRUNABLE.to_string()
    } else {
        format!(r#"DELETE FROM "Notifications" WHERE "id" IN ({PRUNABLE}) RETURNING "id""#)
    };
    format!(
        r#"WITH "doomed" AS ({doomed})
        SELECT (SELECT count(*) FROM "doomed") AS "notifications",
               (SELECT count(*) FROM "UserNotifications"
                WHERE "notificationId" IN (SELECT "id" FROM "doomed")) AS "entries""#
    )
}

const PRUNE_COLUMNS: &[&str] = &["notifications", "entries", "dryRun"];

pub async fn prune(ctx: &Context, args: PruneArgs) -> Result<()> {
    let client = ctx.db().await?.get().await?;
    let row = db::query_one(
        &**client,
        &prune_sql(args.dry_run),
        &[&args.older_than, &args.read_only],
    )
    .await
    .context("cannot prune the notifications")?;
    let notifications: i64 = row.try_get("notifications")?;
    let entries: i64 = row.try_get("entries")?;
    let what = format!(
        "{}{} older than {} (and their {})",
        counted(notifications, "notification", "notifications"),
        if args.read_only {
            " read by everyone"
        } else {
            ""
        },
        age_text(args.older_than),
        counted(entries, "inbox entry", "inbox entries"),
    );
    if args.dry_run {
        ctx.out.notice(format!(
            "would delete {what}; nothing was deleted (--dry-run)"
        ));
    } else {
        ctx.out.notice(format!("deleted {what}"));
    }
    ctx.out.record(
        PRUNE_COLUMNS,
        &[
            notifications.into(),
            entries.into(),
            Value::Bool(args.dry_run),
        ],
    )
}

/// 90 days, 12 hours, 90 seconds: an age as `--older-than` was given, in words.
fn age_text(seconds: i64) -> String {
    for (unit, singular, plural) in [
        (604_800, "week", "weeks"),
        (86_400, "day", "days"),
        (3_600, "hour", "hours"),
        (60, "minute", "minutes"),
    ] {
        if seconds % unit == 0 {
            return counted(seconds / unit, singular, plural);
        }
    }
    counted(seconds, "second", "seconds")
}

/// An alert to raise: its type, title, message, and the content its fingerprint is taken of
/// (which becomes its `data`, with the fingerprint added).
struct Alert {
    kind: &'static str,
    priority: Priority,
    title: String,
    message: String,
    content: serde_json::Map<String, serde_json::Value>,
}

/// The latest alert of this type and fingerprint that some recipient has not read.
const STILL_UNREAD: &str = r#"SELECT n."id" FROM "Notifications" n
    WHERE n."type" = $1 AND n."data"->>'fingerprint' = $2
      AND EXISTS (SELECT 1 FROM "UserNotifications" un
                  WHERE un."notificationId" = n."id" AND un."isRead" IS NOT TRUE)
    ORDER BY n."id" DESC LIMIT 1"#;

/// SHA-256 (hex) of the content's JSON text. serde_json keeps the keys in the order the code
/// put them in, so the same content always gives the same text.
fn fingerprint(content: &serde_json::Map<String, serde_json::Value>) -> String {
    let text = serde_json::Value::Object(content.clone()).to_string();
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

/// What [`raise`] did.
enum Raised {
    Sent(Delivery),
    /// The same alert, still unread, is this notification.
    Unchanged(i32),
    /// No admin would receive it (none, or all turned the type off): nothing written.
    Nobody,
}

/// Raises `alert` to the admins in `tx` (which holds the alerts lock), unless it is unchanged
/// and unread.
async fn raise(tx: &impl GenericClient, alert: Alert, created_by: Option<i32>) -> Result<Raised> {
    let fingerprint = fingerprint(&alert.content);
    let unread = db::query(tx, STILL_UNREAD, &[&alert.kind, &fingerprint])
        .await
        .context("cannot look for an earlier alert")?;
    if let Some(row) = unread.first() {
        return Ok(Raised::Unchanged(row.try_get("id")?));
    }
    let mut data = alert.content;
    data.insert("fingerprint".to_string(), fingerprint.into());
    let notification = NewNotification {
        kind: alert.kind.to_string(),
        title: alert.title,
        message: alert.message,
        data: Some(data.into()),
        priority: alert.priority,
        created_by,
    };
    let delivery = deliver(tx, &notification, &Audience::Role(Role::Admin)).await?;
    if delivery.recipients == 0 {
        return Ok(Raised::Nobody);
    }
    Ok(Raised::Sent(delivery))
}

/// Products under the threshold, an unknown (NULL) stock counting as low, in id order.
const LOW_STOCK: &str = r#"SELECT "id", "name", "stock" FROM "Products"
    WHERE "stock" < $1 OR "stock" IS NULL ORDER BY "id""#;

/// How many lines of an alert's message list items; `data` holds them all.
const MESSAGE_LINES: usize = 100;

pub async fn low_stock(ctx: &Context, args: LowStockArgs) -> Result<()> {
    let db = ctx.db().await?;
    let created_by = super::acting_user(ctx, db).await?;
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    AdvisoryLock::Alerts
        .acquire_for_transaction(&*tx, &ctx.out)
        .await?;
    let rows = db::query(&*tx, LOW_STOCK, &[&args.threshold])
        .await
        .context("cannot read the products")?;
    if rows.is_empty() {
        ctx.out.notice(format!(
            "no product has fewer than {} in stock: no alert",
            args.threshold
        ));
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut products = Vec::new();
    for row in &rows {
        let id: i32 = row.try_get("id")?;
        let name: String = row.try_get("name")?;
        let stock: Option<i32> = row.try_get("stock")?;
        lines.push(format!(
            "{name} (id {id}): {}",
            stock.map_or("unknown stock".to_string(), |s| format!("{s} in stock"))
        ));
        products.push(json!({"id": id, "name": name, "stock": stock}));
    }
    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let mut content = serde_json::Map::new();
    content.insert("threshold".into(), args.threshold.into());
    content.insert("products".into(), products.into());
    let alert = Alert {
        kind: "low_stock",
        priority: Priority::High,
        title: format!(
            "{} under {} in stock",
            counted(n, "product", "products"),
            args.threshold
        ),
        message: listing(
            &format!(
                "{} fewer than {} in stock:",
                if n == 1 {
                    "1 product has"
                } else {
                    "products have"
                },
                args.threshold
            ),
            &lines,
        ),
        content,
    };
    let raised = raise(&*tx, alert, created_by).await?;
    finish(ctx, tx, raised, "low stock").await
}

/// Pending orders (a NULL status is pending) created longer ago than `$1` seconds, oldest
/// first, with their customers' names.
const STALE_ORDERS: &str = r#"SELECT o."id", o."customerId", o."total", o."createdAt",
        NULLIF(btrim(concat_ws(' ', c."firstName", c."lastName")), '') AS "customerName"
    FROM "Orders" o LEFT JOIN "Customers" c ON c."id" = o."customerId"
    WHERE (o."status" = 'pending' OR o."status" IS NULL)
      AND o."createdAt" < now() - $1::int8 * interval '1 second'
    ORDER BY o."createdAt", o."id""#;

pub async fn stale_orders(ctx: &Context, args: StaleOrdersArgs) -> Result<()> {
    let db = ctx.db().await?;
    let created_by = super::acting_user(ctx, db).await?;
    let mut client = db.get().await?;
    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    AdvisoryLock::Alerts
        .acquire_for_transaction(&*tx, &ctx.out)
        .await?;
    let rows = db::query(&*tx, STALE_ORDERS, &[&args.older_than])
        .await
        .context("cannot read the orders")?;
    let age = age_text(args.older_than);
    if rows.is_empty() {
        ctx.out.notice(format!(
            "no order is pending for longer than {age}: no alert"
        ));
        return Ok(());
    }
    let mut lines = Vec::new();
    let mut orders = Vec::new();
    for row in &rows {
        let id: i32 = row.try_get("id")?;
        let customer: Option<i32> = row.try_get("customerId")?;
        let name: Option<String> = row.try_get("customerName")?;
        let total: Decimal = row.try_get("total")?;
        let created: OffsetDateTime = row.try_get("createdAt")?;
        let who = match (customer, &name) {
            (Some(c), Some(name)) => format!("customer {c} ({name})"),
            (Some(c), None) => format!("customer {c}"),
            (None, _) => "no customer".to_string(),
        };
        lines.push(format!(
            "order {id} of {who}, total {total}, pending since {}",
            rfc3339_utc(created)
        ));
        orders.push(json!({
            "id": id,
            "customerId": customer,
            "total": total.to_string(),
            "createdAt": rfc3339_utc(created),
        }));
    }
    let n = i64::try_from(rows.len()).unwrap_or(i64::MAX);
    let mut content = serde_json::Map::new();
    content.insert("olderThanSeconds".into(), args.older_than.into());
    content.insert("orders".into(), orders.into());
    let alert = Alert {
        kind: "stale_orders",
        priority: Priority::Medium,
        title: format!(
            "{} pending for longer than {age}",
            counted(n, "order", "orders")
        ),
        message: listing(
            &format!(
                "{} pending for longer than {age}:",
                if n == 1 { "1 order is" } else { "orders are" }
            ),
            &lines,
        ),
        content,
    };
    let raised = raise(&*tx, alert, created_by).await?;
    finish(ctx, tx, raised, "stale orders").await
}

/// The heading and a line per item, at most [`MESSAGE_LINES`] of them and a count of the rest.
fn listing(heading: &str, lines: &[String]) -> String {
    let mut message = heading.to_string();
    for line in lines.iter().take(MESSAGE_LINES) {
        message.push_str("\n- ");
        message.push_str(line);
    }
    if lines.len() > MESSAGE_LINES {
        message.push_str(&format!(
            "\n... and {} more (all are in the notification's data)",
            lines.len() - MESSAGE_LINES
        ));
    }
    message
}

/// Commits what [`raise`] wrote (or nothing) and says what happened.
async fn finish(
    ctx: &Context,
    tx: deadpool_postgres::Transaction<'_>,
    raised: Raised,
    what: &str,
) -> Result<()> {
    match raised {
        Raised::Sent(delivery) => {
            tx.commit().await.context("cannot commit the alert")?;
            ctx.out.notice(delivery.summary());
            delivery.print(ctx)
        }
        Raised::Unchanged(id) => {
            drop(tx);
            ctx.out.notice(format!(
                "{what}: nothing changed since notification {id}, which is still unread: no new \
                 alert"
            ));
            Ok(())
        }
        Raised::Nobody => {
            drop(tx);
            ctx.out.warn(format!(
                "{what}: no admin user would receive the alert (there is none, or all turned \
                 its type off): nothing was written"
            ));
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_in_their_largest_whole_unit() {
        assert_eq!(age_text(90 * 86_400), "90 days");
        assert_eq!(age_text(14 * 86_400), "2 weeks");
        assert_eq!(age_text(3_600), "1 hour");
        assert_eq!(age_text(90), "90 seconds");
    }

    #[test]
    fn the_fingerprint_follows_the_content() {
        let content = |stock: i32| {
            let mut map = serde_json::Map::new();
            map.insert("threshold".into(), 10.into());
            map.insert("products".into(), json!([{"id": 1, "stock": stock}]));
            map
        };
        assert_eq!(fingerprint(&content(3)), fingerprint(&content(3)));
        assert_ne!(fingerprint(&content(3)), fingerprint(&content(4)));
        assert_eq!(fingerprint(&content(3)).len(), 64);
    }

    #[test]
    fn a_long_listing_is_cut_with_a_count() {
        let lines: Vec<String> = (0..150).map(|i| format!("item {i}")).collect();
        let message = listing("heading:", &lines);
        assert_eq!(message.lines().count(), 1 + MESSAGE_LINES + 1);
        assert!(message.ends_with("... and 50 more (all are in the notification's data)"));
    }
}
