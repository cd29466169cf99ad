//! One module per command group, each owning its SQL; and the mechanisms they share.

pub mod app_role;
pub mod backup;
pub mod check;
pub mod customers;
pub mod health;
pub mod listing;
pub mod local;
pub mod maintain;
pub mod migrate;
pub mod notify;
pub mod orders;
pub mod products;
pub mod record;
pub mod schema;
pub mod seed;
pub mod transfer;
pub mod users;

use crate::cli::ConfirmArgs;
use crate::error;
use anyhow::Result;
use std::io::IsTerminal;

/// Asks before a destructive change: a prompt on a terminal, `--yes` otherwise. Cron jobs never
/// see a prompt: without a terminal and without `--yes`, this fails naming the flag.
pub fn confirm(args: ConfirmArgs, question: &str) -> Result<()> {
    if args.yes {
        return Ok(());
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(error::usage(format!(
            "{question} needs confirmation, and stdin is not a terminal: pass --yes to confirm"
        )));
    }
    let confirmed = dialoguer::Confirm::new()
        .with_prompt(question)
        .default(false)
        .interact()
        .map_err(|e| anyhow::anyhow!("cannot read the confirmation: {e}"))?;
    if confirmed {
        Ok(())
    } else {
        Err(anyhow::anyhow!("cancelled: nothing was changed"))
    }
}

/// Prints a completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) -> Result<i32> {
    use clap::CommandFactory;
    use std::io::Write;
    let mut cmd = crate::cli::Cli::command();
    // Generated into memory first: clap_complete panics on a write error such as a closed pipe.
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut cmd, "crm", &mut script);
    let mut out = std::io::stdout().lock();
    out.write_all(&script)
        .and_then(|()| out.flush())
        .map_err(anyhow::Error::from)?;
    Ok(0)
}
