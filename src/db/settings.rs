//! Where to connect: `--database-url`, `DATABASE_URL` and the libpq `PG*` variables (with the
//! password file), merged in SPEC.md's order of precedence and completed with libpq's defaults,
//! because tokio-postgres reads none of them itself. This module owns parsing both libpq
//! connection-string forms (URIs and `key=value` strings), the resulting [`ConnSettings`], and
//! handing them on as a tokio-postgres `Config` or as the environment of child tools. It never
//! connects, and no message or description it makes contains a password.

use std::fmt;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::db::pgpass;
use crate::error::usage;

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
}

impl Source {
    /// How messages name the source.
    pub fn label(self) -> &'static str {
        match self {
            Source::Flag => "--database-url",
            Source::DatabaseUrlEnv => "DATABASE_URL",
            Source::PgEnv => "the PG* environment variables",
            Source::Local => "the local cluster",
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
    pub password: Option<String>,
    pub dbname: String,
    pub sslmode: SslMode,
    pub sslrootcert: Option<PathBuf>,
    /// `None` waits forever (libpq's explicit 0).
    pub connect_timeout: Option<Duration>,
    pub application_name: Option<String>,
    pub source: Source,
}

const DEFAULT_PORT: u16 = 5432;
/// libpq waits forever by default; crm does not, so that a cron job never hangs on a dead host.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const DEFAULT_APPLICATION_NAME: &str = "crm";
/// The default socket directories of Debian's and of upstream's libpq, in the order probed.
const DEFAULT_SOCKET_DIRS: [&str; 2] = ["/var/run/postgresql", "/tmp"];
/// The variables whose presence means a server has been chosen. `PGSSLMODE` and the like alone
/// only tune a connection, so they do not turn the local cluster off.
const SERVER_VARS: [&str; 6] = [
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
    let set = |name: &str| env(name).filter(|value| !value.is_empty());
    let (source, url) = match flag_url {
        Some(url) => (Source::Flag, Some(url.to_owned())),
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
    resolver
        .settings(params, os_user, home, socket_dir)
        .map(Some)
}

/// Where a value came from, so that an error about it names the right thing.
#[derive(Debug, Clone, Copy)]
enum Origin {
    Url,
    Env(&'static str),
    Default,
}

/// Merges a parsed URL with the environment and libpq's defaults.
struct Resolver<'a> {
    source: Source,
    /// Password text seen while parsing (raw and decoded), scrubbed from every message as a last
    /// line of defence against a misparsed URL echoing it.
    secrets: Vec<String>,
    env: &'a dyn Fn(&str) -> Option<String>,
}

impl Resolver<'_> {
    fn var(&self, name: &str) -> Option<String> {
        (self.env)(name).filter(|value| !value.is_empty())
    }

    /// The URL's value if it has one, else the variable's: libpq's variables are defaults under
    /// the connection string.
    fn pick(&self, url: Option<String>, var: &'static str) -> Option<(String, Origin)> {
        url.map(|value| (value, Origin::Url))
            .or_else(|| self.var(var).map(|value| (value, Origin::Env(var))))
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
            Origin::Url | Origin::Default => {
                self.url_error(&format!("invalid {param} \"{value}\": {expected}"))
            }
        }
    }

    fn origin_label(&self, origin: Origin) -> &'static str {
        match origin {
            Origin::Url => self.source.label(),
            Origin::Env(var) => var,
            Origin::Default => "the default",
        }
    }

    fn settings(
        &self,
        url: Params,
        os_user: &str,
        home: Option<&Path>,
        socket_dir: &str,
    ) -> anyhow::Result<(ConnSettings, Vec<String>)> {
        let (hosts, hosts_origin) = self.hosts(url.host, url.hostaddr, socket_dir)?;
        let ports = self.ports(url.port, hosts.len(), hosts_origin)?;
        let user = match self.pick(url.user, "PGUSER") {
            Some((user, _)) => user,
            None if !os_user.is_empty() => os_user.to_owned(),
            None => {
                return Err(usage(
                    "cannot tell which database user to connect as: set PGUSER or put a user name in the database URL",
                ));
            }
        };
        let dbname = self
            .pick(url.dbname, "PGDATABASE")
            .map_or_else(|| user.clone(), |(dbname, _)| dbname);
        let sslmode = match self.pick(url.sslmode, "PGSSLMODE") {
            Some((mode, origin)) => SslMode::parse(&mode)
                .ok_or_else(|| self.invalid(origin, "sslmode", &mode, SSLMODE_EXPECTED))?,
            None => SslMode::Prefer,
        };
        let sslrootcert = self
            .pick(url.sslrootcert, "PGSSLROOTCERT")
            .map(|(path, _)| PathBuf::from(path));
        let connect_timeout = match self.pick(url.connect_timeout, "PGCONNECT_TIMEOUT") {
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
            .pick(url.application_name, "PGAPPNAME")
            .map(|(name, _)| name)
            .or(url.fallback_application_name)
            .unwrap_or_else(|| DEFAULT_APPLICATION_NAME.to_owned());

        let mut warnings = Vec::new();
        let password = match self.pick(url.password, "PGPASSWORD") {
            Some((password, _)) => Some(password),
            None => {
                let file = url
                    .passfile
                    .map(PathBuf::from)
                    .or_else(|| pgpass::default_path(self.env, home));
                match file {
                    Some(file) => {
                        let host = pgpass_host(&hosts, socket_dir);
                        let port = ports.first().copied().unwrap_or(DEFAULT_PORT);
                        let found = pgpass::lookup(&file, host, port, &dbname, &user);
                        warnings.extend(found.warnings);
                        found.password
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
            dbname,
            sslmode,
            sslrootcert,
            connect_timeout,
            application_name: Some(application_name),
            source: self.source,
        };
        Ok((settings, warnings))
    }

    /// The hosts to try. Within one source a host name wins over an address (`hostaddr`), and the
    /// URL's choice wins over the variables', so that a URL naming a server is never redirected
    /// by a stray `PGHOSTADDR`.
    fn hosts(
        &self,
        host: Option<Vec<String>>,
        hostaddr: Option<Vec<String>>,
        socket_dir: &str,
    ) -> anyhow::Result<(Vec<String>, Origin)> {
        // An address is checked even when a host name wins over it, as libpq checks it.
        if let Some(addresses) = &hostaddr {
            self.check_addresses(addresses, Origin::Url)?;
        }
        let chosen = match host.or(hostaddr) {
            Some(list) => Some((list, Origin::Url)),
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
        host_count: usize,
        hosts_origin: Origin,
    ) -> anyhow::Result<Vec<u16>> {
        let given = url_ports.map(|list| (list, Origin::Url)).or_else(|| {
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
fn pgpass_host<'a>(hosts: &'a [String], socket_dir: &str) -> &'a str {
    let first = hosts.first().map_or("", String::as_str);
    if first.is_empty() || first == socket_dir || DEFAULT_SOCKET_DIRS.contains(&first) {
        "localhost"
    } else {
        first
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

/// Splits a comma-separated list as libpq does (no trimming); `None` if every entry is empty.
fn list(value: &str) -> Option<Vec<String>> {
    let items: Vec<String> = value.split(',').map(str::to_owned).collect();
    if items.iter().all(String::is_empty) {
        None
    } else {
        Some(items)
    }
}

fn non_empty(value: String) -> Option<String> {
    (!value.is_empty()).then_some(value)
}

/// The parameters a connection string gave, still as text. An empty value counts as not given,
/// so the matching `PG*` variable or default applies.
#[derive(Debug, Default, PartialEq)]
struct Params {
    host: Option<Vec<String>>,
    hostaddr: Option<Vec<String>>,
    port: Option<Vec<String>>,
    user: Option<String>,
    password: Option<String>,
    dbname: Option<String>,
    sslmode: Option<String>,
    sslrootcert: Option<String>,
    connect_timeout: Option<String>,
    application_name: Option<String>,
    fallback_application_name: Option<String>,
    passfile: Option<String>,
}

/// libpq parameters that crm cannot honour. Refusing them beats silently connecting in a way the
/// user did not ask for.
const UNSUPPORTED: &[&str] = &[
    "options",
    "service",
    "client_encoding",
    "replication",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslcertmode",
    "sslcrl",
    "sslcrldir",
    "sslsni",
    "sslcompression",
    "sslnegotiation",
    "ssl_min_protocol_version",
    "ssl_max_protocol_version",
    "min_protocol_version",
    "max_protocol_version",
    "requirepeer",
    "require_auth",
    "krbsrvname",
    "gsslib",
    "gssdelegation",
    "keepalives",
    "keepalives_idle",
    "keepalives_interval",
    "keepalives_count",
    "tcp_user_timeout",
    "target_session_attrs",
    "load_balance_hosts",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

impl Params {
    /// Stores one parameter; a later value replaces an earlier one, as in libpq.
    fn set(&mut self, key: &str, value: String) -> Result<(), String> {
        match key {
            "host" => self.host = list(&value),
            "hostaddr" => self.hostaddr = list(&value),
            "port" => self.port = list(&value),
            "user" => self.user = non_empty(value),
            "password" => self.password = non_empty(value),
            "dbname" => self.dbname = non_empty(value),
            "sslmode" => self.sslmode = non_empty(value),
            "sslrootcert" => self.sslrootcert = non_empty(value),
            "connect_timeout" => self.connect_timeout = non_empty(value),
            "application_name" => self.application_name = non_empty(value),
            "fallback_application_name" => self.fallback_application_name = non_empty(value),
            "passfile" => self.passfile = non_empty(value),
            // libpq's concession to JDBC URLs.
            "ssl" if value == "true" => self.sslmode = Some("require".to_owned()),
            "ssl" => {
                return Err(format!(
                    "invalid ssl \"{value}\": expected true (or use sslmode)"
                ));
            }
            // Hosted services put these in the URLs they hand out. tokio-postgres already uses
            // channel binding whenever the server offers it, and crm never uses GSSAPI, which is
            // what "prefer" and "disable" amount to without it.
            "channel_binding" if ["disable", "prefer", "require", ""].contains(&value.as_str()) => {
            }
            "channel_binding" => {
                return Err(format!(
                    "invalid channel_binding \"{value}\": expected one of disable, prefer, require"
                ));
            }
            "gssencmode" if ["disable", "prefer", ""].contains(&value.as_str()) => {}
            "gssencmode" => {
                return Err(format!(
                    "gssencmode \"{value}\" is not supported by crm: expected disable or prefer"
                ));
            }
            _ if UNSUPPORTED.contains(&key) => {
                return Err(format!("parameter \"{key}\" is not supported by crm"));
            }
            _ => return Err(format!("unknown parameter \"{key}\"")),
        }
        Ok(())
    }
}

/// Parses a libpq connection string, URI or `key=value` form. Password text met on the way is
/// added to `secrets` before anything can fail, for the caller to scrub from the message.
fn parse_conn_string(s: &str, secrets: &mut Vec<String>) -> Result<Params, String> {
    for scheme in ["postgresql", "postgres"] {
        if let Some(rest) = strip_prefix_ignore_case(s, scheme)
            && let Some(rest) = rest.strip_prefix(':')
        {
            return match rest.strip_prefix("//") {
                Some(rest) => parse_uri(rest, secrets),
                None => Err(format!("missing \"//\" after \"{scheme}:\"")),
            };
        }
    }
    if let Some(end) = s.find("://") {
        let scheme = &s[..end];
        let plausible = scheme.len() <= 32
            && scheme.starts_with(|c: char| c.is_ascii_alphabetic())
            && scheme
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
        if plausible {
            return Err(format!(
                "unsupported scheme \"{scheme}\": expected postgresql:// or postgres://"
            ));
        }
    }
    if s.contains('=') {
        return parse_key_values(s, secrets);
    }
    Err(
        "expected a URL such as postgresql://user@host:5432/dbname, or key=value settings"
            .to_owned(),
    )
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

/// Parses what follows `postgresql://`:
/// `[user[:password]@][host][:port][,host[:port]...][/dbname][?param=value&...]`.
fn parse_uri(rest: &str, secrets: &mut Vec<String>) -> Result<Params, String> {
    let mut params = Params::default();

    // libpq takes the first '@' before the first '/'; the last one is taken here so that an
    // unencoded '@' in a password still parses instead of turning into a host name.
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let mut p = rest;
    let mut suspicious = false;
    if let Some(at) = rest[..authority_end].rfind('@') {
        let userinfo = &rest[..at];
        p = &rest[at + 1..];
        let (user, password) = match userinfo.split_once(':') {
            Some((user, password)) => (user, Some(password)),
            None => (userinfo, None),
        };
        if let Some(password) = password {
            secrets.push(password.to_owned());
            let password = decode(password, "password", true)?;
            secrets.push(password.clone());
            params.password = non_empty(password);
        }
        params.user = non_empty(decode(user, "user name", false)?);
    } else {
        // An '@' only after the first '/' most likely ends a password containing an unencoded
        // '/': what looks like the host and port is then user name and password.
        let path = &rest[authority_end..];
        suspicious = path
            .split('?')
            .next()
            .is_some_and(|path| path.contains('@'));
    }

    let mut hosts = Vec::new();
    let mut ports = Vec::new();
    loop {
        let host;
        if let Some(bracketed) = p.strip_prefix('[') {
            let close = bracketed
                .find(']')
                .ok_or("missing \"]\" after an IPv6 address")?;
            host = &bracketed[..close];
            if host.is_empty() {
                return Err("empty IPv6 address in brackets".to_owned());
            }
            p = &bracketed[close + 1..];
            if let Some(c) = p.chars().next()
                && !":/?,".contains(c)
            {
                return Err(format!(
                    "unexpected \"{c}\" after an IPv6 address: expected \":\", \"/\", \"?\" or \",\""
                ));
            }
        } else {
            let end = p.find([':', '/', '?', ',']).unwrap_or(p.len());
            host = &p[..end];
            p = &p[end..];
        }
        let mut port = "";
        if let Some(after) = p.strip_prefix(':') {
            let end = after.find(['/', '?', ',']).unwrap_or(after.len());
            port = &after[..end];
            p = &after[end..];
        }
        if suspicious {
            secrets.extend([host.to_owned(), port.to_owned()]);
        }
        hosts.push(decode(host, "host", false)?);
        ports.push(decode(port, "port", false)?);
        match p.strip_prefix(',') {
            Some(after) => p = after,
            None => break,
        }
    }
    if hosts.iter().any(|host| !host.is_empty()) {
        params.host = Some(hosts);
    }
    if ports.iter().any(|port| !port.is_empty()) {
        params.port = Some(ports);
    }

    if let Some(path) = p.strip_prefix('/') {
        let end = path.find('?').unwrap_or(path.len());
        params.dbname = non_empty(decode(&path[..end], "database name", false)?);
        p = &path[end..];
    }
    if let Some(query) = p.strip_prefix('?') {
        parse_query(query, &mut params, secrets)?;
    }
    Ok(params)
}

/// Parses `param=value&...`, values percent-decoded. A parameter after the password is not
/// echoed when it is bad: it may be the rest of a password with an unencoded '&'.
fn parse_query(query: &str, params: &mut Params, secrets: &mut Vec<String>) -> Result<(), String> {
    let mut after_password = false;
    for pair in query.split('&').filter(|pair| !pair.is_empty()) {
        match parse_query_pair(pair, params, secrets) {
            Ok(is_password) => after_password = is_password,
            Err(_) if after_password => {
                return Err(
                    "invalid query parameter after the password (percent-encode a \"&\" in a password as %26)"
                        .to_owned(),
                );
            }
            Err(problem) => return Err(problem),
        }
    }
    Ok(())
}

/// Stores one `param=value`; returns whether it was the password.
fn parse_query_pair(
    pair: &str,
    params: &mut Params,
    secrets: &mut Vec<String>,
) -> Result<bool, String> {
    let (raw_key, raw_value) = pair
        .split_once('=')
        .ok_or_else(|| format!("missing \"=\" in query parameter \"{pair}\""))?;
    let key = decode(raw_key, "query parameter name", false)?;
    let is_password = key == "password";
    if is_password {
        secrets.push(raw_value.to_owned());
    }
    if raw_value.contains('=') {
        return Err(format!(
            "extra \"=\" in the value of query parameter \"{key}\" (percent-encode it as %3D)"
        ));
    }
    let value = decode(raw_value, &format!("value of {key}"), is_password)?;
    if is_password {
        secrets.push(value.clone());
    }
    params.set(&key, value)?;
    Ok(is_password)
}

/// Percent-decodes one URI component, strictly: a '%' must start a two-digit escape, `%00` is
/// refused as libpq refuses it, and the result must be UTF-8. A secret's bad escape is not
/// echoed.
fn decode(text: &str, what: &str, secret: bool) -> Result<String, String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] != b'%' {
            out.push(bytes[i]);
            i += 1;
            continue;
        }
        let digits = bytes.get(i + 1..i + 3).and_then(|pair| {
            let high = (pair[0] as char).to_digit(16)?;
            let low = (pair[1] as char).to_digit(16)?;
            u8::try_from(high * 16 + low).ok()
        });
        match digits {
            Some(0) => return Err(format!("\"%00\" is not allowed in the {what}")),
            Some(byte) => out.push(byte),
            None if secret => return Err(format!("invalid percent-encoding in the {what}")),
            None => {
                let escape: String = text[i..].chars().take(3).collect();
                return Err(format!(
                    "invalid percent-encoding \"{escape}\" in the {what}"
                ));
            }
        }
        i += 3;
    }
    String::from_utf8(out).map_err(|_| format!("the {what} is not UTF-8 once percent-decoded"))
}

/// C's `isspace`, which libpq's conninfo parser uses.
fn is_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

/// Parses libpq's `key=value` form: blanks separate settings and may surround '='; a value may be
/// single-quoted; a backslash makes the next character literal, quoted or not.
fn parse_key_values(s: &str, secrets: &mut Vec<String>) -> Result<Params, String> {
    // The setting after a password may really be the rest of an unquoted password with a blank.
    const AFTER_PASSWORD: &str =
        "invalid setting after the password (quote a password containing blanks: password='...')";
    let bytes = s.as_bytes();
    let mut params = Params::default();
    let mut after_password = false;
    let mut i = 0;
    while i < bytes.len() {
        if is_space(bytes[i]) {
            i += 1;
            continue;
        }
        let name_start = i;
        while i < bytes.len() && bytes[i] != b'=' && !is_space(bytes[i]) {
            i += 1;
        }
        // Only ASCII bytes end a name, so these are character boundaries.
        let name = &s[name_start..i];
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        if bytes.get(i) != Some(&b'=') {
            return Err(if after_password {
                AFTER_PASSWORD.to_owned()
            } else {
                format!("missing \"=\" after \"{name}\"")
            });
        }
        i += 1;
        while i < bytes.len() && is_space(bytes[i]) {
            i += 1;
        }
        let mut value = Vec::new();
        if bytes.get(i) == Some(&b'\'') {
            i += 1;
            loop {
                match bytes.get(i) {
                    None => {
                        return Err(if after_password {
                            AFTER_PASSWORD.to_owned()
                        } else {
                            format!("unterminated quoted value of \"{name}\"")
                        });
                    }
                    Some(b'\\') => {
                        if let Some(&next) = bytes.get(i + 1) {
                            value.push(next);
                        }
                        i += 2;
                    }
                    Some(b'\'') => {
                        i += 1;
                        break;
                    }
                    Some(&byte) => {
                        value.push(byte);
                        i += 1;
                    }
                }
            }
        } else {
            while i < bytes.len() && !is_space(bytes[i]) {
                if bytes[i] == b'\\' {
                    if let Some(&next) = bytes.get(i + 1) {
                        value.push(next);
                    }
                    i += 2;
                } else {
                    value.push(bytes[i]);
                    i += 1;
                }
            }
        }
        let value = String::from_utf8_lossy(&value).into_owned();
        let is_password = name == "password";
        if is_password {
            secrets.push(value.clone());
        }
        if let Err(problem) = params.set(name, value) {
            return Err(if after_password {
                AFTER_PASSWORD.to_owned()
            } else {
                problem
            });
        }
        after_password = is_password;
    }
    Ok(params)
}

/// Characters left as they are in a URL component; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn encode(text: &str) -> String {
    utf8_percent_encode(text, COMPONENT).to_string()
}

/// Whole seconds, rounded up so that a sub-second timeout does not become "wait forever".
fn timeout_seconds(timeout: Option<Duration>) -> u64 {
    timeout.map_or(0, |d| d.as_secs() + u64::from(d.subsec_nanos() > 0))
}

impl ConnSettings {
    /// For messages: `database "crm" on host "localhost" port 5432 as user "bob"`. Never the
    /// password.
    pub fn describe(&self) -> String {
        self.describe_database(&self.dbname)
    }

    /// [`Self::describe`] for another database of the same server.
    pub fn describe_database(&self, dbname: &str) -> String {
        format!(
            "database \"{}\" on host \"{}\" port {} as user \"{}\"",
            dbname,
            self.hosts.join(","),
            self.ports_text(),
            self.user
        )
    }

    /// The settings as a `postgresql://` URL with the password, if any, shown as `***`.
    pub fn redacted_url(&self) -> String {
        self.url(self.password.as_ref().map(|_| "***"))
    }

    /// `password` goes into the URL as it is (already encoded, or a mask).
    fn url(&self, password: Option<&str>) -> String {
        let mut url = String::from("postgresql://");
        url.push_str(&encode(&self.user));
        if let Some(password) = password {
            url.push(':');
            url.push_str(password);
        }
        url.push('@');
        for (i, host) in self.hosts.iter().enumerate() {
            if i > 0 {
                url.push(',');
            }
            if host.contains(':') && !host.starts_with('/') {
                url.push('[');
                url.push_str(&host.replace('%', "%25"));
                url.push(']');
            } else {
                url.push_str(&encode(host));
            }
            if let Some(port) = self.ports.get(i).or(self.ports.first()) {
                url.push_str(&format!(":{port}"));
            }
        }
        url.push('/');
        url.push_str(&encode(&self.dbname));

        let mut query = Vec::new();
        if self.sslmode != SslMode::Prefer {
            query.push(format!("sslmode={}", self.sslmode));
        }
        if let Some(path) = &self.sslrootcert {
            query.push(format!("sslrootcert={}", encode(&path.to_string_lossy())));
        }
        if self.connect_timeout != Some(DEFAULT_CONNECT_TIMEOUT) {
            query.push(format!(
                "connect_timeout={}",
                timeout_seconds(self.connect_timeout)
            ));
        }
        if let Some(name) = &self.application_name
            && name != DEFAULT_APPLICATION_NAME
        {
            query.push(format!("application_name={}", encode(name)));
        }
        if !query.is_empty() {
            url.push('?');
            url.push_str(&query.join("&"));
        }
        url
    }

    fn ports_text(&self) -> String {
        let ports: Vec<String> = self.ports.iter().map(u16::to_string).collect();
        ports.join(",")
    }

    /// The settings for tokio-postgres. TLS verification (`verify-ca`, `verify-full`,
    /// `sslrootcert`) is set up by whoever builds the TLS connector; tokio-postgres only knows
    /// whether to try TLS and whether to insist on it.
    pub fn to_pg_config(&self) -> tokio_postgres::Config {
        let mut config = tokio_postgres::Config::new();
        for host in &self.hosts {
            config.host(host);
        }
        for &port in &self.ports {
            config.port(port);
        }
        config.user(&self.user).dbname(&self.dbname);
        if let Some(password) = &self.password {
            config.password(password);
        }
        if let Some(name) = &self.application_name {
            config.application_name(name);
        }
        if let Some(timeout) = self.connect_timeout {
            config.connect_timeout(timeout);
        }
        config.ssl_mode(match self.sslmode {
            SslMode::Disable => tokio_postgres::config::SslMode::Disable,
            SslMode::Allow | SslMode::Prefer => tokio_postgres::config::SslMode::Prefer,
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                tokio_postgres::config::SslMode::Require
            }
        });
        config
    }

    /// The libpq variables that give a child tool (`pg_dump`, `pg_restore`, `psql`) these same
    /// settings, so that no password ever appears on its command line. `PGHOSTADDR` is set empty
    /// because libpq would otherwise let an inherited one override `PGHOST`.
    pub fn child_env(&self) -> Vec<(String, String)> {
        let mut vars = vec![
            ("PGHOST", self.hosts.join(",")),
            ("PGHOSTADDR", String::new()),
            ("PGPORT", self.ports_text()),
            ("PGUSER", self.user.clone()),
        ];
        if let Some(password) = &self.password {
            vars.push(("PGPASSWORD", password.clone()));
        }
        vars.push(("PGDATABASE", self.dbname.clone()));
        vars.push(("PGSSLMODE", self.sslmode.to_string()));
        if let Some(path) = &self.sslrootcert {
            vars.push(("PGSSLROOTCERT", path.to_string_lossy().into_owned()));
        }
        vars.push((
            "PGCONNECT_TIMEOUT",
            timeout_seconds(self.connect_timeout).to_string(),
        ));
        // An empty PGAPPNAME keeps an inherited one from naming the child's session.
        vars.push((
            "PGAPPNAME",
            self.application_name.clone().unwrap_or_default(),
        ));
        vars.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::{Kind, kind_of};
    use proptest::prelude::*;
    use std::collections::HashMap;
    use std::io::Write;

    const SOCKETS: &str = "/run/test-sockets";

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> + use<> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    /// Resolves with no home directory, so no password file is read.
    fn try_resolve(
        flag: Option<&str>,
        pairs: &[(&str, &str)],
    ) -> anyhow::Result<Option<ConnSettings>> {
        let env = env_of(pairs);
        Ok(resolve_with(flag, &env, "osuser", None, SOCKETS)?.map(|(s, _)| s))
    }

    fn settings(flag: Option<&str>, pairs: &[(&str, &str)]) -> ConnSettings {
        try_resolve(flag, pairs).unwrap().expect("settings")
    }

    fn url(url: &str) -> ConnSettings {
        settings(Some(url), &[])
    }

    /// The failure's message, after checking that it is a usage failure (exit 2).
    fn usage_error(flag: Option<&str>, pairs: &[(&str, &str)]) -> String {
        let err = try_resolve(flag, pairs).expect_err("should fail");
        assert_eq!(kind_of(&err), Some(Kind::Usage), "{err:#}");
        format!("{err:#}")
    }

    fn url_error(text: &str) -> String {
        usage_error(Some(text), &[])
    }

    fn defaults(source: Source) -> ConnSettings {
        ConnSettings {
            hosts: vec![SOCKETS.to_owned()],
            ports: vec![5432],
            user: "osuser".to_owned(),
            password: None,
            dbname: "osuser".to_owned(),
            sslmode: SslMode::Prefer,
            sslrootcert: None,
            connect_timeout: Some(Duration::from_secs(10)),
            application_name: Some("crm".to_owned()),
            source,
        }
    }

    // --- what is configured, and precedence ---

    #[test]
    fn nothing_configured_is_none() {
        assert_eq!(try_resolve(None, &[]).unwrap(), None);
        // Empty values count as unset, and tuning variables alone choose no server.
        let pairs = [
            ("DATABASE_URL", ""),
            ("PGHOST", ""),
            ("PGSSLMODE", "require"),
            ("PGCONNECT_TIMEOUT", "5"),
            ("PGAPPNAME", "x"),
            ("PGPASSFILE", "/nonexistent"),
        ];
        assert_eq!(try_resolve(None, &pairs).unwrap(), None);
    }

    #[test]
    fn each_server_variable_alone_is_enough() {
        for var in SERVER_VARS {
            let value = if var == "PGPORT" {
                "5433"
            } else if var == "PGHOSTADDR" {
                "10.0.0.1"
            } else {
                "x"
            };
            let got = settings(None, &[(var, value)]);
            assert_eq!(got.source, Source::PgEnv, "{var}");
        }
    }

    #[test]
    fn flag_wins_over_database_url_which_wins_over_pg_variables() {
        let env = [
            ("DATABASE_URL", "postgresql://envhost/envdb"),
            ("PGHOST", "pghost"),
            ("PGDATABASE", "pgdb"),
        ];
        let got = settings(Some("postgresql://flaghost/flagdb"), &env);
        assert_eq!(
            (got.hosts, got.dbname, got.source),
            (
                vec!["flaghost".to_owned()],
                "flagdb".to_owned(),
                Source::Flag
            )
        );
        let got = settings(None, &env);
        assert_eq!(
            (got.hosts, got.dbname, got.source),
            (
                vec!["envhost".to_owned()],
                "envdb".to_owned(),
                Source::DatabaseUrlEnv
            )
        );
        let got = settings(None, &env[1..]);
        assert_eq!(
            (got.hosts, got.dbname, got.source),
            (vec!["pghost".to_owned()], "pgdb".to_owned(), Source::PgEnv)
        );
    }

    #[test]
    fn url_fields_override_pg_variables_and_pg_variables_fill_gaps() {
        let env = [
            ("PGHOST", "pghost"),
            ("PGPORT", "6000"),
            ("PGUSER", "pguser"),
            ("PGPASSWORD", "pgpass"),
            ("PGDATABASE", "pgdb"),
            ("PGSSLMODE", "require"),
            ("PGSSLROOTCERT", "/etc/ca.pem"),
            ("PGCONNECT_TIMEOUT", "30"),
            ("PGAPPNAME", "nightly"),
        ];
        let full = settings(
            Some(
                "postgresql://u:p@h:7000/d?sslmode=disable&sslrootcert=/r.pem&connect_timeout=5&application_name=a",
            ),
            &env,
        );
        assert_eq!(
            full,
            ConnSettings {
                hosts: vec!["h".into()],
                ports: vec![7000],
                user: "u".into(),
                password: Some("p".into()),
                dbname: "d".into(),
                sslmode: SslMode::Disable,
                sslrootcert: Some("/r.pem".into()),
                connect_timeout: Some(Duration::from_secs(5)),
                application_name: Some("a".into()),
                source: Source::Flag,
            }
        );
        let sparse = settings(Some("postgresql://h"), &env);
        assert_eq!(
            sparse,
            ConnSettings {
                hosts: vec!["h".into()],
                ports: vec![6000],
                user: "pguser".into(),
                password: Some("pgpass".into()),
                dbname: "pgdb".into(),
                sslmode: SslMode::Require,
                sslrootcert: Some("/etc/ca.pem".into()),
                connect_timeout: Some(Duration::from_secs(30)),
                application_name: Some("nightly".into()),
                source: Source::Flag,
            }
        );
    }

    #[test]
    fn libpq_defaults() {
        assert_eq!(url("postgresql://"), defaults(Source::Flag));
        assert_eq!(url("postgres://"), defaults(Source::Flag));
        assert_eq!(settings(None, &[("PGUSER", "bob")]).dbname, "bob");
        let got = settings(None, &[("PGUSER", "bob")]);
        assert_eq!((got.user.as_str(), got.source), ("bob", Source::PgEnv));
    }

    #[test]
    fn the_default_socket_directory_is_probed() {
        let dir = default_socket_dir();
        assert!(DEFAULT_SOCKET_DIRS.contains(&dir));
        if Path::new("/var/run/postgresql").is_dir() {
            assert_eq!(dir, "/var/run/postgresql");
        }
        let env = env_of(&[]);
        let (got, _) = resolve(Some("postgresql://"), &env, "me", None)
            .unwrap()
            .unwrap();
        assert_eq!(got.hosts, vec![dir.to_owned()]);
    }

    #[test]
    fn pghostaddr_is_the_host_only_when_pghost_is_unset() {
        assert_eq!(
            settings(None, &[("PGHOSTADDR", "10.1.2.3")]).hosts,
            vec!["10.1.2.3"]
        );
        let both = settings(None, &[("PGHOSTADDR", "10.1.2.3"), ("PGHOST", "db")]);
        assert_eq!(both.hosts, vec!["db"]);
        // A URL naming a host is not redirected by PGHOSTADDR.
        assert_eq!(
            settings(Some("postgresql://urlhost"), &[("PGHOSTADDR", "10.1.2.3")]).hosts,
            vec!["urlhost"]
        );
        assert_eq!(
            url("postgresql:///db?hostaddr=127.0.0.1").hosts,
            vec!["127.0.0.1"]
        );
        assert_eq!(url("postgresql://h/db?hostaddr=127.0.0.1").hosts, vec!["h"]);
        let message = usage_error(None, &[("PGHOSTADDR", "x"), ("PGHOST", "db")]);
        assert_eq!(
            message,
            "invalid PGHOSTADDR \"x\": expected a numeric IP address"
        );
        let message = usage_error(None, &[("PGHOSTADDR", "db.example.com")]);
        assert_eq!(
            message,
            "invalid PGHOSTADDR \"db.example.com\": expected a numeric IP address"
        );
    }

    #[test]
    fn pg_variables_may_list_several_hosts_and_ports() {
        let got = settings(None, &[("PGHOST", "a,b,"), ("PGPORT", "5433,,5434")]);
        assert_eq!(got.hosts, vec!["a", "b", SOCKETS]);
        assert_eq!(got.ports, vec![5433, 5432, 5434]);
        let got = settings(None, &[("PGHOST", "a,b"), ("PGPORT", "5433")]);
        assert_eq!(got.ports, vec![5433]);
    }

    // --- URI shapes ---

    #[test]
    fn uri_with_every_part() {
        let got = url("postgresql://bob:s3cret@db.example.com:5433/crm?sslmode=verify-full");
        assert_eq!(got.user, "bob");
        assert_eq!(got.password.as_deref(), Some("s3cret"));
        assert_eq!(got.hosts, vec!["db.example.com"]);
        assert_eq!(got.ports, vec![5433]);
        assert_eq!(got.dbname, "crm");
        assert_eq!(got.sslmode, SslMode::VerifyFull);
    }

    #[test]
    fn uri_partial_shapes() {
        let got = url("postgresql://h");
        assert_eq!(
            (got.hosts, got.ports, got.dbname),
            (vec!["h".to_owned()], vec![5432], "osuser".to_owned())
        );
        let got = url("postgresql://h/db");
        assert_eq!(
            (got.hosts, got.dbname),
            (vec!["h".to_owned()], "db".to_owned())
        );
        let got = url("postgresql://u@h");
        assert_eq!(
            (got.user, got.password, got.dbname),
            ("u".to_owned(), None, "u".to_owned())
        );
        let got = url("postgresql://u:@h");
        assert_eq!(got.password, None);
        let got = url("postgresql://:5433/db");
        assert_eq!(
            (got.hosts, got.ports),
            (vec![SOCKETS.to_owned()], vec![5433])
        );
        let got = url("postgresql:///db");
        assert_eq!(
            (got.hosts, got.dbname),
            (vec![SOCKETS.to_owned()], "db".to_owned())
        );
        let got = url("postgresql://h/");
        assert_eq!(got.dbname, "osuser");
        let got = url("POSTGRESQL://h/db");
        assert_eq!(got.hosts, vec!["h"]);
    }

    #[test]
    fn uri_ipv6_hosts() {
        let got = url("postgresql://[::1]:5432/db");
        assert_eq!((got.hosts, got.ports), (vec!["::1".to_owned()], vec![5432]));
        let got = url("postgresql://u@[2001:db8::1]/db");
        assert_eq!(
            (got.hosts, got.ports),
            (vec!["2001:db8::1".to_owned()], vec![5432])
        );
        let got = url("postgresql://[::1]:5433,[::2]/db");
        assert_eq!(
            (got.hosts, got.ports),
            (vec!["::1".to_owned(), "::2".to_owned()], vec![5433, 5432])
        );
        assert!(url_error("postgresql://[::1/db").contains("missing \"]\""));
        assert!(url_error("postgresql://[]/db").contains("empty IPv6 address"));
        assert!(
            url_error("postgresql://[::1]x/db").contains("unexpected \"x\" after an IPv6 address")
        );
    }

    #[test]
    fn uri_socket_directories() {
        let got = url("postgresql://%2Fvar%2Frun%2Fpostgresql/crm");
        assert_eq!(
            (got.hosts, got.dbname),
            (vec!["/var/run/postgresql".to_owned()], "crm".to_owned())
        );
        let got = url("postgresql:///crm?host=/tmp");
        assert_eq!(got.hosts, vec!["/tmp"]);
        let got = url("postgresql://bob@/crm?host=%2Fsrv%2Fcrm%20data&port=5444");
        assert_eq!(
            (got.hosts, got.ports, got.user),
            (
                vec!["/srv/crm data".to_owned()],
                vec![5444],
                "bob".to_owned()
            )
        );
        // A query parameter replaces the host of the authority, as in libpq.
        assert_eq!(url("postgresql://h/db?host=/tmp").hosts, vec!["/tmp"]);
    }

    #[test]
    fn uri_several_hosts() {
        let got = url("postgresql://h1:5432,h2:5433/db");
        assert_eq!(
            (got.hosts, got.ports),
            (vec!["h1".to_owned(), "h2".to_owned()], vec![5432, 5433])
        );
        let got = url("postgresql://h1,h2:6000/db");
        assert_eq!(got.ports, vec![5432, 6000]);
        let got = url("postgresql://h1,h2/db?port=6000");
        assert_eq!((got.hosts.len(), got.ports), (2, vec![6000]));
        let got = url("postgresql:///db?host=a,b&port=1,2");
        assert_eq!(
            (got.hosts, got.ports),
            (vec!["a".to_owned(), "b".to_owned()], vec![1, 2])
        );
        let message = url_error("postgresql://h1/db?port=1,2,3");
        assert_eq!(
            message,
            "invalid database URL (from --database-url): cannot match 3 ports to 1 hosts: expected one port, or one per host"
        );
        let message = usage_error(Some("postgresql://h1/db"), &[("PGPORT", "1,2")]);
        assert!(
            message.contains("ports from PGPORT, hosts from --database-url"),
            "{message}"
        );
    }

    #[test]
    fn uri_percent_decoding() {
        let got = url("postgresql://b%40b:p%40ss%3Aw%2Fd@h/my%20db?application_name=night%20job");
        assert_eq!(got.user, "b@b");
        assert_eq!(got.password.as_deref(), Some("p@ss:w/d"));
        assert_eq!(got.dbname, "my db");
        assert_eq!(got.application_name.as_deref(), Some("night job"));
        // '+' is not a space in libpq's URIs.
        assert_eq!(url("postgresql://h/a+b").dbname, "a+b");
        assert_eq!(url("postgresql://h/%C3%A9t%C3%A9").dbname, "été");
    }

    #[test]
    fn uri_unencoded_at_sign_in_password() {
        let got = url("postgresql://bob:p@ss@h/db");
        assert_eq!(
            (
                got.user.as_str(),
                got.password.as_deref(),
                got.hosts[0].as_str()
            ),
            ("bob", Some("p@ss"), "h")
        );
    }

    #[test]
    fn uri_query_parameters() {
        let got = url(
            "postgresql://h?dbname=d&user=u&password=p&port=6543&sslmode=verify-ca&sslrootcert=%2Fca.pem&connect_timeout=1&application_name=app",
        );
        assert_eq!(
            got,
            ConnSettings {
                hosts: vec!["h".into()],
                ports: vec![6543],
                user: "u".into(),
                password: Some("p".into()),
                dbname: "d".into(),
                sslmode: SslMode::VerifyCa,
                sslrootcert: Some("/ca.pem".into()),
                connect_timeout: Some(Duration::from_secs(2)),
                application_name: Some("app".into()),
                source: Source::Flag,
            }
        );
        assert_eq!(url("postgresql://h?ssl=true").sslmode, SslMode::Require);
        assert_eq!(
            url("postgresql://h?fallback_application_name=x")
                .application_name
                .as_deref(),
            Some("x")
        );
        assert_eq!(
            settings(
                Some("postgresql://h?fallback_application_name=x"),
                &[("PGAPPNAME", "y")]
            )
            .application_name
            .as_deref(),
            Some("y")
        );
        // Empty values and stray '&' change nothing.
        assert_eq!(url("postgresql://h?&sslmode=&"), url("postgresql://h"));
        // Parameters hosted services add.
        assert_eq!(
            url("postgresql://h/d?sslmode=require&channel_binding=require").sslmode,
            SslMode::Require
        );
        assert_eq!(url("postgresql://h/d?gssencmode=disable").hosts, vec!["h"]);
    }

    #[test]
    fn connect_timeout_as_libpq() {
        let timeout =
            |value: &str| url(&format!("postgresql://h?connect_timeout={value}")).connect_timeout;
        assert_eq!(timeout("0"), None);
        assert_eq!(timeout("-3"), None);
        assert_eq!(timeout("1"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("2"), Some(Duration::from_secs(2)));
        assert_eq!(timeout("%2045%20"), Some(Duration::from_secs(45)));
        assert_eq!(
            url("postgresql://h").connect_timeout,
            Some(Duration::from_secs(10))
        );
        assert_eq!(
            settings(None, &[("PGHOST", "h"), ("PGCONNECT_TIMEOUT", "0")]).connect_timeout,
            None
        );
    }

    // --- key=value strings ---

    #[test]
    fn key_value_strings() {
        let got = url("host=localhost port=5433 dbname='my db' user=bob");
        assert_eq!(
            (got.hosts, got.ports, got.dbname, got.user),
            (
                vec!["localhost".to_owned()],
                vec![5433],
                "my db".to_owned(),
                "bob".to_owned()
            )
        );
        let got = url("  password='it\\'s a \\\\ secret'  host = h\tsslmode=require ");
        assert_eq!(got.password.as_deref(), Some("it's a \\ secret"));
        assert_eq!(
            (got.hosts, got.sslmode),
            (vec!["h".to_owned()], SslMode::Require)
        );
        let got = url("dbname=a\\ b user=''");
        assert_eq!((got.dbname.as_str(), got.user.as_str()), ("a b", "osuser"));
        let got = url("host=/tmp,db2 port=1,2");
        assert_eq!(
            (got.hosts, got.ports),
            (vec!["/tmp".to_owned(), "db2".to_owned()], vec![1, 2])
        );
        // Key/value strings fill gaps from the variables just as URIs do.
        assert_eq!(
            settings(Some("dbname=x"), &[("PGHOST", "pg")]).hosts,
            vec!["pg"]
        );
    }

    #[test]
    fn key_value_errors() {
        assert_eq!(
            url_error("host=h dbname"),
            "invalid database URL (from --database-url): missing \"=\" after \"dbname\""
        );
        assert!(url_error("host=h dbname='x").contains("unterminated quoted value of \"dbname\""));
        assert!(url_error("host=h colour=blue").contains("unknown parameter \"colour\""));
        assert!(url_error("host=h port=x").contains("invalid port \"x\""));
    }

    // --- bad input ---

    #[test]
    fn bad_urls_are_usage_errors_naming_the_problem() {
        let cases = [
            (
                "postgresql://h:abc/db",
                "invalid port \"abc\": expected a number from 1 to 65535",
            ),
            ("postgresql://h:0/db", "invalid port \"0\""),
            ("postgresql://h:65536/db", "invalid port \"65536\""),
            ("postgresql://h/db?port=-1", "invalid port \"-1\""),
            (
                "postgresql://h/db?sslmode=strict",
                "invalid sslmode \"strict\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
            ),
            (
                "postgresql://h/db?sslmode=Require",
                "invalid sslmode \"Require\"",
            ),
            (
                "postgresql://h/db?connect_timeout=soon",
                "invalid connect_timeout \"soon\": expected a whole number of seconds",
            ),
            (
                "postgresql://h/db?connect_timeout=1.5",
                "invalid connect_timeout \"1.5\"",
            ),
            (
                "postgresql://h/db?colour=blue",
                "unknown parameter \"colour\"",
            ),
            (
                "postgresql://h/db?options=-c%20x%3Dy",
                "parameter \"options\" is not supported by crm",
            ),
            (
                "postgresql://h/db?target_session_attrs=any",
                "parameter \"target_session_attrs\" is not supported",
            ),
            ("postgresql://h/db?ssl=false", "invalid ssl \"false\""),
            (
                "postgresql://h/db?sslmode",
                "missing \"=\" in query parameter \"sslmode\"",
            ),
            (
                "postgresql://h/db?sslmode=a=b",
                "extra \"=\" in the value of query parameter \"sslmode\"",
            ),
            (
                "postgresql://h/d%zzb",
                "invalid percent-encoding \"%zz\" in the database name",
            ),
            (
                "postgresql://h/db%4",
                "invalid percent-encoding \"%4\" in the database name",
            ),
            (
                "postgresql://h/db%00",
                "\"%00\" is not allowed in the database name",
            ),
            (
                "postgresql://h/db%ff",
                "the database name is not UTF-8 once percent-decoded",
            ),
            (
                "postgresql://u%zz@h/db",
                "invalid percent-encoding \"%zz\" in the user name",
            ),
            ("postgresql:/h/db", "missing \"//\" after \"postgresql:\""),
            ("postgres:h/db", "missing \"//\" after \"postgres:\""),
            (
                "mysql://h/db",
                "unsupported scheme \"mysql\": expected postgresql:// or postgres://",
            ),
            (
                "h:5432/db",
                "expected a URL such as postgresql://user@host:5432/dbname, or key=value settings",
            ),
            (
                "postgresql://h/db?hostaddr=somewhere",
                "invalid hostaddr \"somewhere\": expected a numeric IP address",
            ),
        ];
        for (input, expected) in cases {
            let message = url_error(input);
            assert!(
                message.starts_with("invalid database URL (from --database-url): ")
                    && message.contains(expected),
                "{input}: {message}"
            );
        }
    }

    #[test]
    fn the_message_names_the_source() {
        let message = usage_error(None, &[("DATABASE_URL", "postgresql://u:pw@h:abc/db")]);
        assert_eq!(
            message,
            "invalid database URL (from DATABASE_URL): invalid port \"abc\": expected a number from 1 to 65535"
        );
        assert_eq!(
            url_error(""),
            "invalid database URL (from --database-url): the URL is empty"
        );
    }

    #[test]
    fn bad_pg_variables_are_usage_errors() {
        let cases: [(&[(&str, &str)], &str); 5] = [
            (
                &[("PGPORT", "x")],
                "invalid PGPORT \"x\": expected a number from 1 to 65535",
            ),
            (
                &[("PGHOST", "h"), ("PGPORT", "70000")],
                "invalid PGPORT \"70000\": expected a number from 1 to 65535",
            ),
            (
                &[("PGHOST", "h"), ("PGSSLMODE", "on")],
                "invalid PGSSLMODE \"on\": expected one of disable, allow, prefer, require, verify-ca, verify-full",
            ),
            (
                &[("PGHOST", "h"), ("PGCONNECT_TIMEOUT", "10s")],
                "invalid PGCONNECT_TIMEOUT \"10s\": expected a whole number of seconds (0 to wait forever)",
            ),
            (
                &[("PGHOST", "a,b"), ("PGPORT", "1,2,3")],
                "cannot match 3 ports to 2 hosts: expected one port, or one per host (ports from PGPORT, hosts from PGHOST)",
            ),
        ];
        for (pairs, expected) in cases {
            assert_eq!(usage_error(None, pairs), expected);
        }
        // A bad variable that the URL overrides is never read, as in libpq.
        assert_eq!(
            settings(Some("postgresql://h:1/db"), &[("PGPORT", "x")]).ports,
            vec![1]
        );
    }

    #[test]
    fn error_messages_never_contain_the_password() {
        let cases = [
            "postgresql://bob:Hunter2Secret@h:abc/db",
            "postgresql://bob:Hunter2Secret@h/db?sslmode=nope",
            "postgresql://bob:Hunter2Secret%zz@h/db",
            "postgresql://bob:Hunter2Secret@h/db?colour=x",
            "postgresql://bob:Hunter2Secret@h/db%zz",
            "postgresql://h/db?password=Hunter2Secret%zz",
            "postgresql://h/db?password=Hunter2&Secret",
            "postgresql://h/db?password=Hunter2&Secret=x",
            "postgresql://h/db?password=Hunter2=Secret",
            "postgresql://bob:Hunter2/Secret@h/db",
            "postgresql://bob:Hunter2Secret@h:1,h:2,h:3/db?port=a",
            "host=h password=Hunter2 Secret",
            "host=h password=Hunter2 Secret=x",
            "host=h password='Hunter2Secret",
            "host=h password=Hunter2Secret port=x",
        ];
        for input in cases {
            let message = url_error(input);
            for fragment in ["Hunter2", "Secret"] {
                assert!(!message.contains(fragment), "{input}: {message}");
            }
        }
    }

    #[test]
    fn sslmode_from_str_and_display() {
        for mode in SslMode::ALL {
            assert_eq!(mode.to_string().parse::<SslMode>().unwrap(), mode);
        }
        assert_eq!(SslMode::VerifyFull.to_string(), "verify-full");
        let err = "verify".parse::<SslMode>().unwrap_err();
        assert_eq!(kind_of(&err), Some(Kind::Usage));
        assert_eq!(
            err.to_string(),
            "invalid sslmode \"verify\": expected one of disable, allow, prefer, require, verify-ca, verify-full"
        );
    }

    // --- the password file ---

    struct Home {
        dir: tempfile::TempDir,
    }

    fn home_with_pgpass(contents: &str) -> Home {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".pgpass");
        let mut file = std::fs::File::create(&path).unwrap();
        file.write_all(contents.as_bytes()).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        Home { dir }
    }

    fn with_home(
        home: &Home,
        flag: Option<&str>,
        pairs: &[(&str, &str)],
    ) -> (ConnSettings, Vec<String>) {
        let env = env_of(pairs);
        resolve_with(flag, &env, "osuser", Some(home.dir.path()), SOCKETS)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn pgpass_is_used_only_when_no_password_is_given() {
        let home = home_with_pgpass("db.example.com:5432:crm:bob:from-file\n");
        let (got, warnings) = with_home(&home, Some("postgresql://bob@db.example.com/crm"), &[]);
        assert_eq!(got.password.as_deref(), Some("from-file"));
        assert!(warnings.is_empty());
        let (got, _) = with_home(
            &home,
            Some("postgresql://bob:given@db.example.com/crm"),
            &[],
        );
        assert_eq!(got.password.as_deref(), Some("given"));
        let (got, _) = with_home(
            &home,
            Some("postgresql://bob@db.example.com/crm"),
            &[("PGPASSWORD", "env")],
        );
        assert_eq!(got.password.as_deref(), Some("env"));
        let (got, _) = with_home(&home, Some("postgresql://bob@db.example.com:5433/crm"), &[]);
        assert_eq!(got.password, None);
        // The PG* variables alone use the file as well.
        let pairs = [
            ("PGHOST", "db.example.com"),
            ("PGUSER", "bob"),
            ("PGDATABASE", "crm"),
        ];
        assert_eq!(
            with_home(&home, None, &pairs).0.password.as_deref(),
            Some("from-file")
        );
    }

    #[test]
    fn pgpass_matches_localhost_for_the_default_socket_directory() {
        let home =
            home_with_pgpass("localhost:5432:crm:bob:local\n/srv/sock:5432:crm:bob:custom\n");
        for dir in ["/var/run/postgresql", "/tmp", SOCKETS] {
            let url = format!("postgresql://bob@/crm?host={dir}");
            assert_eq!(
                with_home(&home, Some(&url), &[]).0.password.as_deref(),
                Some("local"),
                "{dir}"
            );
        }
        assert_eq!(
            with_home(&home, Some("postgresql://bob@/crm"), &[])
                .0
                .password
                .as_deref(),
            Some("local")
        );
        let got = with_home(&home, Some("postgresql://bob@/crm?host=/srv/sock"), &[]).0;
        assert_eq!(got.password.as_deref(), Some("custom"));
    }

    #[test]
    fn pgpassfile_and_passfile_choose_the_file() {
        let home = home_with_pgpass("*:*:*:*:home\n");
        let other = home_with_pgpass("*:*:*:*:other\n");
        let other_path = other.dir.path().join(".pgpass");
        let other_path = other_path.to_str().unwrap();
        let got = with_home(&home, Some("postgresql://h"), &[("PGPASSFILE", other_path)]).0;
        assert_eq!(got.password.as_deref(), Some("other"));
        let url = format!("postgresql://h?passfile={}", encode(other_path));
        assert_eq!(
            with_home(&home, Some(&url), &[]).0.password.as_deref(),
            Some("other")
        );
        assert_eq!(
            with_home(&home, Some("postgresql://h"), &[])
                .0
                .password
                .as_deref(),
            Some("home")
        );
    }

    #[cfg(unix)]
    #[test]
    fn pgpass_warnings_are_returned() {
        use std::os::unix::fs::PermissionsExt;
        let home = home_with_pgpass("*:*:*:*:leaked\n");
        let path = home.dir.path().join(".pgpass");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).unwrap();
        let (got, warnings) = with_home(&home, Some("postgresql://h"), &[]);
        assert_eq!(got.password, None);
        assert_eq!(warnings.len(), 1);
        assert!(warnings[0].contains("has group or world access"));
    }

    // --- describing and handing on ---

    fn full() -> ConnSettings {
        url(
            "postgresql://bob:Hunter2Secret@db.example.com:5433/crm?sslmode=verify-full&sslrootcert=/etc/ca%20certs/root.pem&connect_timeout=0&application_name=night%20job",
        )
    }

    #[test]
    fn describe_never_shows_the_password() {
        let got = full();
        assert_eq!(
            got.describe(),
            "database \"crm\" on host \"db.example.com\" port 5433 as user \"bob\""
        );
        let many = url("postgresql://u:Hunter2Secret@a:1,b:2/d");
        assert_eq!(
            many.describe(),
            "database \"d\" on host \"a,b\" port 1,2 as user \"u\""
        );
        let socket = url("postgresql://u@/d?host=/var/run/postgresql");
        assert_eq!(
            socket.describe(),
            "database \"d\" on host \"/var/run/postgresql\" port 5432 as user \"u\""
        );
        assert!(!format!("{}{}", got.describe(), many.describe()).contains("Hunter2"));
    }

    #[test]
    fn redacted_url_masks_the_password() {
        let got = full();
        assert_eq!(
            got.redacted_url(),
            "postgresql://bob:***@db.example.com:5433/crm?sslmode=verify-full&sslrootcert=%2Fetc%2Fca%20certs%2Froot.pem&connect_timeout=0&application_name=night%20job"
        );
        assert_eq!(
            url("postgresql://bob@h/d").redacted_url(),
            "postgresql://bob@h:5432/d"
        );
        assert_eq!(
            url("postgresql://u:x@[::1],%2Ftmp:5433/d").redacted_url(),
            "postgresql://u:***@[::1]:5432,%2Ftmp:5433/d"
        );
    }

    #[test]
    fn the_url_form_parses_back_to_the_same_settings() {
        let shapes = [
            "postgresql://bob:p%40ss%2Fw%3Ad@db.example.com:5433/my%20db?sslmode=verify-full&sslrootcert=/ca.pem&connect_timeout=0&application_name=x",
            "postgresql://u@[::1]:5433,[fe80::1%25eth0],%2Ftmp/d?connect_timeout=1",
            "host=/var/run/postgresql port=6000 user='o\\'brien' dbname=été",
        ];
        for shape in shapes {
            let got = url(shape);
            let password = got.password.as_deref().map(encode);
            let again = url(&got.url(password.as_deref()));
            assert_eq!(again, got, "{shape}");
        }
    }

    #[test]
    fn to_pg_config_carries_everything_tokio_postgres_knows() {
        use tokio_postgres::config::{Host, SslMode as PgSslMode};
        let got = url(
            "postgresql://bob:pw@db:5433,%2Ftmp:5434/crm?application_name=a&connect_timeout=7&sslmode=verify-ca",
        );
        let config = got.to_pg_config();
        assert_eq!(
            config.get_hosts(),
            &[Host::Tcp("db".into()), Host::Unix("/tmp".into())]
        );
        assert_eq!(config.get_ports(), &[5433, 5434]);
        assert_eq!(config.get_user(), Some("bob"));
        assert_eq!(config.get_password(), Some(&b"pw"[..]));
        assert_eq!(config.get_dbname(), Some("crm"));
        assert_eq!(config.get_application_name(), Some("a"));
        assert_eq!(config.get_connect_timeout(), Some(&Duration::from_secs(7)));
        assert_eq!(config.get_ssl_mode(), PgSslMode::Require);
        let modes = [
            (SslMode::Disable, PgSslMode::Disable),
            (SslMode::Allow, PgSslMode::Prefer),
            (SslMode::Prefer, PgSslMode::Prefer),
            (SslMode::Require, PgSslMode::Require),
            (SslMode::VerifyCa, PgSslMode::Require),
            (SslMode::VerifyFull, PgSslMode::Require),
        ];
        for (mode, expected) in modes {
            let settings = ConnSettings {
                sslmode: mode,
                ..got.clone()
            };
            assert_eq!(settings.to_pg_config().get_ssl_mode(), expected);
        }
        let forever = ConnSettings {
            connect_timeout: None,
            password: None,
            application_name: None,
            ..got
        };
        let config = forever.to_pg_config();
        assert_eq!(
            (
                config.get_connect_timeout(),
                config.get_password(),
                config.get_application_name()
            ),
            (None, None, None)
        );
    }

    #[test]
    fn child_env_gives_child_tools_the_same_settings() {
        let env: HashMap<String, String> = full().child_env().into_iter().collect();
        let expected: HashMap<String, String> = [
            ("PGHOST", "db.example.com"),
            ("PGHOSTADDR", ""),
            ("PGPORT", "5433"),
            ("PGUSER", "bob"),
            ("PGPASSWORD", "Hunter2Secret"),
            ("PGDATABASE", "crm"),
            ("PGSSLMODE", "verify-full"),
            ("PGSSLROOTCERT", "/etc/ca certs/root.pem"),
            ("PGCONNECT_TIMEOUT", "0"),
            ("PGAPPNAME", "night job"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);

        let plain: HashMap<String, String> = url("postgresql://u@a,b:6000/d")
            .child_env()
            .into_iter()
            .collect();
        assert_eq!(plain["PGHOST"], "a,b");
        assert_eq!(plain["PGPORT"], "5432,6000");
        assert_eq!(plain["PGCONNECT_TIMEOUT"], "10");
        assert_eq!(plain["PGAPPNAME"], "crm");
        assert_eq!(plain["PGSSLMODE"], "prefer");
        assert!(!plain.contains_key("PGPASSWORD") && !plain.contains_key("PGSSLROOTCERT"));
    }

    proptest! {
        #[test]
        fn arbitrary_strings_never_panic_the_parser(s in any::<String>()) {
            let _ = parse_conn_string(&s, &mut Vec::new());
            let _ = try_resolve(Some(&s), &[]);
        }

        #[test]
        fn arbitrary_uris_never_panic(s in "(postgres(ql)?://)?[a-z0-9@:/?&=%,\\[\\]'\\\\ .]{0,40}") {
            let _ = try_resolve(Some(&s), &[]);
        }

        #[test]
        fn arbitrary_variables_never_panic(
            host in "[a-z0-9,:/.]{0,12}",
            port in "[0-9,a-]{0,8}",
            timeout in "[0-9-]{0,22}",
        ) {
            let pairs = [("PGHOST", host.as_str()), ("PGPORT", port.as_str()), ("PGCONNECT_TIMEOUT", timeout.as_str())];
            let _ = try_resolve(None, &pairs);
        }

        /// Any value in any variable crm reads, with or without a URL, and a `.pgpass` of any
        /// bytes: an error or settings, never a panic.
        #[test]
        fn any_environment_and_password_file_never_panic(
            values in proptest::collection::vec(any::<String>(), 12),
            url in proptest::option::of(any::<String>()),
            pgpass in proptest::collection::vec(any::<u8>(), 0..256),
        ) {
            let names = [
                "DATABASE_URL", "PGHOST", "PGHOSTADDR", "PGPORT", "PGDATABASE", "PGUSER",
                "PGPASSWORD", "PGSSLMODE", "PGSSLROOTCERT", "PGCONNECT_TIMEOUT", "PGAPPNAME",
                "PGPASSFILE",
            ];
            let home = tempfile::tempdir().unwrap();
            let file = home.path().join(".pgpass");
            std::fs::write(&file, &pgpass).unwrap();
            std::fs::set_permissions(&file, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
            let mut pairs: Vec<(&str, &str)> = names
                .iter()
                .copied()
                .zip(values.iter().map(String::as_str))
                .collect();
            let env = env_of(&pairs);
            let _ = resolve_with(url.as_deref(), &env, "osuser", Some(home.path()), SOCKETS);
            // Without PGPASSFILE, the home's .pgpass is read.
            pairs.pop();
            let env = env_of(&pairs);
            let _ = resolve_with(url.as_deref(), &env, "osuser", Some(home.path()), SOCKETS);
        }

        #[test]
        fn a_password_never_appears_in_an_error(password in "[A-Za-z]{12}", port in "[a-z]{1,5}") {
            let input = format!("postgresql://u:{password}@h:{port}/db");
            if let Err(err) = try_resolve(Some(&input), &[]) {
                let message = format!("{err:#}");
                prop_assert!(!message.contains(&password));
            }
        }
    }
}
