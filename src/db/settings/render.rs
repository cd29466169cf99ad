//! Handing resolved [`ConnSettings`] on: described for messages (never with the password), as a
//! `postgresql://` URL with the password masked, as a tokio-postgres `Config`, and as the libpq
//! variables that give a child tool (`pg_dump`, `psql`) the same connection.

use std::time::Duration;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use super::{
    ConnSettings, DEFAULT_APPLICATION_NAME, DEFAULT_CONNECT_TIMEOUT, SslMode, TargetSessionAttrs,
};

/// Characters left as they are in a URL component; everything else is percent-encoded.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

pub(super) fn encode(text: &str) -> String {
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

    /// For short messages: `db.example.com:5433/crm`, `[::1]:5432/crm`, `a:1,b:2/crm`. Never
    /// the password.
    pub fn place(&self) -> String {
        let hosts: Vec<String> = self
            .hosts
            .iter()
            .enumerate()
            .map(|(i, host)| {
                let port = self.ports.get(i).or(self.ports.first()).copied();
                let host = match host.contains(':') && !host.starts_with('/') {
                    true => format!("[{host}]"),
                    false => host.clone(),
                };
                match port {
                    Some(port) => format!("{host}:{port}"),
                    None => host,
                }
            })
            .collect();
        format!("{}/{}", hosts.join(","), self.dbname)
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
        if self.target_session_attrs != TargetSessionAttrs::Any {
            query.push(format!(
                "target_session_attrs={}",
                self.target_session_attrs
            ));
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
    /// because libpq would otherwise let an inherited one override `PGHOST`; a service's settings
    /// are already in these, and whoever starts the child removes `PGSERVICE`, which would
    /// otherwise rank above them. A `Database`'s settings name the one server it chose among
    /// several hosts, so the child reaches that same server.
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
        // Always set, so that an inherited PGTARGETSESSIONATTRS cannot ask for another server.
        vars.push((
            "PGTARGETSESSIONATTRS",
            self.target_session_attrs.to_string(),
        ));
        vars.into_iter()
            .map(|(name, value)| (name.to_owned(), value))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::settings::tests::url;
    use std::collections::HashMap;

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
    fn place_is_hosts_ports_and_database_without_the_password() {
        assert_eq!(full().place(), "db.example.com:5433/crm");
        assert_eq!(
            url("postgresql://u:Hunter2Secret@a:1,b:2/d").place(),
            "a:1,b:2/d"
        );
        assert_eq!(url("postgresql://u@[::1]:5433/d").place(), "[::1]:5433/d");
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
            "postgresql://u@[::1]:5433,[fe80::1%25eth0],%2Ftmp/d?connect_timeout=1&target_session_attrs=prefer-standby",
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
            ("PGTARGETSESSIONATTRS", "any"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
        assert_eq!(env, expected);

        let plain: HashMap<String, String> =
            url("postgresql://u@a,b:6000/d?target_session_attrs=read-write")
                .child_env()
                .into_iter()
                .collect();
        assert_eq!(plain["PGHOST"], "a,b");
        assert_eq!(plain["PGPORT"], "5432,6000");
        assert_eq!(plain["PGCONNECT_TIMEOUT"], "10");
        assert_eq!(plain["PGAPPNAME"], "crm");
        assert_eq!(plain["PGSSLMODE"], "prefer");
        assert_eq!(plain["PGTARGETSESSIONATTRS"], "read-write");
        assert!(!plain.contains_key("PGPASSWORD") && !plain.contains_key("PGSSLROOTCERT"));
    }
}
