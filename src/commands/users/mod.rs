//! `crm users`: (being written) list, show, create, update, set-password, delete.

use crate::commands::listing::ListArgs;
use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// List users
    List(ListArgs),
}

impl UsersCommand {
    pub async fn run(self, _ctx: &Context) -> Result<i32> {
        anyhow::bail!("crm users is being written")
    }
}
