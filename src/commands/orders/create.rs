//! `crm orders create`. (Being built.)

use crate::context::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CreateArgs {}

pub async fn run(_ctx: &Context, _args: CreateArgs) -> Result<()> {
    anyhow::bail!("orders create is not built yet")
}
