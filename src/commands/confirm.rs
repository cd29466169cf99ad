//! Asking before a destructive change: a prompt on a terminal, `--yes` otherwise.

use crate::error;
use anyhow::Result;
use clap::Args;
use std::io::IsTerminal;

/// For destructive commands: a prompt on a terminal, `--yes` otherwise.
#[derive(Debug, Args, Clone, Copy)]
pub struct ConfirmArgs {
    /// Do not ask for confirmation (needed when stdin is not a terminal)
    #[arg(short = 'y', long)]
    pub yes: bool,
}

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
