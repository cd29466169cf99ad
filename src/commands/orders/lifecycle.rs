//! `crm orders set-status` and `crm orders cancel`. (Being built.)

use crate::context::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct SetStatusArgs {}

#[derive(Debug, Args)]
pub struct CancelArgs {}

pub async fn set_status(_ctx: &Context, _args: SetStatusArgs) -> Result<()> {
    anyhow::bail!("orders set-status is not built yet")
}

pub async fn cancel(_ctx: &Context, _args: CancelArgs) -> Result<()> {
    anyhow::bail!("orders cancel is not built yet")
}
