//! `crm users delete`: removing a user, saying first and after what happens to their rows.
//!
//! The schema decides what happens: orders and notifications the user created stay, with
//! `createdBy` set to NULL (ON DELETE SET NULL); their inbox rows (`UserNotifications`) and
//! notification preferences go with them (ON DELETE CASCADE).

use super::user::{self, User};
use crate::commands::confirm::ConfirmArgs;
use crate::commands::confirm::confirm;
use crate::context::Context;
use crate::db;
use anyhow::{Context as _, Result};
use clap::Args;
use tokio_postgres::GenericClient;

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// The user: an id or an e-mail (any case)
    user: String,

    #[command(flatten)]
    confirm: ConfirmArgs,
}

/// The rows that refer to a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Impact {
    /// Kept, with `createdBy` set to NULL.
    orders: i64,
    notifications: i64,
    /// Deleted with the user.
    inbox: i64,
    preferences: i64,
}

const COUNT_REFERENCES: &str = r#"SELECT
    (SELECT count(*) FROM "Orders" WHERE "createdBy" = $1),
    (SELECT count(*) FROM "Notifications" WHERE "createdBy" = $1),
    (SELECT count(*) FROM "UserNotifications" WHERE "userId" = $1),
    (SELECT count(*) FROM "NotificationPreferences" WHERE "userId" = $1)"#;

const DELETE_USER: &str = r#"DELETE FROM "Users" WHERE "id" = $1"#;

async fn impact(client: &impl GenericClient, user: &User) -> Result<Impact> {
    let row = db::query_one(client, COUNT_REFERENCES, &[&user.id])
        .await
        .context("cannot count the user's rows")?;
    Ok(Impact {
        orders: row.get(0),
        notifications: row.get(1),
        inbox: row.get(2),
        preferences: row.get(3),
    })
}

/// `3 orders`, `1 order`.
fn count(n: i64, noun: &str) -> String {
    format!("{n} {noun}{}", if n == 1 { "" } else { "s" })
}

impl Impact {
    fn is_empty(&self) -> bool {
        *self == Impact::default()
    }

    /// `2 orders and 1 notification they created`: the rows that stay.
    fn kept(&self) -> String {
        format!(
            "{} and {} they created",
            count(self.orders, "order"),
            count(self.notifications, "notification"),
        )
    }

    /// `3 inbox rows and 1 notification preference`: the rows that go.
    fn gone(&self) -> String {
        format!(
            "{} and {}",
            count(self.inbox, "inbox row"),
            count(self.preferences, "notification preference"),
        )
    }

    /// The confirmation question.
    fn question(&self, user: &User) -> String {
        let who = format!(
            "delete user {} {} {} <{}>?",
            user.id, user.first_name, user.last_name, user.email
        );
        if self.is_empty() {
            format!("{who} no other rows refer to them")
        } else {
            format!(
                "{who} {} will stay, with createdBy set to NULL; {} will be deleted with the user",
                self.kept(),
                self.gone()
            )
        }
    }

    /// The notice once it is done.
    fn report(&self, user: &User) -> String {
        if self.is_empty() {
            format!(
                "deleted user {}; no other rows referred to them",
                user.describe()
            )
        } else {
            format!(
                "deleted user {}: {} kept their rows with createdBy set to NULL; {} were deleted \
                 with the user",
                user.describe(),
                self.kept(),
                self.gone()
            )
        }
    }
}

pub async fn run(ctx: &Context, args: DeleteArgs) -> Result<()> {
    let mut client = ctx.db().await?.get().await?;
    let user = user::resolve(&**client, &args.user).await?;
    // Refused before asking (the transaction below checks again, under lock).
    let admins = user::admin_ids(&**client, false).await?;
    user::ensure_not_last_admin(&user, &admins, "delete")?;
    let expected = impact(&**client, &user).await?;
    confirm(args.confirm, &expected.question(&user))?;

    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    let admins = user::admin_ids(&*tx, true).await?;
    // Locked: nobody can add an order or a notification by this user until we are done, so the
    // counts are exact.
    let user = user::lock_by_id(&*tx, user.id).await?;
    user::ensure_not_last_admin(&user, &admins, "delete")?;
    let done = impact(&*tx, &user).await?;
    db::execute(&*tx, DELETE_USER, &[&user.id])
        .await
        .context("cannot delete the user")?;
    tx.commit().await?;
    ctx.out.notice(done.report(&user));
    Ok(())
}
