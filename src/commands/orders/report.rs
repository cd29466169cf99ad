//! `crm orders report sales|products|customers`. (Being built.)

use crate::context::Context;
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum ReportCommand {
    /// Orders, revenue and average order value per period
    Sales,
}

pub async fn run(_ctx: &Context, _cmd: ReportCommand) -> Result<()> {
    anyhow::bail!("orders report is not built yet")
}
