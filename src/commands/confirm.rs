//! Asking before a destructive change: a prompt on a terminal, `--yes` otherwise. Two styles
//! share the rule: a y/N question ([`confirm`]), and typing a name ([`confirm_by_typing`]) for
//! a change too large for a keystroke, such as replacing a whole database.

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
    if answered_by_flag(args, &format!("{question} needs confirmation"), "")? {
        return Ok(());
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

/// What [`confirm_by_typing`] asks for and says; the wording is the caller's.
pub struct Typed<'a> {
    /// What must be typed (blanks around it aside): `crm`.
    pub name: &'a str,
    /// What the name is, in the prompt: `the database name` asks "Type the database name (crm)
    /// to confirm".
    pub what: &'a str,
    /// What needs confirmation, said when there is no terminal: `restoring x.dump replaces
    /// database "crm" and needs confirmation`.
    pub needs: &'a str,
    /// Another way out, said after "pass --yes to confirm" when there is no terminal (or empty).
    pub otherwise: &'a str,
    /// The change in full, said on the terminal before the prompt.
    pub warning: &'a str,
}

/// Asks for a name to be typed before a destructive change, `--yes` otherwise; like
/// [`confirm`], without a terminal and without `--yes` this fails naming the flag.
pub fn confirm_by_typing(args: ConfirmArgs, typed: &Typed<'_>) -> Result<()> {
    if answered_by_flag(args, typed.needs, typed.otherwise)? {
        return Ok(());
    }
    // On stderr, as dialoguer's prompt that follows it: the terminal's conversation, not the
    // command's output.
    eprintln!("{}", typed.warning);
    let answer: String = dialoguer::Input::new()
        .with_prompt(format!("Type {} ({}) to confirm", typed.what, typed.name))
        .allow_empty(true)
        .interact_text()
        .map_err(|e| anyhow::anyhow!("cannot read the confirmation: {e}"))?;
    if answer.trim() == typed.name {
        Ok(())
    } else {
        Err(anyhow::anyhow!(
            "cancelled: \"{}\" is not \"{}\"; nothing was changed",
            answer.trim(),
            typed.name
        ))
    }
}

/// Whether `--yes` answered for the user (true) or a prompt may ask (false). Without `--yes`
/// and without a terminal on stdin and stderr, this is exit 2 ([`no_terminal`]).
fn answered_by_flag(args: ConfirmArgs, needs: &str, otherwise: &str) -> Result<bool> {
    if args.yes {
        return Ok(true);
    }
    if !std::io::stdin().is_terminal() || !std::io::stderr().is_terminal() {
        return Err(error::usage(no_terminal(needs, otherwise)));
    }
    Ok(false)
}

/// `needs` (what needs confirmation), that there is no terminal to ask on, and the flag to
/// pass, then `otherwise` (another way out, or nothing).
fn no_terminal(needs: &str, otherwise: &str) -> String {
    format!("{needs}, and stdin is not a terminal: pass --yes to confirm{otherwise}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_terminal_the_refusal_names_the_flag() {
        assert_eq!(
            no_terminal("delete customer 3? needs confirmation", ""),
            "delete customer 3? needs confirmation, and stdin is not a terminal: pass --yes to \
             confirm"
        );
        assert_eq!(
            no_terminal(
                "restoring a.dump replaces database \"crm\" and needs confirmation",
                " (or --into NAME to restore into a new database)"
            ),
            "restoring a.dump replaces database \"crm\" and needs confirmation, and stdin is not \
             a terminal: pass --yes to confirm (or --into NAME to restore into a new database)"
        );
    }
}
