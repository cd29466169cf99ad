//! `crm users update` and `crm users set-password`: changing an existing user.

use super::user::{self, Role, User};
use crate::context::Context;
use crate::db;
use crate::error;
use crate::password::{self, PasswordArgs};
use crate::validate::flag;
use anyhow::{Context as _, Result};
use clap::Args;

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// The user: an id or an e-mail (any case)
    user: String,

    /// New first name (at most 255 characters)
    #[arg(long, value_parser = flag::name)]
    first_name: Option<String>,

    /// New last name (at most 255 characters)
    #[arg(long, value_parser = flag::name)]
    last_name: Option<String>,

    /// New e-mail address (stored lower-case; unique in any case)
    #[arg(long, value_parser = flag::email)]
    email: Option<String>,

    /// New role (the last admin cannot be demoted)
    #[arg(long, value_enum)]
    role: Option<Role>,
}

#[derive(Debug, Args)]
pub struct SetPasswordArgs {
    /// The user: an id or an e-mail (any case)
    user: String,

    #[command(flatten)]
    password: PasswordArgs,
}

/// Sets the fields given (a NULL parameter keeps the column as it is) and bumps `updatedAt`;
/// followed by `RETURNING` the columns ([`user::returning`]).
const UPDATE_USER: &str = r#"UPDATE "Users" SET
         "firstName" = COALESCE($2, "firstName"),
         "lastName" = COALESCE($3, "lastName"),
         "email" = COALESCE($4, "email"),
         "role" = COALESCE($5, "role"),
         "updatedAt" = now()
       WHERE "id" = $1"#;

pub async fn run(ctx: &Context, args: UpdateArgs) -> Result<()> {
    if args.first_name.is_none()
        && args.last_name.is_none()
        && args.email.is_none()
        && args.role.is_none()
    {
        return Err(error::usage(
            "nothing to update: give at least one of --first-name, --last-name, --email, --role",
        ));
    }
    let demoting = args.role == Some(Role::Staff);
    let mut client = ctx.db().await?.get().await?;
    let id = user::resolve(&**client, &args.user).await?.id;

    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    let admins = if demoting {
        user::admin_ids(&*tx, true).await?
    } else {
        Vec::new()
    };
    let before = user::lock_by_id(&*tx, id).await?;
    if demoting {
        user::ensure_not_last_admin(&before, &admins, "demote")?;
    }
    if let Some(email) = &args.email {
        user::ensure_email_free(&*tx, email, Some(id)).await?;
    }
    let row = db::query_one(
        &*tx,
        &user::returning(UPDATE_USER),
        &[
            &id,
            &args.first_name,
            &args.last_name,
            &args.email,
            &args.role,
        ],
    )
    .await
    .map_err(|e| user::email_conflict(e, args.email.as_deref().unwrap_or_default()))?;
    let updated = User::try_from(&row)?;
    tx.commit().await?;
    ctx.out
        .record(&user::TABLE.column_names(), &updated.values())
}

const SET_PASSWORD: &str =
    r#"UPDATE "Users" SET "password" = $2, "updatedAt" = now() WHERE "id" = $1"#;

pub async fn set_password(ctx: &Context, args: SetPasswordArgs) -> Result<()> {
    let cost = password::cost_from_env()?;
    let source = password::Source::choose(args.password.password_stdin)?;
    let client = ctx.db().await?.get().await?;
    // Before prompting, so that nobody types a password twice for a user who does not exist.
    let user = user::resolve(&**client, &args.user).await?;
    let password = source
        .read(&format!("New password for {}", user.email))
        .await?;
    let hash = password::hash(password, cost).await?;
    let changed = db::execute(&**client, SET_PASSWORD, &[&user.id, &hash])
        .await
        .context("cannot set the password")?;
    if changed == 0 {
        // Deleted while the password was typed.
        return Err(user::not_found(&args.user));
    }
    ctx.out
        .notice(format!("set the password of user {}", user.describe()));
    Ok(())
}
