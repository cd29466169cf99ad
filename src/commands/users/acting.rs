//! The acting user (`--as` / `CRM_USER`): the CRM user recorded as the author (`createdBy`) of
//! the orders and notifications a command writes. It is named before the transaction, so that a
//! name that matches no user gets its own message, and locked inside it, so that it cannot be
//! deleted before the row that points at it is in.

use crate::context::Context;
use crate::db::{self, Database};
use crate::error;
use anyhow::{Context as _, Result};
use tokio_postgres::GenericClient;

/// The `--as` user, locked against deletion until what it creates is in (the foreign key would
/// lock it too, but only once the row is written; this tells a deleted user apart first).
const LOCK_ACTING: &str = r#"SELECT "id" FROM "Users" WHERE "id" = $1 FOR KEY SHARE"#;

/// The `--as` user's id, if one is named; exit 3 when it names no user.
pub async fn acting_user(ctx: &Context, db: &Database) -> Result<Option<i32>> {
    match &ctx.acting_user {
        Some(who) => {
            let client = db.get().await?;
            let user = super::resolve(&**client, who)
                .await
                .context("--as names no CRM user")?;
            Ok(Some(user.id))
        }
        None => Ok(None),
    }
}

/// Locks the user [`acting_user`] found, if any, in the caller's transaction; exit 3 when it
/// was deleted meanwhile (it would fail the insert).
pub async fn lock_acting_user(tx: &impl GenericClient, user: Option<i32>) -> Result<()> {
    if let Some(user) = user
        && db::query(tx, LOCK_ACTING, &[&user])
            .await
            .context("cannot look up the --as user")?
            .is_empty()
    {
        return Err(error::not_found(format!(
            "user {user} (--as) was deleted meanwhile"
        )));
    }
    Ok(())
}
