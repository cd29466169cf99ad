//! Writing a notification and fanning it out to its recipients: one statement, however many
//! users receive it, in the caller's transaction. Users whose preference for the type is off
//! are skipped; those whose preference asks for e-mail are returned, so a mail step can follow.

use super::Priority;
use crate::commands::users::Role;
use crate::commands::users::acting::lock_acting_user;
use crate::context::Context;
use crate::db;
use crate::output::Value;
use anyhow::{Context as _, Result};
use tokio_postgres::GenericClient;

/// Who receives a notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Audience {
    /// These users (ids, already resolved).
    Users(Vec<i32>),
    Role(Role),
    All,
}

/// A notification to write.
#[derive(Debug, Clone)]
pub struct NewNotification {
    pub kind: String,
    pub title: String,
    pub message: String,
    pub data: Option<serde_json::Value>,
    pub priority: Priority,
    pub created_by: Option<i32>,
}

/// What [`deliver`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    pub id: i32,
    pub kind: String,
    /// Users who received it (an inbox row each).
    pub recipients: i64,
    /// Users of the audience whose preference turned the type off.
    pub skipped: i64,
    /// Recipients whose preference asks for e-mail, in user id order.
    pub email_recipients: Vec<String>,
}

/// The notification, then one `UserNotifications` row per user of the audience whose
/// preference for its type is not off (no row is on), all in one statement. `$7` (user ids) and
/// `$8` (a role) narrow the audience; both NULL is everyone. `$8` takes the type of the role
/// column (VARCHAR or the application's ENUM) from its first use.
const DELIVER: &str = r#"WITH "notification" AS (
        INSERT INTO "Notifications"
            ("type", "title", "message", "data", "priority", "createdBy", "createdAt", "updatedAt")
        VALUES ($1, $2, $3, $4, $5, $6, now(), now())
        RETURNING "id"
    ), "audience" AS (
        SELECT u."id", u."email",
               COALESCE(p."enabled", true) AS "enabled",
               COALESCE(p."emailEnabled", false) AS "emailEnabled"
        FROM "Users" u
        LEFT JOIN "NotificationPreferences" p
               ON p."userId" = u."id" AND p."notificationType" = $1
        WHERE ($7::int4[] IS NULL OR u."id" = ANY($7))
          AND (u."role" = $8 OR $8 IS NULL)
    ), "delivered" AS (
        INSERT INTO "UserNotifications"
            ("userId", "notificationId", "isRead", "createdAt", "updatedAt")
        SELECT a."id", n."id", false, now(), now()
        FROM "audience" a CROSS JOIN "notification" n
        WHERE a."enabled"
        RETURNING "userId"
    )
    SELECT (SELECT "id" FROM "notification") AS "id",
           (SELECT count(*) FROM "delivered") AS "recipients",
           (SELECT count(*) FROM "audience" WHERE NOT "enabled") AS "skipped",
           ARRAY(SELECT "email" FROM "audience" WHERE "enabled" AND "emailEnabled"
                 ORDER BY "id") AS "emailRecipients""#;

/// Writes `notification` for `audience` in the caller's transaction.
pub async fn deliver(
    tx: &impl GenericClient,
    notification: &NewNotification,
    audience: &Audience,
) -> Result<Delivery> {
    lock_acting_user(tx, notification.created_by).await?;
    let (ids, role): (Option<&[i32]>, Option<Role>) = match audience {
        Audience::Users(ids) => (Some(ids), None),
        Audience::Role(role) => (None, Some(*role)),
        Audience::All => (None, None),
    };
    let row = db::query_one(
        tx,
        DELIVER,
        &[
            &notification.kind,
            &notification.title,
            &notification.message,
            &notification.data,
            &notification.priority,
            &notification.created_by,
            &ids,
            &role,
        ],
    )
    .await
    .context("cannot write the notification")?;
    Ok(Delivery {
        id: row.try_get("id")?,
        kind: notification.kind.clone(),
        recipients: row.try_get("recipients")?,
        skipped: row.try_get("skipped")?,
        email_recipients: row.try_get("emailRecipients")?,
    })
}

/// The columns of a delivery's record.
const COLUMNS: &[&str] = &["id", "type", "recipients", "skipped", "emailRecipients"];

impl Delivery {
    /// `sent notification 7 (order_created) to 3 users; 1 skipped by preference; 1 to e-mail`.
    pub fn summary(&self) -> String {
        let mut text = format!(
            "sent notification {} ({}) to {}",
            self.id,
            self.kind,
            crate::output::counted(self.recipients, "user", "users")
        );
        if self.skipped > 0 {
            text.push_str(&format!("; {} skipped by preference", self.skipped));
        }
        if !self.email_recipients.is_empty() {
            text.push_str(&format!(
                "; {} asked for e-mail",
                self.email_recipients.len()
            ));
        }
        text
    }

    /// Prints the delivery as a record: e-mail recipients a JSON array in JSON, separated by
    /// spaces otherwise.
    pub fn print(&self, ctx: &Context) -> Result<()> {
        ctx.out.record(
            COLUMNS,
            &[
                self.id.into(),
                self.kind.as_str().into(),
                self.recipients.into(),
                self.skipped.into(),
                Value::Words(self.email_recipients.clone()),
            ],
        )
    }
}
