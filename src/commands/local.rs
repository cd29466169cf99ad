//! `crm db local status|start|stop|url`: the private cluster crm uses when nothing is configured.

use crate::cli::LocalCommand;
use crate::context::Context;
use crate::db::local::{Cluster, Started, State};
use crate::output::{Rows, Value};
use anyhow::Result;

pub async fn run(ctx: &Context, cmd: LocalCommand) -> Result<i32> {
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
        LocalCommand::Url => println!("{}", cluster.url()),
    }
    Ok(0)
}
