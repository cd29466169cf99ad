//! Where to connect: `--database-url`, `DATABASE_URL`, libpq's service file and the `PG*`
//! variables (with the password file), merged in SPEC.md's order of precedence and completed
//! with libpq's defaults, because tokio-postgres reads none of them itself. This module owns that
//! merging and its result, [`ConnSettings`]: the connection string (parsed by `db::conninfo`)
//! comes first, then the service it or `PGSERVICE` names (`db::service`), then the variables,
//! then the password file for the password, then libpq's defaults.
//! Handing the settings on (messages, a URL, a tokio-postgres `Config`, child tools'
//! environment) is the `render` submodule's. It never connects, and no message or description it
//! makes contains a password.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use crate::db::conninfo::{Params, list, parse_conn_string};
use crate::db::pgpass;
use crate::db::service::{self, Service};
use crate::error::usage;

mod render;
#[cfg(test)]
pub(super) mod tests;

/// libpq's `sslmode`. How each mode is enforced (certificate checks) is the TLS code's business;
/// here it is only parsed, passed on and mapped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

const SSLMODE_EXPECTED: &str =
    "expected one of disable, allow, prefer, require, verify-ca, verify-full";

impl SslMode {
    const ALL: [SslMode; 6] = [
        SslMode::Disable,
        SslMode::Allow,
        SslMode::Prefer,
        SslMode::Require,
        SslMode::VerifyCa,
        SslMode::VerifyFull,
    ];

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SslMode::Disable => "disable",
            SslMode::Allow => "allow",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
            SslMode::VerifyCa => "verify-ca",
            SslMode::VerifyFull => "verify-full",
        }
    }

    /// libpq's spelling only: libpq rejects `Require`, and a setting that works for `crm` but
    /// not for the `pg_dump` it starts would be a trap.
    fn parse(s: &str) -> Option<SslMode> {
        SslMode::ALL.into_iter().find(|mode| mode.as_str() == s)
    }
}

impl FromStr for SslMode {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> anyhow::Result<SslMode> {
        SslMode::parse(s)
            .ok_or_else(|| usage(format!("invalid sslmode \"{s}\": {SSLMODE_EXPECTED}")))
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// libpq 14's `target_session_attrs`: what the server chosen among several hosts must be.
/// Checked by `db` when it connects, host after host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetSessionAttrs {
    /// The first server that lets us in.
    Any,
    /// One whose sessions accept writes by default (not a standby, not
    /// `default_transaction_read_only`).
    ReadWrite,
    /// One whose sessions do not.
    ReadOnly,
    /// One that is not in recovery.
    Primary,
    /// One that is in recovery (a hot standby).
    Standby,
    /// A standby if any host is one, else any server.
    PreferStandby,
}

const TARGET_EXPECTED: &str =
    "expected one of any, read-write, read-only, primary, standby, prefer-standby";

impl TargetSessionAttrs {
    const ALL: [TargetSessionAttrs; 6] = [
        TargetSessionAttrs::Any,
        TargetSessionAttrs::ReadWrite,
        TargetSessionAttrs::ReadOnly,
        TargetSessionAttrs::Primary,
        TargetSessionAttrs::Standby,
        TargetSessionAttrs::PreferStandby,
    ];

    /// libpq's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            TargetSessionAttrs::Any => "any",
            TargetSessionAttrs::ReadWrite => "read-write",
            TargetSessionAttrs::ReadOnly => "read-only",
            TargetSessionAttrs::Primary => "primary",
            TargetSessionAttrs::Standby => "standby",
            TargetSessionAttrs::PreferStandby => "prefer-standby",
        }
    }

    fn parse(s: &str) -> Option<TargetSessionAttrs> {
        TargetSessionAttrs::ALL
            .into_iter()
            .find(|attrs| attrs.as_str() == s)
    }
}

impl fmt::Display for TargetSessionAttrs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the settings came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// `--database-url`.
    Flag,
    /// `DATABASE_URL`.
    DatabaseUrlEnv,
    /// The `PG*` variables alone.
    PgEnv,
    /// crm's private local cluster: made by `db::local`, never by [`resolve`].
    Local,
    /// `--read-url` or `CRM_READ_URL`: a read replica, from [`resolve_read_url`].
    ReadUrl,
}

impl Source {
    /// How messages name the source.
    pub fn label(self) -> &'static str {
        match self {
            Source::Flag => "--database-url",
            Source::DatabaseUrlEnv => "DATABASE_URL",
            Source::PgEnv => "the PG* environment variables",
            Source::Local => "the local cluster",
            Source::ReadUrl => "--read-url or CRM_READ_URL",
        }
    }
}

/// Everything needed to reach and log in to the server, resolved and validated.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnSettings {
    /// Host names, IP addresses, or absolute socket directory paths (starting with '/'); never
    /// empty. Tried in order.
    pub hosts: Vec<String>,
    /// One port for every host, or one per host.
    pub ports: Vec<u16>,
    pub user: String,
    /// The password for the first host.
    pub password: Option<String>,
    /// With several hosts and no password given, what the password file holds for each host,
    /// since libpq looks each one up as it tries it; `None` otherwise.
    pub passwords_by_host: Option<Vec<Option<String>>>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    /// `None` waits forever (libpq's explicit 0).
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    /// What the server chosen among the hosts must be.
    pub target_session_attrs: TargetSessionAttrs,
    pub source: Source,
}

impl ConnSettings {
    /// These settings narrowed to the `index`th host (which must exist) and its port, with
    /// nothing left to choose: the settings of a connection that reached that host, which
    /// every later connection, and a child tool, should reach again.
    pub fn one_host(&self, index: usize) -> ConnSettings {
        let port = self
            .ports
            .get(index)
            .or(self.ports.first())
            .copied()
            .unwrap_or(DEFAULT_PORT);
        let password = match &self.passwords_by_host {
            Some(passwords) => passwords.get(index).cloned().flatten(),
            None => self.password.clone(),
        };
        ConnSettings {
            hosts: vec![self.hosts[index].clone()],
            ports: vec![port],
            password,
            passwords_by_host: None,
            target_session_attrs: TargetSessionAttrs::Any,
            ..self.clone()
        }
    }
}

const DEFAULT_PORT: u16 = 5432;
/// libpq waits forever by default; crm does not, so that a cron job never hangs on a dead host.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_APPLICATION_NAME: &str = "crm";
/// The default socket directories of Debian's and of upstream's libpq, in the order probed.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
/// The variables whose presence means a server has been chosen. `PGSSLMODE` and the like alone
/// only tune a connection, so they do not turn the local cluster off.
const SERVER_VARS: [&str; 7] = [
    "PGSERVICE",
    "PGHOST",
    "PGHOSTADDR",
    "PGPORT",
    "PGDATABASE",
    "PGUSER",
    "PGPASSWORD",
];

/// Resolves the connection settings, or `None` when nothing at all is configured (the caller then
/// falls back to the local cluster). The warnings (about the password file) are for the caller to
/// print.
///
/// `env` reads an environment variable; an empty value counts as unset. `os_user` is libpq's
/// default user name, `home` the home directory holding `.pgpass`.
pub fn resolve(
    flag_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    os_user: &str,
    home: Option<&Path>,
) -> anyhow::Result<Option<(ConnSettings, Vec<String>)>> {
    resolve_with(flag_url, env, os_user, home, default_socket_dir())
}

/// Resolves a read replica's URL (`--read-url`, `CRM_READ_URL`) as [`resolve`] resolves
/// `--database-url`: the service file, the `PG*` variables under the string, the password file;
/// messages name where the URL came from.
pub fn resolve_read_url(
    url: &str,
    env: &dyn Fn(&str) -> Option<String>,
    os_user: &str,
    home: Option<&Path>,
) -> anyhow::Result<(ConnSettings, Vec<String>)> {
    let flag = Some((Source::ReadUrl, url));
    resolve_from(flag, env, os_user, home, default_socket_dir())?
        .ok_or_else(|| anyhow::anyhow!("a read URL resolved to nothing (internal error)"))
}

/// libpq's compiled-in socket directory is Debian's where Debian's server runs, else upstream's.
fn default_socket_dir() -> &'static str {
    DEFAULT_SOCKET_DIRS
        .into_iter()
        .find(|dir| Path::new(dir).is_dir())
        .unwrap_or("/tmp")
}

fn resolve_with(
    flag_url: Option<&str>,
    env: &dyn Fn(&str) -> Option<String>,
    os_user: &str,
    home: Option<&Path>,
    socket_dir: &str,
) -> anyhow::Result<Option<(ConnSettings, Vec<String>)>> {
    let flag = flag_url.map(|url| (Source::Flag, url));
    resolve_from(flag, env, os_user, home, socket_dir)
}

/// [`resolve_with`], the string given coming from `flag`'s source.
fn resolve_from(
    flag: Option<(Source, &str)>,
    env: &dyn Fn(&str) -> Option<String>,
    os_user: &str,
    home: Option<&Path>,
    socket_dir: &str,
) -> anyhow::Result<Option<(ConnSettings, Vec<String>)>> {
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    let (source, url) = match flag {
        Some((source, url)) => (source, Some(url.to_owned())),
        None => match set("DATABASE_URL") {
            Some(url) => (Source::DatabaseUrlEnv, Some(url)),
            None if SERVER_VARS.iter().any(|name| set(name).is_some()) => (Source::PgEnv, None),
            None => return Ok(None),
        },
    };
    let mut resolver = Resolver {
        source,
        secrets: Vec::new(),
        env,
        service: None,
    };
    let params = match url {
        // An empty flag is most likely `--database-url "$UNSET_VARIABLE"`: falling back to
        // another database would be worse than stopping.
        Some(url) if url.trim().is_empty() => {
            return Err(resolver.url_error("the URL is empty"));
        }
        Some(url) => {
            let parsed = parse_conn_string(&url, &mut resolver.secrets);
            parsed.map_err(|problem| resolver.url_error(&problem))?
        }
        None => Params::default(),
    };
    // The string's service, else PGSERVICE's: its settings rank under the string's and over
    // the variables', as libpq ranks them.
    let named = match &params.service {
        Some(name) => Some((name.clone(), source.label())),
        None => set("PGSERVICE").map(|name| (name, "PGSERVICE")),
    };
    let service = match named {
        Some((name, named_by)) => {
            let found = service::lookup(&name, named_by, env, home, &mut resolver.secrets)?;
            resolver.service = Some((found.name.clone(), found.file.clone()));
            Some(found)
        }
        None => None,
    };
    resolver
        .settings(params, service, os_user, home, socket_dir)
        .map(Some)
}

/// Where a value came from, so that an error about it names the right thing.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Url,
    Service,
    Env(&'static str),
    Default,
}

/// One source's `host` and `hostaddr` lists.
type HostLists = (Option<Vec<String>>, Option<Vec<String>>);

/// Merges a parsed URL with the environment and libpq's defaults.
struct Resolver<'a> {
    source: Source,
    /// Password text seen while parsing (raw and decoded), scrubbed from every message as a last
    /// line of defence against a misparsed URL echoing it.
    secrets: Vec<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
    /// The service whose settings are used, and its file, for messages.
    service: Option<(String, PathBuf)>,
}

impl Resolver<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    /// The URL's value if it has one, else the service's, else the variable's: libpq's
    /// variables are defaults under the connection string and its service.
    fn pick(
        &self,
        url: Option<String>,
        service: Option<String>,
        var: &'static str,
    ) -> Option<(String, Origin)> {
        url.map(|value| (value, Origin::Url))
            .or_else(|| service.map(|value| (value, Origin::Service)))
            .or_else(|| self.var(var).map(|value| (value, Origin::Env(var))))
    }

    /// How messages name the service: `service "crm" of "/home/u/.pg_service.conf"`.
    fn service_label(&self) -> String {
        match &self.service {
            Some((name, file)) => format!("service \"{name}\" of \"{}\"", file.display()),
            None => "the service file".to_owned(),
        }
    }

    fn url_error(&self, problem: &str) -> anyhow::Error {
        let mut message = format!(
            "invalid database URL (from {}): {problem}",
            self.source.label()
        );
        for secret in self.secrets.iter().filter(|s| !s.is_empty()) {
            message = message.replace(secret.as_str(), "***");
        }
        usage(message)
    }

    fn invalid(&self, origin: Origin, param: &str, value: &str, expected: &str) -> anyhow::Error {
        match origin {
            Origin::Env(var) => usage(format!("invalid {var} \"{value}\": {expected}")),
            Origin::Service => usage(format!(
                "invalid {param} \"{value}\" in {}: {expected}",
                self.service_label()
            )),
            Origin::Url | Origin::Default => {
                self.url_error(&format!("invalid {param} \"{value}\": {expected}"))
            }
        }
    }

    fn origin_label(&self, origin: Origin) -> String {
        match origin {
            Origin::Url => self.source.label().to_owned(),
            Origin::Service => self.service_label(),
            Origin::Env(var) => var.to_owned(),
            Origin::Default => "the default".to_owned(),
        }
    }

    fn settings(
        &self,
        url: Params,
        service: Option<Service>,
        os_user: &str,
        home: Option<&Path>,
        socket_dir: &str,
    ) -> anyhow::Result<(ConnSettings, Vec<String>)> {
        let svc = service.map_or_else(Params::default, |service| service.params);
        let (hosts, hosts_origin) = self.hosts(
            [(url.host, url.hostaddr), (svc.host, svc.hostaddr)],
            socket_dir,
        )?;
        let ports = self.ports(url.port, svc.port, hosts.len(), hosts_origin)?;
        let user = match self.pick(url.user, svc.user, "PGUSER") {
            Some((user, _)) => user,
            None if !os_user.is_empty() => os_user.to_owned(),
            None => {
                return Err(usage(
                    "cannot tell which database user to connect as: set PGUSER or put a user name in the database URL",
                ));
            }
        };
        let dbname = self
            .pick(url.dbname, svc.dbname, "PGDATABASE")
            .map_or_else(|| user.clone(), |(dbname, _)| dbname);
        let sslmode = match self.pick(url.sslmode, svc.sslmode, "PGSSLMODE") {
            Some((mode, origin)) => SslMode::parse(&mode)
                .ok_or_else(|| self.invalid(origin, "sslmode", &mode, SSLMODE_EXPECTED))?,
            None => SslMode::Prefer,
        };
        let sslrootcert = self
            .pick(url.sslrootcert, svc.sslrootcert, "PGSSLROOTCERT")
            .map(|(path, _)| PathBuf::from(path));
        let connect_timeout = match self.pick(
            url.connect_timeout,
            svc.connect_timeout,
            "PGCONNECT_TIMEOUT",
        ) {
            Some((text, origin)) => parse_timeout(&text).ok_or_else(|| {
                self.invalid(
                    origin,
                    "connect_timeout",
                    &text,
                    "expected a whole number of seconds (0 to wait forever)",
                )
            })?,
            None => Some(DEFAULT_CONNECT_TIMEOUT),
        };
        let application_name = self
            .pick(url.application_name, svc.application_name, "PGAPPNAME")
            .map(|(name, _)| name)
            .or(url.fallback_application_name)
            .or(svc.fallback_application_name)
            .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.to_owned());
        let target_session_attrs = match self.pick(
            url.target_session_attrs,
            svc.target_session_attrs,
            "PGTARGETSESSIONATTRS",
        ) {
            Some((text, origin)) => TargetSessionAttrs::parse(&text).ok_or_else(|| {
                self.invalid(origin, "target_session_attrs", &text, TARGET_EXPECTED)
            })?,
            None => TargetSessionAttrs::Any,
        };

        let mut warnings = Vec::new();
        let mut passwords_by_host = None;
        let password = match self.pick(url.password, svc.password, "PGPASSWORD") {
            Some((password, _)) => Some(password),
            None => {
                let file = url
                    .passfile
                    .or(svc.passfile)
                    .map(PathBuf::from)
                    .or_else(|| pgpass::default_path(self.env, home));
                match file {
                    Some(file) => {
                        let mut found = Vec::with_capacity(hosts.len());
                        for (index, host) in hosts.iter().enumerate() {
                            let port = ports
                                .get(index)
                                .or(ports.first())
                                .copied()
                                .unwrap_or(DEFAULT_PORT);
                            let host = pgpass_host(host, socket_dir);
                            let lookup = pgpass::lookup(&file, host, port, &dbname, &user);
                            // The same file says the same about its permissions each time.
                            if index == 0 {
                                warnings.extend(lookup.warnings);
                            }
                            found.push(lookup.password);
                        }
                        let first = found.first().cloned().flatten();
                        if found.len() > 1 {
                            passwords_by_host = Some(found);
                        }
                        first
                    }
                    None => None,
                }
            }
        };

        let settings = ConnSettings {
            hosts,
            ports,
            user,
            password,
            passwords_by_host,
            dbname,
            sslmode,
            sslrootcert,
            connect_timeout,
            application_name: Some(application_name),
            target_session_attrs,
            source: self.source,
        };
        Ok((settings, warnings))
    }

    /// The hosts to try. Within one source a host name wins over an address (`hostaddr`), and
    /// the URL's choice wins over the service's, which wins over the variables', so that a URL
    /// naming a server is never redirected by a stray `PGHOSTADDR`.
    fn hosts(
        &self,
        given: [HostLists; 2],
        socket_dir: &str,
    ) -> anyhow::Result<(Vec<String>, Origin)> {
        let mut chosen = None;
        for ((host, hostaddr), origin) in given.into_iter().zip([Origin::Url, Origin::Service]) {
            // An address is checked even when a host name wins over it, as libpq checks it.
            if let Some(addresses) = &hostaddr {
                self.check_addresses(addresses, origin)?;
            }
            if chosen.is_none() {
                chosen = host.or(hostaddr).map(|list| (list, origin));
            }
        }
        let chosen = match chosen {
            Some(chosen) => Some(chosen),
            None => {
                let addresses = self.var("PGHOSTADDR").and_then(|value| list(&value));
                if let Some(addresses) = &addresses {
                    self.check_addresses(addresses, Origin::Env("PGHOSTADDR"))?;
                }
                self.var("PGHOST")
                    .and_then(|value| list(&value))
                    .map(|list| (list, Origin::Env("PGHOST")))
                    .or_else(|| addresses.map(|list| (list, Origin::Env("PGHOSTADDR"))))
            }
        };
        let Some((list, origin)) = chosen else {
            return Ok((vec![socket_dir.to_owned()], Origin::Default));
        };
        let hosts = list
            .into_iter()
            .map(|host| {
                if host.is_empty() {
                    socket_dir.to_owned()
                } else {
                    host
                }
            })
            .collect();
        Ok((hosts, origin))
    }

    fn check_addresses(&self, addresses: &[String], origin: Origin) -> anyhow::Result<()> {
        match addresses
            .iter()
            .find(|addr| !addr.is_empty() && addr.parse::<IpAddr>().is_err())
        {
            Some(bad) => {
                Err(self.invalid(origin, "hostaddr", bad, "expected a numeric IP address"))
            }
            None => Ok(()),
        }
    }

    /// The ports: one for all hosts, or one per host as libpq requires; an empty entry in a list
    /// is libpq's default port.
    fn ports(
        &self,
        url_ports: Option<Vec<String>>,
        service_ports: Option<Vec<String>>,
        host_count: usize,
        hosts_origin: Origin,
    ) -> anyhow::Result<Vec<u16>> {
        let given = url_ports
            .map(|list| (list, Origin::Url))
            .or_else(|| service_ports.map(|list| (list, Origin::Service)))
            .or_else(|| {
                self.var("PGPORT")
                    .and_then(|value| list(&value))
                    .map(|list| (list, Origin::Env("PGPORT")))
            });
        let Some((list, origin)) = given else {
            return Ok(vec![DEFAULT_PORT]);
        };
        let ports = list
            .iter()
            .map(|text| {
                if text.trim().is_empty() {
                    Ok(DEFAULT_PORT)
                } else {
                    parse_port(text).ok_or_else(|| {
                        self.invalid(origin, "port", text, "expected a number from 1 to 65535")
                    })
                }
            })
            .collect::<anyhow::Result<Vec<u16>>>()?;
        if ports.len() > 1 && ports.len() != host_count {
            let problem = format!(
                "cannot match {} ports to {} hosts: expected one port, or one per host",
                ports.len(),
                host_count
            );
            return Err(match (origin, hosts_origin) {
                (Origin::Url, Origin::Url) => self.url_error(&problem),
                _ => usage(format!(
                    "{problem} (ports from {}, hosts from {})",
                    self.origin_label(origin),
                    self.origin_label(hosts_origin)
                )),
            });
        }
        Ok(ports)
    }
}

/// The host name libpq matches in the password file: `localhost` for the default socket
/// directory, else the host as given.
fn pgpass_host<'a>(host: &'a str, socket_dir: &str) -> &'a str {
    if host.is_empty() || host == socket_dir || DEFAULT_SOCKET_DIRS.contains(&host) {
        "localhost"
    } else {
        host
    }
}

/// libpq's port check; surrounding blanks are allowed as libpq's integer parser allows them.
fn parse_port(text: &str) -> Option<u16> {
    text.trim().parse::<u16>().ok().filter(|&port| port != 0)
}

/// libpq's `connect_timeout`: 0 or less waits forever, and 1 becomes 2 because libpq insists on
/// two seconds rather than risk giving up almost at once after rounding.
fn parse_timeout(text: &str) -> Option<Option<Duration>> {
    let seconds: i64 = text.trim().parse().ok()?;
    Some(match u64::try_from(seconds) {
        Ok(0) | Err(_) => None,
        Ok(1) => Some(Duration::from_secs(2)),
        Ok(n) => Some(Duration::from_secs(n)),
    })
}
