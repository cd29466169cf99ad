//! `crm db local status|start|stop|url`: the private cluster crm uses when nothing is configured.

use crate::context::Context;
use crate::db::local::{Cluster, Started, State};
use crate::output::{Rows, Value};
use anyhow::Result;
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub enum LocalCommand {
    /// Say whether the local cluster exists and runs, where, and its URL
    Status,
    /// Create the local cluster if needed and start it
    Start,
    /// Stop the local cluster (fast shutdown: sessions are ended, transactions rolled back)
    Stop,
    /// Print the local cluster's connection URL (for psql, pg_dump or DATABASE_URL)
    Url,
}

pub async fn run(ctx: &Context, cmd: LocalCommand) -> Result<()> {
    let cluster = Cluster::from_env()?;
    match cmd {
        LocalCommand::Status => {
            let state = cluster.state()?;
            let mut rows = Rows::new(&["home", "state", "pid", "version", "url"]);
            let (name, pid) = match state {
                State::NotCreated => ("not created", Value::Null),
                State::Stopped => ("stopped", Value::Null),
                State::Running { pid } => ("running", Value::Int(pid.into())),
            };
            rows.push(vec![
                cluster.home().display().to_string().into(),
                name.into(),
                pid,
                cluster.version().into(),
                cluster.url().into(),
            ]);
            ctx.out.rows(&rows)?;
        }
        LocalCommand::Start => {
            let said = match cluster.ensure_running_quietly().await? {
                Started::AlreadyRunning => "already running",
                Started::Started => "started",
                Started::Created => "created and started",
            };
            ctx.out.notice(format!(
                "crm's local PostgreSQL in {}: {said}",
                cluster.home().display()
            ));
        }
        LocalCommand::Stop => {
            let said = if cluster.stop()? {
                "stopped"
            } else {
                "was not running"
            };
            ctx.out.notice(format!(
                "crm's local PostgreSQL in {}: {said}",
                cluster.home().display()
            ));
        }
        LocalCommand::Url => ctx.out.line(&cluster.url())?,
    }
    Ok(())
}
