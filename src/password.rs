//! New passwords for CRM users: where they come from, what is accepted, and bcrypt.
//!
//! A password is never a flag value (it would show in `ps` and in shell history): it is typed
//! twice at a hidden prompt when stdin and stderr are terminals, or read from standard input with
//! `--password-stdin`. bcrypt only looks at the first 72 bytes, so a longer password is refused
//! rather than silently truncated; one shorter than 8 characters is refused too. The cost is 12
//! unless `CRM_BCRYPT_COST` says otherwise, and never below 10. `users create`, `users
//! set-password` and `db seed` all come through here.

use crate::error;
use anyhow::{Context as _, Result};
use clap::Args;
use std::io::{IsTerminal, Read};

/// The fewest characters a password may have.
pub const MIN_CHARS: usize = 8;
/// bcrypt's limit: it ignores every byte after the 72nd.
pub const MAX_BYTES: usize = 72;
/// The environment variable that sets the bcrypt cost.
pub const COST_VAR: &str = "CRM_BCRYPT_COST";
/// The cost when `CRM_BCRYPT_COST` is not set (about 250 ms a hash).
pub const DEFAULT_COST: u32 = 12;
/// The lowest cost accepted: anything cheaper is too fast to guess against.
pub const MIN_COST: u32 = 10;
/// bcrypt's highest cost.
pub const MAX_COST: u32 = 31;

/// How much of standard input is read: far more than a valid password, little enough that a
/// file piped in by mistake is not read whole.
const STDIN_LIMIT: u64 = 1024;

/// For commands that take a new password.
#[derive(Debug, Args, Clone, Copy)]
pub struct PasswordArgs {
    /// Read the new password from standard input (all of it, one trailing newline removed)
    /// instead of prompting for it; needed when stdin is not a terminal
    #[arg(long)]
    pub password_stdin: bool,
}

/// Where a new password comes from. Chosen before anything else happens, so that a command that
/// cannot get a password fails at once, before it connects or prompts for anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A hidden prompt, typed twice.
    Prompt,
    /// All of standard input.
    Stdin,
}

impl Source {
    /// `--password-stdin`, else a prompt on a terminal; else exit 2 naming the flag.
    pub fn choose(password_stdin: bool) -> Result<Source> {
        if password_stdin {
            Ok(Source::Stdin)
        } else if std::io::stdin().is_terminal() && std::io::stderr().is_terminal() {
            Ok(Source::Prompt)
        } else {
            Err(error::usage(
                "a new password is needed and stdin is not a terminal to prompt for it: \
                 pass --password-stdin and write the password to standard input",
            ))
        }
    }

    /// Reads the password (prompting with `prompt` on a terminal) and [`check`]s it.
    pub async fn read(self, prompt: &str) -> Result<String> {
        let password = match self {
            Source::Stdin => from_stdin()?,
            Source::Prompt => prompt_twice(prompt).await?,
        };
        check(&password)?;
        Ok(password)
    }
}

/// Prompts until the same acceptable password is typed twice.
///
/// The prompt blocks the thread, and crm's Ctrl-C handler keeps the signal from ending the
/// process (which would leave the terminal without echo): the interruption is only seen once
/// the run yields. So each line typed is one prompt of its own, empty ones included, followed by
/// a yield: Ctrl-C and Enter end the run there, rather than being swallowed by a prompt that
/// asks again.
async fn prompt_twice(prompt: &str) -> Result<String> {
    loop {
        let first = prompt_once(prompt).await?;
        if let Some(problem) = problem(&first) {
            eprintln!("{problem}; try again");
            continue;
        }
        if prompt_once("Repeat it").await? == first {
            return Ok(first);
        }
        eprintln!("the two passwords differ; try again");
    }
}

async fn prompt_once(prompt: &str) -> Result<String> {
    let line = dialoguer::Password::new()
        .with_prompt(prompt)
        .allow_empty_password(true)
        .report(false)
        .interact()
        .map_err(|e| anyhow::anyhow!("cannot read the password: {e}"))?;
    tokio::task::yield_now().await;
    Ok(line)
}

/// A new password, checked: prompted for twice on a terminal, or read from standard input with
/// `--password-stdin`.
pub async fn read_new(password_stdin: bool) -> Result<String> {
    Source::choose(password_stdin)?.read("New password").await
}

/// Reads all of standard input as the password, without one trailing `\n` or `\r\n`.
pub fn from_stdin() -> Result<String> {
    let mut bytes = Vec::new();
    std::io::stdin()
        .lock()
        .take(STDIN_LIMIT + 1)
        .read_to_end(&mut bytes)
        .context("cannot read the password from standard input")?;
    if bytes.len() as u64 > STDIN_LIMIT {
        return Err(error::usage(format!(
            "the password on standard input is too long: at most {MAX_BYTES} bytes (bcrypt's \
             limit), got over {STDIN_LIMIT}"
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| error::usage("the password on standard input is not valid UTF-8"))?;
    Ok(strip_line_end(&text).to_string())
}

/// `text` without one trailing `\n` or `\r\n`, as `echo` and here-strings add.
pub fn strip_line_end(text: &str) -> &str {
    text.strip_suffix("\r\n")
        .or_else(|| text.strip_suffix('\n'))
        .unwrap_or(text)
}

/// Accepts a password of at least 8 characters and at most 72 bytes, on one line; anything else
/// is exit 2 (the password itself is never shown).
pub fn check(password: &str) -> Result<()> {
    match problem(password) {
        None => Ok(()),
        Some(problem) => Err(error::usage(problem)),
    }
}

/// What is wrong with a password, in words, if anything.
fn problem(password: &str) -> Option<String> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Some(format!(
            "the password is too short: at least {MIN_CHARS} characters, got {chars}"
        ));
    }
    if password.len() > MAX_BYTES {
        return Some(format!(
            "the password is too long: at most {MAX_BYTES} bytes (bcrypt ignores the rest, so it \
             is refused rather than truncated), got {}",
            password.len()
        ));
    }
    // The CRM's login form cannot send a line break, and C implementations of bcrypt stop at a
    // NUL: a password with either could never be used to log in.
    if password.contains(['\n', '\r', '\0']) {
        return Some(
            "the password must be one line, without line breaks or NUL characters".to_string(),
        );
    }
    None
}

/// The bcrypt cost: `CRM_BCRYPT_COST` (10 to 31), or 12 when it is unset or empty.
pub fn cost_from_env() -> Result<u32> {
    match std::env::var_os(COST_VAR) {
        None => Ok(DEFAULT_COST),
        Some(value) => parse_cost(&value.to_string_lossy()),
    }
}

/// Parses a bcrypt cost as `CRM_BCRYPT_COST` gives it.
pub fn parse_cost(value: &str) -> Result<u32> {
    if value.is_empty() {
        return Ok(DEFAULT_COST);
    }
    match value.trim().parse::<u32>() {
        Ok(cost) if (MIN_COST..=MAX_COST).contains(&cost) => Ok(cost),
        _ => Err(error::usage(format!(
            "{COST_VAR} must be a whole number from {MIN_COST} to {MAX_COST}, got \"{value}\""
        ))),
    }
}

/// Hashes `password` with bcrypt at `cost` (`$2b$`), off the async threads: at cost 12 it takes
/// about a quarter of a second.
pub async fn hash(password: String, cost: u32) -> Result<String> {
    // [`check`] is what keeps bcrypt from truncating. Not `bcrypt::non_truncating_hash`: it
    // counts the terminating NUL and so refuses a 72-byte password, all of which bcrypt uses.
    check(&password)?;
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .context("cannot hash the password")?
        .context("cannot hash the password")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_from_8_characters_to_72_bytes() {
        assert!(check("1234567").is_err());
        assert!(check("12345678").is_ok());
        assert!(check(&"x".repeat(72)).is_ok());
        let err = check(&"x".repeat(73)).unwrap_err();
        assert_eq!(error::exit_code(&err), 2);
        assert!(err.to_string().contains("at most 72 bytes"), "{err}");
        // Characters for the minimum, bytes for bcrypt's maximum.
        assert!(check("ééééééé").is_err());
        assert!(check("éééééééé").is_ok());
        assert!(check(&"é".repeat(36)).is_ok());
        assert!(check(&"é".repeat(37)).is_err());
    }

    #[test]
    fn the_password_is_never_in_the_message() {
        for bad in ["Zq9!", "Zq9!wxyz\nline", &"Zq9!".repeat(20)] {
            let err = check(bad).unwrap_err();
            assert!(!err.to_string().contains("Zq9!"), "{err}");
        }
    }

    #[test]
    fn line_breaks_and_nul_are_refused() {
        assert!(check("abcd\nefgh").is_err());
        assert!(check("abcdefgh\r").is_err());
        assert!(check("abcd\0efgh").is_err());
    }

    #[test]
    fn one_trailing_newline_is_removed() {
        assert_eq!(strip_line_end("secret12\n"), "secret12");
        assert_eq!(strip_line_end("secret12\r\n"), "secret12");
        assert_eq!(strip_line_end("secret12\n\n"), "secret12\n");
        assert_eq!(strip_line_end("secret12 "), "secret12 ");
    }

    #[test]
    fn costs_from_10_to_31_default_12() {
        assert_eq!(parse_cost("").unwrap(), 12);
        assert_eq!(parse_cost("10").unwrap(), 10);
        assert_eq!(parse_cost("31").unwrap(), 31);
        for bad in ["9", "4", "32", "twelve", "-12", "12.0"] {
            let err = parse_cost(bad).unwrap_err();
            assert_eq!(error::exit_code(&err), 2, "{bad}");
            assert!(err.to_string().contains("CRM_BCRYPT_COST"), "{err}");
        }
    }

    #[tokio::test]
    async fn hashes_are_bcrypt_2b_at_the_cost_asked() {
        let hash = hash("correct horse".to_string(), 10).await.unwrap();
        assert!(hash.starts_with("$2b$10$"), "{hash}");
        assert!(bcrypt::verify("correct horse", &hash).unwrap());
        assert!(!bcrypt::verify("correct horsf", &hash).unwrap());
    }

    #[tokio::test]
    async fn all_72_bytes_count() {
        let password = "y".repeat(71) + "Z";
        let hashed = hash(password.clone(), 10).await.unwrap();
        assert!(bcrypt::verify(&password, &hashed).unwrap());
        assert!(!bcrypt::verify(&password[..71], &hashed).unwrap());
        assert!(hash(format!("{password}!"), 10).await.is_err());
    }
}
