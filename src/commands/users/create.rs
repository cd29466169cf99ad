//! `crm users create`: a new user with a bcrypt-hashed password.

use super::user::{self, Role, User};
use crate::context::Context;
use crate::db;
use crate::password::{self, PasswordArgs};
use crate::validate::flag;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// First name (at most 255 characters)
    #[arg(long, value_parser = flag::name)]
    first_name: String,

    /// Last name (at most 255 characters)
    #[arg(long, value_parser = flag::name)]
    last_name: String,

    /// E-mail address (stored lower-case; unique in any case)
    #[arg(long, value_parser = flag::email)]
    email: String,

    /// Role
    #[arg(long, value_enum, default_value_t = Role::Staff)]
    role: Role,

    #[command(flatten)]
    password: PasswordArgs,
}

/// Followed by `RETURNING` the columns ([`user::returning`]).
const INSERT_USER: &str = r#"INSERT INTO "Users" ("firstName", "lastName", "email", "password", "role", "createdAt", "updatedAt")
       VALUES ($1, $2, $3, $4, $5, now(), now())"#;

pub async fn run(ctx: &Context, args: CreateArgs) -> Result<()> {
    // Everything that can be refused without the database is refused first.
    let cost = password::cost_from_env()?;
    let source = password::Source::choose(args.password.password_stdin)?;
    let mut client = ctx.db().await?.get().await?;
    // Before prompting, so that nobody types a password twice for an e-mail that is taken.
    user::ensure_email_free(&**client, &args.email, None).await?;
    let password = source.read(&format!("Password for {}", args.email)).await?;
    let hash = password::hash(password, cost).await?;

    let tx = client.transaction().await?;
    crate::db::tx::bound_locks(&*tx).await?;
    user::ensure_email_free(&*tx, &args.email, None).await?;
    let row = db::query_one(
        &*tx,
        &user::returning(INSERT_USER),
        &[
            &args.first_name,
            &args.last_name,
            &args.email,
            &hash,
            &args.role,
        ],
    )
    .await
    .map_err(|e| user::email_conflict(e, &args.email))?;
    let created = User::try_from(&row)?;
    tx.commit().await?;
    ctx.out
        .record(&user::TABLE.column_names(), &created.values())
}
