//! `crm db check [--fix]`: audits the data's invariants. (Being built.)

use crate::context::Context;
use anyhow::Result;
use clap::Args;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Repair what can be derived from the other rows, in one transaction
    #[arg(long)]
    pub fix: bool,
}

pub async fn run(_ctx: &Context, _args: CheckArgs) -> Result<i32> {
    anyhow::bail!("db check is not built yet")
}
