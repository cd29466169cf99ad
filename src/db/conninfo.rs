//! Parsing a libpq connection string, in either of its forms (`postgresql://` URIs and
//! `key=value` strings), into the parameters it names, still as text and unvalidated: which
//! values win over the `PG*` variables, and what they mean, is for
//! [`settings`](super::settings) to decide. Parameters crm cannot honour are refused here, and
//! every piece of password text met on the way is handed back so that no message echoes it.

/// Splits a comma-separated list as libpq does (no trimming); `None` if every entry is empty.
pub(super) fn list(value: &str) -> Option<Vec<String>> {
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
pub(super) struct Params {
    pub(super) host: Option<Vec<String>>,
    pub(super) hostaddr: Option<Vec<String>>,
    pub(super) port: Option<Vec<String>>,
    pub(super) user: Option<String>,
    pub(super) password: Option<String>,
    pub(super) dbname: Option<String>,
    pub(super) sslmode: Option<String>,
    pub(super) sslrootcert: Option<String>,
    pub(super) connect_timeout: Option<String>,
    pub(super) application_name: Option<String>,
    pub(super) fallback_application_name: Option<String>,
    pub(super) passfile: Option<String>,
    /// A section of the service file (`db::service`), whose settings fill what the string left.
    pub(super) service: Option<String>,
    pub(super) target_session_attrs: Option<String>,
}

/// libpq parameters that crm cannot honour. Refusing them beats silently connecting in a way the
/// user did not ask for.
const UNSUPPORTED: &[&str] = &[
    "options",
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
    "load_balance_hosts",
    "oauth_issuer",
    "oauth_client_id",
    "oauth_client_secret",
    "oauth_scope",
];

impl Params {
    /// Fills what is not set yet from `other`: a service file's settings never replace what
    /// the connection string gave, as in libpq.
    pub(super) fn fill_from(&mut self, other: Params) {
        fn fill<T>(mine: &mut Option<T>, theirs: Option<T>) {
            if mine.is_none() {
                *mine = theirs;
            }
        }
        fill(&mut self.host, other.host);
        fill(&mut self.hostaddr, other.hostaddr);
        fill(&mut self.port, other.port);
        fill(&mut self.user, other.user);
        fill(&mut self.password, other.password);
        fill(&mut self.dbname, other.dbname);
        fill(&mut self.sslmode, other.sslmode);
        fill(&mut self.sslrootcert, other.sslrootcert);
        fill(&mut self.connect_timeout, other.connect_timeout);
        fill(&mut self.application_name, other.application_name);
        fill(
            &mut self.fallback_application_name,
            other.fallback_application_name,
        );
        fill(&mut self.passfile, other.passfile);
        fill(&mut self.service, other.service);
        fill(&mut self.target_session_attrs, other.target_session_attrs);
    }

    /// Stores one parameter; a later value replaces an earlier one, as in libpq.
    pub(super) fn set(&mut self, key: &str, value: String) -> Result<(), String> {
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
            "service" => self.service = non_empty(value),
            "target_session_attrs" => self.target_session_attrs = non_empty(value),
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
pub(super) fn parse_conn_string(s: &str, secrets: &mut Vec<String>) -> Result<Params, String> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::settings::tests::{SOCKETS, settings, try_resolve, url, url_error, usage_error};
    use crate::db::settings::{ConnSettings, Source, SslMode, TargetSessionAttrs};
    use proptest::prelude::*;
    use std::time::Duration;

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
                passwords_by_host: None,
                dbname: "d".into(),
                sslmode: SslMode::VerifyCa,
                sslrootcert: Some("/ca.pem".into()),
                connect_timeout: Some(Duration::from_secs(2)),
                application_name: Some("app".into()),
                target_session_attrs: TargetSessionAttrs::Any,
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
                "postgresql://h/db?target_session_attrs=master",
                "invalid target_session_attrs \"master\": expected one of any, read-write, read-only, primary, standby, prefer-standby",
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
        fn a_password_never_appears_in_an_error(password in "[A-Za-z]{12}", port in "[a-z]{1,5}") {
            let input = format!("postgresql://u:{password}@h:{port}/db");
            if let Err(err) = try_resolve(Some(&input), &[]) {
                let message = format!("{err:#}");
                prop_assert!(!message.contains(&password));
            }
        }
    }
}
