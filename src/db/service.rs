//! libpq's connection service file: the `[NAME]` sections of `pg_service.conf` that
//! `service=NAME` (or `PGSERVICE`) names. This module finds the section and reads its settings,
//! still as text; where they rank (under the connection string, over the `PG*` variables) is
//! [`settings`](super::settings)' business.
//!
//! Read as libpq reads it: the user's file (`PGSERVICEFILE`, else `~/.pg_service.conf`) first,
//! and only when the service is not there the system's (`PGSYSCONFDIR/pg_service.conf`, by
//! default Debian's `/etc/postgresql-common`); a missing file is skipped. A line is `key=value`
//! with nothing trimmed around the `=`, blank lines and `#` comments are skipped, and only the
//! lines of the section asked for are checked, so a file that works for `psql` works here.

use std::path::{Path, PathBuf};

use crate::db::conninfo::Params;
use crate::error::usage;

/// Where Debian's libpq looks for the system-wide file when `PGSYSCONFDIR` is not set.
const DEFAULT_SYSCONFDIR: &str = "/etc/postgresql-common";

/// A service's settings and where they were found, for messages.
#[derive(Debug)]
pub(super) struct Service {
    pub(super) name: String,
    pub(super) file: PathBuf,
    pub(super) params: Params,
}

/// The files searched, in libpq's order.
fn candidates(env: &dyn Fn(&str) -> Option<String>, home: Option<&Path>) -> Vec<PathBuf> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    let mut files = Vec::new();
    match set("PGSERVICEFILE") {
        Some(file) => files.push(PathBuf::from(file)),
        None => files.extend(home.map(|home| home.join(".pg_service.conf"))),
    }
    let dir = set("PGSYSCONFDIR").unwrap_or_else(|| DEFAULT_SYSCONFDIR.to_owned());
    files.push(Path::new(&dir).join("pg_service.conf"));
    files
}

/// Finds service `name`'s section. `named_by` says where the name came from, for the message
/// when it is nowhere. Password text met is added to `secrets`. Every failure is bad input
/// (exit 2) naming the file and the service.
pub(super) fn lookup(
    name: &str,
    named_by: &str,
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&Path>,
    secrets: &mut Vec<String>,
) -> anyhow::Result<Service> {
    let files = candidates(env, home);
    for file in &files {
        let text = match std::fs::read(file) {
            Ok(bytes) => String::from_utf8_lossy(&bytes).into_owned(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => {
                return Err(usage(format!(
                    "cannot read the service file \"{}\" (looking for service \"{name}\"): {e}",
                    file.display()
                )));
            }
        };
        let found = section(&text, name, secrets).map_err(|(line, problem)| {
            usage(format!(
                "invalid service file \"{}\", line {line} (service \"{name}\"): {problem}",
                file.display()
            ))
        })?;
        if let Some(params) = found {
            return Ok(Service {
                name: name.to_owned(),
                file: file.clone(),
                params,
            });
        }
    }
    let searched: Vec<String> = files
        .iter()
        .map(|file| format!("\"{}\"", file.display()))
        .collect();
    Err(usage(format!(
        "service \"{name}\" (from {named_by}) is not defined in {}: expected a [{name}] section",
        searched.join(" or ")
    )))
}

/// The settings of section `[name]` of a service file's text, or `None` when it has no such
/// section; an error is the line number and the problem. Within the section the first value of
/// a key wins, as in libpq.
fn section(
    text: &str,
    name: &str,
    secrets: &mut Vec<String>,
) -> Result<Option<Params>, (usize, String)> {
    let mut found: Option<Params> = None;
    for (index, raw) in text.lines().enumerate() {
        let number = index + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some(header) = line.strip_prefix('[') {
            if found.is_some() {
                // The section asked for ends here.
                break;
            }
            // libpq compares the name and then wants ']'; what follows it is ignored.
            if header
                .strip_prefix(name)
                .is_some_and(|rest| rest.starts_with(']'))
            {
                found = Some(Params::default());
            }
            continue;
        }
        let Some(params) = found.as_mut() else {
            continue;
        };
        // The line is not echoed: it may be a password missing its "password=".
        let Some((key, value)) = line.split_once('=') else {
            return Err((
                number,
                "expected key=value, such as host=db1 (no \"=\" on the line)".to_owned(),
            ));
        };
        if key == "password" {
            secrets.push(value.to_owned());
        }
        if key == "service" {
            return Err((
                number,
                "a service cannot name another service (nested services are not supported)"
                    .to_owned(),
            ));
        }
        let mut one = Params::default();
        one.set(key, value.to_owned())
            .map_err(|problem| (number, problem))?;
        params.fill_from(one);
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str, name: &str) -> Result<Option<Params>, (usize, String)> {
        section(text, name, &mut Vec::new())
    }

    #[test]
    fn the_named_section_is_read_and_the_others_are_not_checked() {
        let text = "# comment\n[other]\nnonsense line\n\n[crm]\nhost=db1,db2\n  port=5433\nuser=app\nhost=ignored\n[next]\nuser=no\n";
        let params = parse(text, "crm").unwrap().unwrap();
        assert_eq!(params.host, Some(vec!["db1".to_owned(), "db2".to_owned()]));
        assert_eq!(params.port, Some(vec!["5433".to_owned()]));
        assert_eq!(params.user.as_deref(), Some("app"));
        assert_eq!(parse(text, "missing").unwrap(), None);
        // A name that only starts like the section's is another service.
        assert_eq!(parse("[crm-test]\nuser=x\n", "crm").unwrap(), None);
    }

    #[test]
    fn bad_lines_of_the_section_name_their_line() {
        assert_eq!(
            parse("[crm]\nhost=h\nport\n", "crm").unwrap_err(),
            (
                3,
                "expected key=value, such as host=db1 (no \"=\" on the line)".to_owned()
            )
        );
        let (line, problem) = parse("[crm]\nservice=other\n", "crm").unwrap_err();
        assert_eq!(line, 2);
        assert!(problem.contains("nested"), "{problem}");
        // libpq does not trim around '=': "host " is no parameter.
        let (_, problem) = parse("[crm]\nhost = h\n", "crm").unwrap_err();
        assert!(problem.contains("unknown parameter \"host \""), "{problem}");
        let (_, problem) = parse("[crm]\noptions=-c x=y\n", "crm").unwrap_err();
        assert!(problem.contains("not supported"), "{problem}");
    }

    #[test]
    fn passwords_are_kept_as_secrets() {
        let mut secrets = Vec::new();
        section("[crm]\npassword=Hunter2\n", "crm", &mut secrets).unwrap();
        assert_eq!(secrets, vec!["Hunter2".to_owned()]);
    }

    #[test]
    fn the_user_file_wins_and_the_system_file_is_the_fallback() {
        let dir = tempfile::tempdir().unwrap();
        let user = dir.path().join("user.conf");
        let sys = dir.path().join("etc");
        std::fs::create_dir(&sys).unwrap();
        std::fs::write(&user, "[crm]\nuser=from-user\n").unwrap();
        std::fs::write(
            sys.join("pg_service.conf"),
            "[crm]\nuser=from-system\n[sys]\nuser=system-only\n",
        )
        .unwrap();
        let vars = [
            ("PGSERVICEFILE", user.display().to_string()),
            ("PGSYSCONFDIR", sys.display().to_string()),
        ];
        let env = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.clone())
        };
        let found = lookup("crm", "PGSERVICE", &env, None, &mut Vec::new()).unwrap();
        assert_eq!(
            (found.params.user.as_deref(), found.file),
            (Some("from-user"), user.clone())
        );
        let found = lookup("sys", "PGSERVICE", &env, None, &mut Vec::new()).unwrap();
        assert_eq!(found.params.user.as_deref(), Some("system-only"));
        let err = lookup("nope", "PGSERVICE", &env, None, &mut Vec::new()).unwrap_err();
        let message = format!("{err:#}");
        assert!(
            message.contains("service \"nope\" (from PGSERVICE) is not defined in")
                && message.contains(&user.display().to_string())
                && message.contains(&sys.display().to_string()),
            "{message}"
        );
    }
}
