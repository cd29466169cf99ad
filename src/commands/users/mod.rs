//! `crm users`: the CRM's staff accounts. list, show, create, update, set-password, delete.
//!
//! Users are named by id or e-mail ([`resolve`]). E-mails are stored lower-case and are unique
//! without regard to case. A password hash is written, never read: no command selects the
//! `password` column, and there is deliberately no `users export`. The last admin can be neither
//! deleted nor demoted; both checks lock the admin rows first, so two at once cannot both pass.

pub mod acting;
mod create;
mod delete;
mod update;
mod user;

pub use user::{Role, User, resolve};

use crate::commands::listing::{self, Filter, ListArgs, order_by};
use crate::context::Context;
use anyhow::Result;
use clap::{Args, Subcommand};

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users (never their password hashes)
    List(ListCommand),
    /// Show one user, named by id or e-mail
    Show {
        /// The user: an id or an e-mail (any case)
        user: String,
    },
    /// Create a user; the password is prompted for twice, or read with --password-stdin
    Create(create::CreateArgs),
    /// Change a user's name, e-mail or role (only the fields given)
    Update(update::UpdateArgs),
    /// Set a user's password (prompted for twice, or read with --password-stdin)
    SetPassword(update::SetPasswordArgs),
    /// Delete a user: their orders and notifications stay (createdBy set to NULL), their inbox
    /// and notification preferences go with them
    Delete(delete::DeleteArgs),
}

impl UsersCommand {
    pub async fn run(self, ctx: &Context) -> Result<()> {
        match self {
            UsersCommand::List(args) => list(ctx, args).await,
            UsersCommand::Show { user } => show(ctx, &user).await,
            UsersCommand::Create(args) => create::run(ctx, args).await,
            UsersCommand::Update(args) => update::run(ctx, args).await,
            UsersCommand::SetPassword(args) => update::set_password(ctx, args).await,
            UsersCommand::Delete(args) => delete::run(ctx, args).await,
        }?;
        Ok(())
    }
}

#[derive(Debug, Args)]
pub struct ListCommand {
    #[command(flatten)]
    list: ListArgs,

    /// Only users with this role
    #[arg(long, value_enum)]
    role: Option<Role>,
}

async fn list(ctx: &Context, args: ListCommand) -> Result<()> {
    let mut filter = Filter::new();
    if let Some(role) = args.role {
        filter.and_label(r#""role" = $?"#, role);
    }
    if let Some(text) = &args.list.search {
        filter.search(user::TABLE.search, text);
    }
    let order = order_by(args.list.sort.as_deref(), &user::TABLE.column_names(), "id")?;
    let client = ctx.read_db().await?.get().await?;
    listing::print(
        ctx,
        &**client,
        &user::TABLE,
        &filter,
        &order,
        &args.list,
        |row| Ok(User::try_from(row)?.values()),
    )
    .await
}

async fn show(ctx: &Context, who: &str) -> Result<()> {
    let client = ctx.read_db().await?.get().await?;
    let user = resolve(&**client, who).await?;
    ctx.out.record(&user::TABLE.column_names(), &user.values())
}
