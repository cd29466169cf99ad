//! PostgreSQL's own client tools (`pg_dump`, `pg_restore`, `psql`): finding them, reading their
//! versions, and running them with crm's connection settings in their environment (never a
//! password on their command line), killed if crm is interrupted.

use crate::db::settings::ConnSettings;
use crate::error;
use anyhow::{Context, Result};
use std::ffi::OsString;
use std::fmt;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};
use tokio::process::Command;

/// A major.minor PostgreSQL version, as `pg_dump --version` or `server_version_num` give it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    pub major: u32,
    pub minor: u32,
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.major, self.minor)
    }
}

impl Version {
    /// From `server_version_num`: 150018 is 15.18 (10 and later; 9.6 was 90624).
    pub fn from_server_num(num: i32) -> Version {
        let num = u32::try_from(num).unwrap_or(0);
        if num >= 100_000 {
            Version {
                major: num / 10_000,
                minor: num % 10_000,
            }
        } else {
            Version {
                major: num / 10_000,
                minor: (num / 100) % 100,
            }
        }
    }

    /// From a `--version` line: `pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)`.
    pub fn from_tool_output(text: &str) -> Option<Version> {
        let word = text
            .split_whitespace()
            .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))?;
        let mut parts = word.split('.');
        let digits = |s: &str| -> Option<u32> {
            let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
            s[..end].parse().ok()
        };
        let major = digits(parts.next()?)?;
        let minor = parts.next().and_then(digits).unwrap_or(0);
        Some(Version { major, minor })
    }

    /// Whether psql knows `\restrict`, which the 2025-08 minor releases added (CVE-2025-8714).
    pub fn psql_has_restrict(self) -> bool {
        match self.major {
            0..=12 => false,
            13 => self.minor >= 22,
            14 => self.minor >= 19,
            15 => self.minor >= 14,
            16 => self.minor >= 10,
            17 => self.minor >= 6,
            _ => true,
        }
    }
}

/// One of PostgreSQL's client tools, found and asked for its version.
#[derive(Debug, Clone)]
pub struct Tool {
    pub name: &'static str,
    pub path: PathBuf,
    pub version: Version,
}

impl Tool {
    /// The tool on PATH, else the newest under `/usr/lib/postgresql/*/bin`.
    pub async fn find(name: &'static str) -> Result<Tool> {
        let path = locate(name).ok_or_else(|| {
            anyhow::anyhow!(
                "{name} not found on PATH or under /usr/lib/postgresql/*/bin: install \
                 PostgreSQL's client tools (Debian: apt-get install postgresql-client)"
            )
        })?;
        let output = Command::new(&path)
            .arg("--version")
            .stdin(Stdio::null())
            .kill_on_drop(true)
            .output()
            .await
            .with_context(|| format!("cannot run {}", path.display()))?;
        let text = String::from_utf8_lossy(&output.stdout);
        let version = Version::from_tool_output(&text)
            .filter(|_| output.status.success())
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "{} --version did not print a PostgreSQL version (it printed \"{}\")",
                    path.display(),
                    text.trim()
                )
            })?;
        Ok(Tool {
            name,
            path,
            version,
        })
    }

    /// A command for this tool with `settings` in its environment.
    pub fn command(&self, settings: &ConnSettings) -> Command {
        let mut cmd = Command::new(&self.path);
        for (name, value) in settings.child_env() {
            cmd.env(name, value);
        }
        // A service file could point the child somewhere else than crm's own settings.
        cmd.env_remove("PGSERVICE");
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true);
        cmd
    }
}

fn locate(name: &str) -> Option<PathBuf> {
    crate::db::local::pg_bin_candidates()
        .into_iter()
        .map(|dir| dir.join(name))
        .find(|path| path.is_file())
}

/// A libpq connection string naming only the database (the rest comes from the environment),
/// for a tool's `--dbname`: a bare name containing `=` would be read as a connection string.
pub fn dbname_conninfo(dbname: &str) -> OsString {
    let escaped = dbname.replace('\\', "\\\\").replace('\'', "\\'");
    OsString::from(format!("dbname='{escaped}'"))
}

/// How a finished tool went: its status and what it said on stderr.
pub struct Finished {
    pub status: ExitStatus,
    pub stderr: String,
}

impl Finished {
    /// An error for a tool that failed: its status and its last lines on stderr. A failure to
    /// reach the server is exit 4, as crm's own.
    pub fn failure(&self, tool: &Tool, doing: &str) -> anyhow::Error {
        let said: Vec<&str> = self
            .stderr
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect();
        // From its first error on (what follows is its context), or from where it lost the
        // server (parallel pg_restore's last words are then only that a worker died), else its
        // last lines.
        let first = said
            .iter()
            .position(|l| l.contains("ERROR:"))
            .or_else(|| said.iter().position(|l| lost_the_server(l)));
        let tail = match first {
            Some(first) => said[first..said.len().min(first + 4)].join("; "),
            None => said[said.len().saturating_sub(3)..].join("; "),
        };
        let status = match self.status.code() {
            Some(code) => format!("exit status {code}"),
            None => "killed by a signal".to_string(),
        };
        let message = if tail.is_empty() {
            format!("{} failed ({status}) {doing}", tool.name)
        } else {
            format!("{} failed ({status}) {doing}: {tail}", tool.name)
        };
        if lost_the_server(&self.stderr) {
            error::connect(message)
        } else {
            anyhow::anyhow!(message)
        }
    }
}

/// Whether a tool's words say it could not reach the server or lost it.
fn lost_the_server(said: &str) -> bool {
    let lower = said.to_lowercase();
    lower.contains("connection to server")
        || lower.contains("could not connect")
        || lower.contains("server closed the connection")
}

/// Waits for a spawned tool, collecting its stderr.
pub async fn finish(mut child: tokio::process::Child) -> Result<Finished> {
    use tokio::io::AsyncReadExt;
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        let mut bytes = Vec::new();
        pipe.read_to_end(&mut bytes).await.ok();
        stderr = String::from_utf8_lossy(&bytes).into_owned();
    }
    let status = child
        .wait()
        .await
        .context("cannot wait for a child process")?;
    Ok(Finished { status, stderr })
}

/// Waits for a spawned tool as [`finish`] does, handing each line of its stderr to `line` as
/// it comes (for progress); the lines `line` returns false for (the tool's chatter, such as
/// `--verbose`'s) are left out of the stderr kept for [`Finished::failure`].
pub async fn finish_reading(
    mut child: tokio::process::Child,
    mut line: impl FnMut(&str) -> bool,
) -> Result<Finished> {
    use tokio::io::AsyncBufReadExt;
    let mut stderr = String::new();
    if let Some(pipe) = child.stderr.take() {
        let mut pipe = tokio::io::BufReader::new(pipe);
        let mut bytes = Vec::new();
        // A read error ends the reading, as in `finish`: the status still says how it went.
        while pipe.read_until(b'\n', &mut bytes).await.unwrap_or(0) > 0 {
            let text = String::from_utf8_lossy(&bytes);
            if line(text.trim_end_matches(['\n', '\r'])) {
                stderr.push_str(&text);
            }
            bytes.clear();
        }
    }
    let status = child
        .wait()
        .await
        .context("cannot wait for a child process")?;
    Ok(Finished { status, stderr })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_are_read_from_tools_and_servers() {
        let v = Version::from_tool_output("pg_dump (PostgreSQL) 15.18 (Debian 15.18-0+deb12u1)\n");
        assert_eq!(
            v,
            Some(Version {
                major: 15,
                minor: 18
            })
        );
        let v = Version::from_tool_output("psql (PostgreSQL) 17beta2");
        assert_eq!(
            v,
            Some(Version {
                major: 17,
                minor: 0
            })
        );
        assert_eq!(Version::from_tool_output("nothing here"), None);
        assert_eq!(
            Version::from_server_num(150018),
            Version {
                major: 15,
                minor: 18
            }
        );
        assert_eq!(
            Version::from_server_num(90624),
            Version { major: 9, minor: 6 }
        );
    }

    #[test]
    fn restrict_arrived_in_the_august_2025_minor_releases() {
        let v = |major, minor| Version { major, minor };
        assert!(v(15, 14).psql_has_restrict());
        assert!(!v(15, 13).psql_has_restrict());
        assert!(v(18, 0).psql_has_restrict());
        assert!(!v(12, 99).psql_has_restrict());
    }

    #[test]
    fn database_names_are_quoted_for_conninfo() {
        assert_eq!(dbname_conninfo("a=b 'c'\\"), "dbname='a=b \\'c\\'\\\\'");
    }
}
