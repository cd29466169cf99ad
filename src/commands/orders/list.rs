//! `crm orders list`, `show` and `export`. (Being built.)

use crate::context::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct ListOrdersArgs {}

#[derive(Debug, Args)]
pub struct ShowArgs {}

#[derive(Debug, Args)]
pub struct ExportOrdersArgs {}

pub async fn list(_ctx: &Context, _args: ListOrdersArgs) -> Result<()> {
    anyhow::bail!("orders list is not built yet")
}

pub async fn show(_ctx: &Context, _args: ShowArgs) -> Result<()> {
    anyhow::bail!("orders show is not built yet")
}

pub async fn export(_ctx: &Context, _args: ExportOrdersArgs) -> Result<()> {
    anyhow::bail!("orders export is not built yet")
}
